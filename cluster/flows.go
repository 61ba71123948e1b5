package cluster

// This file holds dialogue flows as replicated, versioned objects: every
// upload commits a new immutable version (the FSM numbers them), and a
// flow is archived rather than deleted so a call record that names a
// version can always be matched with the script the caller heard.
//
// Keys (inside the state generation):
//
//	fl/<name>                FlowHead (latest version, archive state)
//	fv/<name>\0<ver8>        FlowVersion with its content, ver8 uint64 BE

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MaxFlowSize bounds one flow version's content.
const MaxFlowSize = 1 << 20

// StoredFlowPrefix marks a campaign's or a call's flow reference to the
// flow store: "store:NAME" (the latest version when the call is placed) or
// "store:NAME@N" (version N pinned).
const StoredFlowPrefix = "store:"

// ErrFlowInUse means a flow cannot be archived while a running or paused
// campaign references it.
var ErrFlowInUse = errors.New("cluster: flow is used by an active campaign")

func init() { sentinels[ErrFlowInUse.Error()] = ErrFlowInUse } // keep it across forwarding

var flowNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckFlowName reports whether name can name a stored flow: 1-64
// letters, digits, '.', '_' or '-', starting with a letter or digit (so it
// is also a safe file name).
func CheckFlowName(name string) error {
	if !flowNameRe.MatchString(name) {
		return invalid("flow name %q: want 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// FlowRef is a parsed reference to a stored flow; Version 0 means the
// latest.
type FlowRef struct {
	Name    string
	Version int
}

// String is the reference in its "store:NAME[@N]" form.
func (r FlowRef) String() string {
	if r.Version > 0 {
		return StoredFlowPrefix + r.Name + "@" + strconv.Itoa(r.Version)
	}
	return StoredFlowPrefix + r.Name
}

// ParseFlowRef parses "store:NAME" or "store:NAME@N". ok is false when s
// is not a stored-flow reference at all (a file name or path); err is set
// when it is one but malformed.
func ParseFlowRef(s string) (ref FlowRef, ok bool, err error) {
	rest, ok := strings.CutPrefix(s, StoredFlowPrefix)
	if !ok {
		return FlowRef{}, false, nil
	}
	name, ver, pinned := strings.Cut(rest, "@")
	if err := CheckFlowName(name); err != nil {
		return FlowRef{}, true, err
	}
	ref.Name = name
	if pinned {
		n, err := strconv.Atoi(ver)
		if err != nil || n < 1 || ver != strconv.Itoa(n) {
			return FlowRef{}, true, invalid("flow reference %q: the version after @ must be a positive number", s)
		}
		ref.Version = n
	}
	return ref, true, nil
}

// FlowHead is a stored flow's summary.
type FlowHead struct {
	Name       string
	Latest     int // newest version number
	SHA256     string
	Author     string
	Created    time.Time // first version
	Updated    time.Time // newest version
	Archived   bool      `json:",omitempty"`
	ArchivedAt time.Time `json:",omitzero"`
	ArchivedBy string    `json:",omitempty"`
}

// FlowVersion is one immutable version of a flow.
type FlowVersion struct {
	Name    string
	Version int
	SHA256  string // hex of Content
	Author  string
	At      time.Time
	Content []byte `json:",omitempty"` // left out by listings
}

// PutFlowVersion stores content as the next version of flow Name (the FSM
// numbers it: previous + 1; archived flows are revived and keep counting).
// Content identical to the latest version is a no-op that answers with
// that version (Unchanged). SHA256 must be the hex SHA-256 of Content.
type PutFlowVersion struct {
	Name    string
	Content []byte
	SHA256  string
	Author  string
	At      time.Time
}

// ArchiveFlow hides a flow from listings and from new campaigns; its
// versions stay readable. Refused (ErrFlowInUse) while a running or paused
// campaign references it.
type ArchiveFlow struct {
	Name string
	By   string
	At   time.Time
}

// FlowPutResult answers PutFlowVersion.
type FlowPutResult struct {
	Name      string
	Version   int
	SHA256    string
	Unchanged bool `json:",omitempty"` // identical to the latest: nothing stored
}

// Type implements Command.
func (PutFlowVersion) Type() CommandType { return TypePutFlowVersion }

// Type implements Command.
func (ArchiveFlow) Type() CommandType { return TypeArchiveFlow }

// FlowSHA256 is the hex SHA-256 a PutFlowVersion carries for content.
func FlowSHA256(content []byte) string {
	s := sha256.Sum256(content)
	return hex.EncodeToString(s[:])
}

// Validate implements Command.
func (c PutFlowVersion) Validate() error {
	if err := CheckFlowName(c.Name); err != nil {
		return err
	}
	if len(c.Content) == 0 {
		return invalid("flow %s: Content is empty", c.Name)
	}
	if len(c.Content) > MaxFlowSize {
		return invalid("flow %s: Content is %d bytes, limit %d", c.Name, len(c.Content), MaxFlowSize)
	}
	if c.SHA256 != FlowSHA256(c.Content) {
		return invalid("flow %s: SHA256 %q does not match the content", c.Name, c.SHA256)
	}
	if err := checkID("Author", c.Author); err != nil {
		return err
	}
	return checkReqTime("At", c.At)
}

// Validate implements Command.
func (c ArchiveFlow) Validate() error {
	if err := CheckFlowName(c.Name); err != nil {
		return err
	}
	if err := checkID("By", c.By); err != nil {
		return err
	}
	return checkReqTime("At", c.At)
}

func flowHeadKey(name string) []byte { return key("fl/", name) }

func flowVersionKey(name string, v int) []byte {
	return key("fv/", name, sep, string(u64(uint64(v))))
}

func loadFlowHead(t *tx, name string) (*FlowHead, error) {
	var h FlowHead
	ok, err := t.getJSON(flowHeadKey(name), &h)
	if err != nil || !ok {
		return nil, err
	}
	return &h, nil
}

func loadFlowVersion(t *tx, name string, v int) (*FlowVersion, error) {
	var fv FlowVersion
	ok, err := t.getJSON(flowVersionKey(name, v), &fv)
	if err != nil || !ok {
		return nil, err
	}
	return &fv, nil
}

func applyPutFlowVersion(t *tx, c *PutFlowVersion) (any, error) {
	h, err := loadFlowHead(t, c.Name)
	if err != nil {
		return nil, err
	}
	at := utc(c.At)
	if h != nil && !h.Archived && h.SHA256 == c.SHA256 {
		return FlowPutResult{Name: c.Name, Version: h.Latest, SHA256: h.SHA256, Unchanged: true}, nil
	}
	if h == nil {
		h = &FlowHead{Name: c.Name, Created: at}
	}
	h.Latest++
	h.SHA256, h.Author, h.Updated = c.SHA256, c.Author, at
	h.Archived, h.ArchivedAt, h.ArchivedBy = false, time.Time{}, ""
	fv := FlowVersion{Name: c.Name, Version: h.Latest, SHA256: c.SHA256, Author: c.Author, At: at, Content: c.Content}
	if err := t.putJSON(flowVersionKey(c.Name, fv.Version), fv); err != nil {
		return nil, err
	}
	if err := t.putJSON(flowHeadKey(c.Name), h); err != nil {
		return nil, err
	}
	return FlowPutResult{Name: c.Name, Version: fv.Version, SHA256: fv.SHA256}, nil
}

func applyArchiveFlow(t *tx, c *ArchiveFlow) (any, error) {
	h, err := loadFlowHead(t, c.Name)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return fmt.Errorf("%w: flow %q", ErrNotFound, c.Name), nil
	}
	if h.Archived {
		return nil, nil
	}
	users, err := campaignsUsingFlow(t, c.Name)
	if err != nil {
		return nil, err
	}
	if len(users) > 0 {
		return fmt.Errorf("%w: flow %q is used by campaign %s; stop it first", ErrFlowInUse, c.Name, strings.Join(users, ", ")), nil
	}
	h.Archived, h.ArchivedAt, h.ArchivedBy = true, utc(c.At), c.By
	if err := t.putJSON(flowHeadKey(c.Name), h); err != nil {
		return nil, err
	}
	return nil, nil
}

// campaignFlowRefs lists the stored-flow references of a campaign (its
// flow and its variants' flows).
func campaignFlowRefs(k *Campaign) []string {
	refs := []string{k.FlowID}
	for _, v := range k.Variants {
		refs = append(refs, v.FlowID)
	}
	return refs
}

// campaignsUsingFlow lists running or paused campaigns referencing flow
// name, by ID.
func campaignsUsingFlow(t *tx, name string) ([]string, error) {
	var out []string
	err := t.scan(key("c/"), nil, false, func(_, v []byte) (bool, error) {
		var k Campaign
		if err := jsonUnmarshal(v, &k); err != nil {
			return false, err
		}
		if k.State != CampaignRunning && k.State != CampaignPaused {
			return true, nil
		}
		for _, s := range campaignFlowRefs(&k) {
			if ref, ok, err := ParseFlowRef(s); ok && err == nil && ref.Name == name {
				out = append(out, k.ID)
				break
			}
		}
		return true, nil
	})
	return out, err
}

// checkCampaignFlows rejects a new campaign whose stored-flow references
// are malformed or name a missing or archived flow or version. It is the
// FSM's check, so no box can create a campaign around a flow that another
// box archived a moment earlier.
func checkCampaignFlows(t *tx, k *Campaign) (error, error) {
	for _, s := range campaignFlowRefs(k) {
		ref, ok, err := ParseFlowRef(s)
		if !ok {
			continue
		}
		if err != nil {
			return err, nil
		}
		h, err := loadFlowHead(t, ref.Name)
		if err != nil {
			return nil, err
		}
		switch {
		case h == nil:
			return fmt.Errorf("%w: campaign %q: no stored flow %q (upload it with PUT /v1/flows/%s)", ErrNotFound, k.ID, ref.Name, ref.Name), nil
		case h.Archived:
			return fmt.Errorf("%w: campaign %q: flow %q is archived", ErrNotFound, k.ID, ref.Name), nil
		case ref.Version > h.Latest:
			return fmt.Errorf("%w: campaign %q: flow %q has no version %d (latest %d)", ErrNotFound, k.ID, ref.Name, ref.Version, h.Latest), nil
		}
	}
	return nil, nil
}

// FlowHeads lists stored flows by name; archived ones only when asked.
func (f *FSM) FlowHeads(archived bool) ([]FlowHead, error) {
	var out []FlowHead
	err := f.view(func(t *tx) error {
		return t.scan(key("fl/"), nil, false, func(_, v []byte) (bool, error) {
			var h FlowHead
			if err := jsonUnmarshal(v, &h); err != nil {
				return false, err
			}
			if archived || !h.Archived {
				out = append(out, h)
			}
			return true, nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// FlowHead reads one flow's summary (archived too).
func (f *FSM) FlowHead(name string) (FlowHead, bool, error) {
	return viewOne(f, func(t *tx) (*FlowHead, error) { return loadFlowHead(t, name) })
}

// FlowVersion reads one version with its content; version 0 is the latest.
func (f *FSM) FlowVersion(name string, version int) (FlowVersion, bool, error) {
	return viewOne(f, func(t *tx) (*FlowVersion, error) {
		if version <= 0 {
			h, err := loadFlowHead(t, name)
			if err != nil || h == nil {
				return nil, err
			}
			version = h.Latest
		}
		return loadFlowVersion(t, name, version)
	})
}

// FlowVersions lists a flow's versions, newest first, without content.
func (f *FSM) FlowVersions(name string) ([]FlowVersion, error) {
	var out []FlowVersion
	err := f.view(func(t *tx) error {
		return t.scan(key("fv/", name, sep), nil, true, func(_, v []byte) (bool, error) {
			var fv FlowVersion
			if err := jsonUnmarshal(v, &fv); err != nil {
				return false, err
			}
			fv.Content = nil
			out = append(out, fv)
			return true, nil
		})
	})
	return out, err
}

// FlowHeads lists stored flows (see FSM.FlowHeads).
func (n *Node) FlowHeads(archived bool) ([]FlowHead, error) { return n.fsm.FlowHeads(archived) }

// FlowHead reads one flow's summary.
func (n *Node) FlowHead(name string) (FlowHead, bool, error) { return n.fsm.FlowHead(name) }

// FlowVersion reads one flow version with content (0: latest).
func (n *Node) FlowVersion(name string, version int) (FlowVersion, bool, error) {
	return n.fsm.FlowVersion(name, version)
}

// FlowVersions lists a flow's versions, newest first.
func (n *Node) FlowVersions(name string) ([]FlowVersion, error) { return n.fsm.FlowVersions(name) }

// PutFlow commits c and returns the version stored (or the unchanged
// latest).
func (n *Node) PutFlow(ctx context.Context, c PutFlowVersion) (FlowPutResult, error) {
	res, err := n.Apply(ctx, c)
	if err != nil {
		return FlowPutResult{}, err
	}
	return asResult[FlowPutResult](res)
}

// asResult converts an Apply answer to T: the value itself on the leader,
// or its JSON when the command was forwarded to another box.
func asResult[T any](res any) (T, error) {
	var out T
	switch v := res.(type) {
	case T:
		return v, nil
	case json.RawMessage:
		if err := json.Unmarshal(v, &out); err != nil {
			return out, fmt.Errorf("cluster: decode forwarded %T answer: %w", out, err)
		}
		return out, nil
	case nil:
		return out, nil
	}
	return out, fmt.Errorf("cluster: unexpected answer %T, want %T", res, out)
}
