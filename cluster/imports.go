package cluster

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"
)

// ImportContacts adds contacts to a campaign in one entry, all or nothing.
// For more than MaxChunkContacts use ImportChunk + CommitImport.
type ImportContacts struct {
	CampaignID string
	ImportID   string
	Contacts   []Contact
	At         time.Time
}

// ImportChunk stages part of an import under ImportID. Chunks are numbered
// from 0 without gaps; resending an identical chunk is a no-op. Staged
// contacts are invisible until CommitImport.
type ImportChunk struct {
	ImportID   string
	CampaignID string
	Seq        int
	Contacts   []Contact
}

// CommitImport makes all staged chunks of an import visible at once.
// Chunks is the number of chunks the client sent; a mismatch (a lost
// chunk) rejects the commit. Committing an already committed import again
// is a no-op that returns the same count.
type CommitImport struct {
	ImportID string
	Chunks   int
	At       time.Time
}

// AbortImport drops a staged import. For an import staged with
// StageContacts it removes AbortStepChunks chunks per command and returns
// the number of chunks left (an int): repeat until 0 (or ErrNotFound).
// The aborted import stays invisible throughout.
type AbortImport struct{ ImportID string }

// Type implements Command.
func (ImportContacts) Type() CommandType { return TypeImportContacts }

// Type implements Command.
func (ImportChunk) Type() CommandType { return TypeImportChunk }

// Type implements Command.
func (CommitImport) Type() CommandType { return TypeCommitImport }

// Type implements Command.
func (AbortImport) Type() CommandType { return TypeAbortImport }

func validateContactList(cs []Contact) error {
	if len(cs) == 0 {
		return invalid("Contacts is empty")
	}
	if len(cs) > MaxChunkContacts {
		return invalid("Contacts has %d entries, limit %d per command", len(cs), MaxChunkContacts)
	}
	seen := make(map[string]bool, len(cs))
	for i := range cs {
		if err := validateNewContact(fmt.Sprintf("Contacts[%d]", i), &cs[i]); err != nil {
			return err
		}
		if seen[cs[i].ID] {
			return invalid("Contacts[%d].ID %q is duplicated", i, cs[i].ID)
		}
		seen[cs[i].ID] = true
	}
	return nil
}

// Validate implements Command.
func (c ImportContacts) Validate() error {
	if err := checkID("CampaignID", c.CampaignID); err != nil {
		return err
	}
	if err := checkID("ImportID", c.ImportID); err != nil {
		return err
	}
	if err := checkReqTime("At", c.At); err != nil {
		return err
	}
	return validateContactList(c.Contacts)
}

// Validate implements Command.
func (c ImportChunk) Validate() error {
	if err := checkID("ImportID", c.ImportID); err != nil {
		return err
	}
	if err := checkID("CampaignID", c.CampaignID); err != nil {
		return err
	}
	if c.Seq < 0 || c.Seq >= MaxImportContacts {
		return invalid("Seq %d out of range", c.Seq)
	}
	return validateContactList(c.Contacts)
}

// Validate implements Command.
func (c CommitImport) Validate() error {
	if err := checkID("ImportID", c.ImportID); err != nil {
		return err
	}
	if c.Chunks < 1 {
		return invalid("Chunks %d: want at least 1", c.Chunks)
	}
	return checkReqTime("At", c.At)
}

// Validate implements Command.
func (c AbortImport) Validate() error { return checkID("ImportID", c.ImportID) }

// importHeader is the staging header of an import in progress.
type importHeader struct {
	CampaignID string
	Chunks     int
	Contacts   int
}

// importDone records a committed import (for idempotent re-commits).
type importDone struct {
	CampaignID string
	Contacts   int
	At         time.Time
}

func importKey(id string) []byte     { return key("i/", id) }
func importDoneKey(id string) []byte { return key("id/", id) }
func importChunkKey(id string, seq int) []byte {
	return key("ic/", id, sep, string(u32(uint32(seq))))
}

func campaignAcceptsContacts(k *Campaign) error {
	switch k.State {
	case CampaignStopped, CampaignArchived:
		return fmt.Errorf("%w: campaign %q is %s", ErrCampaignNotActive, k.ID, k.State)
	}
	return nil
}

func applyImportChunk(t *tx, c *ImportChunk) (any, error) {
	if ok, err := t.has(importDoneKey(c.ImportID)); err != nil {
		return nil, err
	} else if ok {
		return fmt.Errorf("%w: import %q is already committed", ErrExists, c.ImportID), nil
	}
	if ok, err := t.has(importStateKey(c.ImportID)); err != nil {
		return nil, err
	} else if ok {
		return fmt.Errorf("%w: import %q is being staged with StageContacts", ErrImportConflict, c.ImportID), nil
	}
	k, err := loadCampaign(t, c.CampaignID)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return fmt.Errorf("%w: campaign %q", ErrNotFound, c.CampaignID), nil
	}
	if err := campaignAcceptsContacts(k); err != nil {
		return err, nil
	}
	var h importHeader
	if _, err := t.getJSON(importKey(c.ImportID), &h); err != nil {
		return nil, err
	}
	if h.Chunks > 0 && h.CampaignID != c.CampaignID {
		return fmt.Errorf("%w: import %q is for campaign %q, chunk says %q", ErrImportConflict, c.ImportID, h.CampaignID, c.CampaignID), nil
	}
	body, err := json.Marshal(c.Contacts)
	if err != nil {
		return nil, storeErr(err)
	}
	if c.Seq < h.Chunks {
		var prev json.RawMessage
		if _, err := t.getJSON(importChunkKey(c.ImportID, c.Seq), &prev); err != nil {
			return nil, err
		}
		if bytes.Equal(prev, body) {
			return nil, nil // identical resend
		}
		return fmt.Errorf("%w: import %q chunk %d was already staged with different contacts", ErrImportConflict, c.ImportID, c.Seq), nil
	}
	if c.Seq != h.Chunks {
		return fmt.Errorf("%w: import %q expects chunk %d, got %d", ErrImportConflict, c.ImportID, h.Chunks, c.Seq), nil
	}
	if h.Contacts+len(c.Contacts) > MaxImportContacts {
		return fmt.Errorf("%w: import %q would exceed %d contacts; commit it and start another import", ErrCommandTooLarge, c.ImportID, MaxImportContacts), nil
	}
	h.CampaignID = c.CampaignID
	h.Chunks++
	h.Contacts += len(c.Contacts)
	if err := t.putRaw(importChunkKey(c.ImportID, c.Seq), body); err != nil {
		return nil, err
	}
	return nil, t.putJSON(importKey(c.ImportID), &h)
}

func applyCommitImport(t *tx, c *CommitImport) (any, error) {
	var done importDone
	if ok, err := t.getJSON(importDoneKey(c.ImportID), &done); err != nil {
		return nil, err
	} else if ok {
		return done.Contacts, nil
	}
	var st importState
	if ok, err := t.getJSON(importStateKey(c.ImportID), &st); err != nil {
		return nil, err
	} else if ok {
		return commitStaged(t, c, &st)
	}
	var h importHeader
	ok, err := t.getJSON(importKey(c.ImportID), &h)
	if err != nil {
		return nil, err
	}
	if !ok {
		return fmt.Errorf("%w: import %q has no staged chunks", ErrNotFound, c.ImportID), nil
	}
	if h.Chunks != c.Chunks {
		return fmt.Errorf("%w: import %q has %d staged chunks, commit says %d", ErrImportConflict, c.ImportID, h.Chunks, c.Chunks), nil
	}
	var all []Contact
	for seq := 0; seq < h.Chunks; seq++ {
		var cs []Contact
		if ok, err := t.getJSON(importChunkKey(c.ImportID, seq), &cs); err != nil {
			return nil, err
		} else if !ok {
			return fmt.Errorf("%w: import %q chunk %d is missing", ErrImportConflict, c.ImportID, seq), nil
		}
		all = append(all, cs...)
	}
	resp, err := commitContacts(t, h.CampaignID, c.ImportID, all, c.At)
	if err != nil {
		return nil, err
	}
	if _, rejected := resp.(error); rejected {
		return resp, nil
	}
	for seq := 0; seq < h.Chunks; seq++ {
		if err := t.del(importChunkKey(c.ImportID, seq)); err != nil {
			return nil, err
		}
	}
	return resp, t.del(importKey(c.ImportID))
}

func applyImportContacts(t *tx, c *ImportContacts) (any, error) {
	var done importDone
	if ok, err := t.getJSON(importDoneKey(c.ImportID), &done); err != nil {
		return nil, err
	} else if ok {
		return fmt.Errorf("%w: import %q is already committed", ErrExists, c.ImportID), nil
	}
	for _, k := range [][]byte{importKey(c.ImportID), importStateKey(c.ImportID)} {
		if ok, err := t.has(k); err != nil {
			return nil, err
		} else if ok {
			return fmt.Errorf("%w: import %q is being staged in chunks", ErrImportConflict, c.ImportID), nil
		}
	}
	return commitContacts(t, c.CampaignID, c.ImportID, c.Contacts, c.At)
}

// commitContacts validates the whole list against current state, then
// writes every contact. It returns the count, or a rejection before any write.
func commitContacts(t *tx, campID, importID string, cs []Contact, at time.Time) (any, error) {
	k, err := loadCampaign(t, campID)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return fmt.Errorf("%w: campaign %q", ErrNotFound, campID), nil
	}
	if err := campaignAcceptsContacts(k); err != nil {
		return err, nil
	}
	if len(cs) > MaxImportContacts {
		return fmt.Errorf("%w: import %q has %d contacts, limit %d", ErrCommandTooLarge, importID, len(cs), MaxImportContacts), nil
	}
	seen := make(map[string]bool, len(cs))
	for i := range cs {
		id := cs[i].ID
		if seen[id] {
			return fmt.Errorf("%w: import %q lists contact %q twice", ErrImportConflict, importID, id), nil
		}
		seen[id] = true
		if ok, err := t.has(contactKey(campID, id)); err != nil {
			return nil, err
		} else if ok {
			return fmt.Errorf("%w: import %q: contact %q already exists in campaign %q", ErrImportConflict, importID, id, campID), nil
		}
	}
	for i := range cs {
		c := cs[i]
		c.CampaignID = campID
		c.ImportID = importID
		c.NextAttemptAt = utc(c.NextAttemptAt)
		c.State = ContactPending
		dnc, err := isDNC(t, c.Phone, campID)
		if err != nil {
			return nil, err
		}
		if dnc {
			c.State = ContactDNC
		}
		if err := saveContact(t, k, nil, &c); err != nil {
			return nil, err
		}
	}
	k.UpdatedAt = utc(at)
	if err := saveCampaign(t, k); err != nil {
		return nil, err
	}
	if err := t.putJSON(importDoneKey(importID), &importDone{CampaignID: campID, Contacts: len(cs), At: utc(at)}); err != nil {
		return nil, err
	}
	return len(cs), nil
}

func applyAbortImport(t *tx, c *AbortImport) (any, error) {
	var st importState
	if ok, err := t.getJSON(importStateKey(c.ImportID), &st); err != nil {
		return nil, err
	} else if ok {
		return abortStaged(t, c, &st)
	}
	var h importHeader
	ok, err := t.getJSON(importKey(c.ImportID), &h)
	if err != nil {
		return nil, err
	}
	if !ok {
		return fmt.Errorf("%w: import %q has no staged chunks", ErrNotFound, c.ImportID), nil
	}
	for seq := 0; seq < h.Chunks; seq++ {
		if err := t.del(importChunkKey(c.ImportID, seq)); err != nil {
			return nil, err
		}
	}
	return nil, t.del(importKey(c.ImportID))
}

// StagedImports lists import IDs with staged, uncommitted chunks (both
// kinds, including aborted imports not yet fully removed).
func (f *FSM) StagedImports() ([]string, error) {
	var out []string
	err := f.view(func(t *tx) error {
		for _, p := range []string{"i/", "ih/"} {
			err := t.scan(key(p), nil, false, func(k, _ []byte) (bool, error) {
				out = append(out, string(k[len(p):]))
				return true, nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// Staged imports of any size (StageContacts).
//
// A file is one import however large. StageContacts writes each chunk's
// contacts straight into their final keys ("k/", "kp/") with their due
// entries in the import's own due index ("kdi/<import>"), after checking
// every contact against the campaign and the DNC lists inside the FSM.
// While the import's state key "ih/<import>" exists the contacts are
// invisible: loadContact, Contacts and DueContacts skip them and the
// campaign's counters do not count them. CommitImport is then one small
// transaction: it deletes the state key and the chunk records, adds the
// import's due index to the campaign's partitions ("kdp/<camp>\0<import>")
// and adds the count to the counters, so a crash leaves either nothing or
// everything of the import visible. AbortImport marks the import aborted
// (still invisible) and removes its contacts AbortStepChunks chunks per
// command; a contact of an aborted import is free to be staged again.
//
//	d<gen>ih/<import>              importState (staging or aborted)
//	d<gen>ihc/<import>\0<seq4>     stagedChunk (fingerprint, staged IDs, rejections)
//	d<gen>kdi/<import>\0<cb1><val8><t8><id>  due entries of untouched staged contacts
//	d<gen>kdp/<camp>\0<import>     committed imports whose due index is merged by DueContacts

// Limits of staged imports.
const (
	// MaxStageContacts bounds the contacts of one StageContacts (one raft
	// entry of about 1.7 MB at typical widths, well under MaxCommandSize).
	MaxStageContacts = 5000
	// MaxImportChunks bounds the chunks of one import (CommitImport deletes
	// every chunk record in its transaction): 50 million contacts.
	MaxImportChunks = 10000
	// AbortStepChunks is how many chunks one AbortImport removes.
	AbortStepChunks = 4
)

// Reasons a staged contact is refused (StageResult.Rejected).
const (
	RejectDuplicate = "duplicate" // already in the campaign, or in another import in progress
	RejectDNC       = "dnc"       // on the global or the campaign's DNC list
)

// StageContacts stages one chunk of an import. Chunks may arrive in any
// order (they are numbered from 0 by Seq, so an importer can pipeline
// them); resending a chunk with the same contacts returns the first
// result. Each contact is checked at apply time: one already in the
// campaign (or staged by another import) or on a DNC list is not staged
// and is listed in the result. Nothing is visible before CommitImport.
//
// The contacts travel as Rows, a compact binary encoding (EncodeRows;
// base64 in the entry's JSON): a million-contact import is about 110 MB
// of raft log instead of 250 MB of JSON, and decodes several times
// faster on every member. Build the command with NewStageContacts.
type StageContacts struct {
	ImportID   string
	CampaignID string
	Seq        int
	Count      int    // contacts in Rows
	Rows       []byte // EncodeRows
}

// NewStageContacts builds a StageContacts for cs (validated by Validate).
func NewStageContacts(importID, campaignID string, seq int, cs []Contact) (StageContacts, error) {
	rows, err := EncodeRows(cs)
	if err != nil {
		return StageContacts{}, err
	}
	return StageContacts{ImportID: importID, CampaignID: campaignID, Seq: seq, Count: len(cs), Rows: rows}, nil
}

// Contacts decodes the command's rows.
func (c StageContacts) Contacts() ([]Contact, error) { return DecodeRows(c.Rows, c.Count) }

// Row encoding: per contact, uvarint-length-prefixed ID, Phone, Name and
// Timezone, the Value's IEEE bits (8 bytes BE), a flags byte (1: a
// NextAttemptAt follows as a varint of Unix nanoseconds; 2: Callback),
// then the Profile as a uvarint count and key/value pairs in ascending key
// order. Only these import fields travel; the rest must be zero.
const (
	rowHasNext  = 1
	rowCallback = 2
)

// EncodeRows encodes contacts for StageContacts.
func EncodeRows(cs []Contact) ([]byte, error) {
	b := make([]byte, 0, 96*len(cs))
	var keys []string
	for i := range cs {
		c := &cs[i]
		if c.CampaignID != "" || c.State != "" && c.State != ContactPending || c.Attempts != 0 || c.LastDisposition != "" ||
			c.Token != 0 || c.LastAttemptID != "" || c.ImportID != "" || c.ResumeNode != "" || !c.CallbackBy.IsZero() || c.DueIn != "" {
			return nil, invalid("Contacts[%d]: only ID, Phone, Name, Profile, Timezone, Value, NextAttemptAt and Callback may be set on import", i)
		}
		if err := checkTime(fmt.Sprintf("Contacts[%d].NextAttemptAt", i), c.NextAttemptAt); err != nil {
			return nil, err
		}
		for _, s := range []string{c.ID, c.Phone, c.Name, c.Timezone} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(c.Value))
		var flags byte
		if !c.NextAttemptAt.IsZero() {
			flags |= rowHasNext
		}
		if c.Callback {
			flags |= rowCallback
		}
		b = append(b, flags)
		if flags&rowHasNext != 0 {
			b = binary.AppendVarint(b, c.NextAttemptAt.UnixNano())
		}
		keys = keys[:0]
		for k := range c.Profile {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, k := range keys {
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
			b = binary.AppendUvarint(b, uint64(len(c.Profile[k])))
			b = append(b, c.Profile[k]...)
		}
	}
	return b, nil
}

// DecodeRows decodes exactly n contacts from b. Anything else — short or
// trailing bytes, non-canonical varints, unsorted or repeated profile keys,
// unknown flags — is an error wrapping ErrInvalidCommand, so every
// accepted encoding is the one EncodeRows gives.
func DecodeRows(b []byte, n int) ([]Contact, error) {
	if n < 0 || n > MaxStageContacts {
		return nil, invalid("Count %d: want 0..%d", n, MaxStageContacts)
	}
	r := rowReader{b: b}
	out := make([]Contact, n)
	for i := range out {
		c := &out[i]
		c.ID, c.Phone, c.Name, c.Timezone = r.str(), r.str(), r.str(), r.str()
		c.Value = math.Float64frombits(r.u64())
		flags := r.byte()
		if flags&^(rowHasNext|rowCallback) != 0 {
			r.fail()
		}
		if flags&rowHasNext != 0 {
			c.NextAttemptAt = time.Unix(0, r.varint()).UTC()
			if c.NextAttemptAt.IsZero() {
				r.fail()
			}
		}
		c.Callback = flags&rowCallback != 0
		np := r.uvarint()
		if np > MaxMapEntries {
			r.fail()
		}
		prev := ""
		for j := uint64(0); j < np && r.err == nil; j++ {
			k, v := r.str(), r.str()
			if c.Profile == nil {
				c.Profile = make(map[string]string, np)
			} else if k <= prev {
				r.fail()
			}
			c.Profile[k], prev = v, k
		}
		if r.err != nil {
			return nil, invalid("Rows: contact %d is malformed", i)
		}
	}
	if len(r.b) != 0 {
		return nil, invalid("Rows: %d bytes after %d contacts", len(r.b), n)
	}
	return out, nil
}

// rowReader reads canonical varints and strings; the first problem sticks.
type rowReader struct {
	b   []byte
	err error
}

func (r *rowReader) fail() {
	if r.err == nil {
		r.err = ErrInvalidCommand
	}
	r.b = nil
}

func (r *rowReader) uvarint() uint64 {
	v, k := binary.Uvarint(r.b)
	if k <= 0 || k != len(binary.AppendUvarint(nil, v)) {
		r.fail()
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *rowReader) varint() int64 {
	v, k := binary.Varint(r.b)
	if k <= 0 || k != len(binary.AppendVarint(nil, v)) {
		r.fail()
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *rowReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *rowReader) u64() uint64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *rowReader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// RowReject is one contact StageContacts refused: Index into the chunk's
// Contacts and a Reject* reason.
type RowReject struct {
	Index  int
	Reason string
}

// StageResult is StageContacts' response.
type StageResult struct {
	Seq      int
	Staged   int
	Rejected []RowReject `json:",omitempty"`
}

// Type implements Command.
func (StageContacts) Type() CommandType { return TypeStageContacts }

// Validate implements Command.
func (c StageContacts) Validate() error {
	if err := checkID("ImportID", c.ImportID); err != nil {
		return err
	}
	if err := checkID("CampaignID", c.CampaignID); err != nil {
		return err
	}
	if c.Seq < 0 || c.Seq >= MaxImportChunks {
		return invalid("Seq %d: want 0..%d", c.Seq, MaxImportChunks-1)
	}
	if c.Count < 1 || c.Count > MaxStageContacts {
		return invalid("Count %d: want 1..%d contacts per command", c.Count, MaxStageContacts)
	}
	cs, err := c.Contacts()
	if err != nil {
		return err
	}
	return validateStagedList(cs)
}

func validateStagedList(cs []Contact) error {
	seen := make(map[string]bool, len(cs))
	zones := map[string]bool{}
	for i := range cs {
		ct := &cs[i]
		if err := validateStagedContact(ct, zones); err != nil {
			// the field name is built only for the message
			if err := validateNewContact(fmt.Sprintf("Contacts[%d]", i), ct); err != nil {
				return err
			}
			return invalid("Contacts[%d] is not a valid new contact", i)
		}
		if seen[ct.ID] {
			return invalid("Contacts[%d].ID %q is duplicated", i, ct.ID)
		}
		seen[ct.ID] = true
	}
	return nil
}

// validateStagedContact is validateNewContact without building field
// names (a million calls per import); zones caches time-zone names found
// valid. On a non-nil error the caller asks validateNewContact for the
// message.
func validateStagedContact(c *Contact, zones map[string]bool) error {
	if c.Timezone != "" && !zones[c.Timezone] {
		if len(c.Timezone) > 64 || !tzRe.MatchString(c.Timezone) {
			return ErrInvalidCommand
		}
		zones[c.Timezone] = true
	}
	if checkID("", c.ID) != nil || checkE164("", c.Phone) != nil || checkText("", c.Name) != nil ||
		checkMap("", c.Profile) != nil || checkFinite("", c.Value) != nil || checkTime("", c.NextAttemptAt) != nil {
		return ErrInvalidCommand
	}
	if (c.State != "" && c.State != ContactPending) || c.Attempts != 0 || c.Token != 0 || c.LastDisposition != "" || c.LastAttemptID != "" {
		return ErrInvalidCommand
	}
	return nil
}

// importState is the state key of a staged import.
type importState struct {
	CampaignID string
	Aborted    bool `json:",omitempty"`
	Chunks     int  // chunk records present
	Contacts   int  // contacts staged
}

// stagedChunk is the record of one applied StageContacts.
type stagedChunk struct {
	Sum    string   // fingerprint of the chunk's IDs and numbers
	IDs    []string // contacts staged (for abort)
	Result StageResult
}

func importStateKey(id string) []byte { return key("ih/", id) }
func stagedChunkPrefix(id string) []byte {
	return key("ihc/", id, sep)
}
func stagedChunkKey(id string, seq int) []byte {
	return key("ihc/", id, sep, string(u32(uint32(seq))))
}
func duePartitionKey(camp, imp string) []byte { return key("kdp/", camp, sep, imp) }

// chunkSum fingerprints a chunk's rows (their encoding is canonical).
func chunkSum(rows []byte) string {
	h := sha256.Sum256(rows)
	return hex.EncodeToString(h[:16])
}

func applyStageContacts(t *tx, c *StageContacts) (any, error) {
	if ok, err := t.has(importDoneKey(c.ImportID)); err != nil {
		return nil, err
	} else if ok {
		return fmt.Errorf("%w: import %q is already committed", ErrExists, c.ImportID), nil
	}
	if ok, err := t.has(importKey(c.ImportID)); err != nil {
		return nil, err
	} else if ok {
		return fmt.Errorf("%w: import %q is being staged with ImportChunk", ErrImportConflict, c.ImportID), nil
	}
	var st importState
	found, err := t.getJSON(importStateKey(c.ImportID), &st)
	if err != nil {
		return nil, err
	}
	if found && st.CampaignID != c.CampaignID {
		return fmt.Errorf("%w: import %q is for campaign %q, chunk says %q", ErrImportConflict, c.ImportID, st.CampaignID, c.CampaignID), nil
	}
	if st.Aborted {
		return fmt.Errorf("%w: import %q was aborted", ErrImportConflict, c.ImportID), nil
	}
	sum := chunkSum(c.Rows)
	var prev stagedChunk
	if ok, err := t.getJSON(stagedChunkKey(c.ImportID, c.Seq), &prev); err != nil {
		return nil, err
	} else if ok {
		if prev.Sum == sum {
			return prev.Result, nil // identical resend
		}
		return fmt.Errorf("%w: import %q chunk %d was already staged with different contacts", ErrImportConflict, c.ImportID, c.Seq), nil
	}
	k, err := loadCampaign(t, c.CampaignID)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return fmt.Errorf("%w: campaign %q", ErrNotFound, c.CampaignID), nil
	}
	if err := campaignAcceptsContacts(k); err != nil {
		return err, nil
	}
	cs, err := c.Contacts()
	if err != nil {
		return err, nil
	}
	res := StageResult{Seq: c.Seq}
	rec := stagedChunk{Sum: sum, IDs: make([]string, 0, len(cs))}
	states := map[string]bool{} // import -> aborted, for contacts already present
	dnc, err := newDNCChecker(t, c.CampaignID, 2*len(cs))
	if err != nil {
		return nil, err
	}
	for i := range cs {
		ct := cs[i]
		reason, err := stageCheck(t, c.CampaignID, &ct, states, dnc)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			res.Rejected = append(res.Rejected, RowReject{Index: i, Reason: reason})
			continue
		}
		ct.CampaignID = c.CampaignID
		ct.ImportID = c.ImportID
		ct.DueIn = c.ImportID
		ct.State = ContactPending
		ct.NextAttemptAt = utc(ct.NextAttemptAt)
		if len(ct.Profile) == 0 {
			ct.Profile = nil
		}
		if err := t.putRaw(phoneKey(ct.Phone, ct.CampaignID, ct.ID), nil); err != nil {
			return nil, err
		}
		if err := t.putRaw(dueKey(&ct), nil); err != nil {
			return nil, err
		}
		if err := t.putJSON(contactKey(ct.CampaignID, ct.ID), &ct); err != nil {
			return nil, err
		}
		rec.IDs = append(rec.IDs, ct.ID)
	}
	res.Staged = len(rec.IDs)
	rec.Result = res
	st.CampaignID = c.CampaignID
	st.Chunks++
	st.Contacts += res.Staged
	if err := t.putJSON(stagedChunkKey(c.ImportID, c.Seq), &rec); err != nil {
		return nil, err
	}
	return res, t.putJSON(importStateKey(c.ImportID), &st)
}

// stageCheck returns why ct may not be staged ("" if it may). A contact
// left by an aborted import is removed so ct can take its place.
func stageCheck(t *tx, camp string, ct *Contact, aborted map[string]bool, dncs *dncChecker) (string, error) {
	old, err := loadContactRaw(t, camp, ct.ID)
	if err != nil {
		return "", err
	}
	if old != nil {
		if old.DueIn == "" {
			return RejectDuplicate, nil
		}
		ab, ok := aborted[old.DueIn]
		if !ok {
			var st importState
			found, err := t.getJSON(importStateKey(old.DueIn), &st)
			if err != nil {
				return "", err
			}
			ab = found && st.Aborted
			aborted[old.DueIn] = ab
		}
		if !ab {
			return RejectDuplicate, nil // visible, or staged by an import in progress
		}
		if err := t.del(dueKey(old)); err != nil {
			return "", err
		}
		if old.Phone != ct.Phone {
			if err := t.del(phoneKey(old.Phone, camp, old.ID)); err != nil {
				return "", err
			}
		}
	}
	dnc, err := dncs.listed(t, ct.Phone)
	if err != nil {
		return "", err
	}
	if dnc {
		return RejectDNC, nil
	}
	return "", nil
}

// dncChecker answers isDNC for one chunk's numbers. A scope whose list is
// small (up to limit entries, so reading it costs less than a read per
// number) is read once into a set; an empty scope costs nothing; a large
// one is looked up per number.
type dncChecker struct {
	scopes []string
	sets   []map[string]bool // nil: look up per number
}

func newDNCChecker(t *tx, camp string, limit int) (*dncChecker, error) {
	d := &dncChecker{scopes: []string{ScopeGlobal, camp}}
	for _, scope := range d.scopes {
		prefix := key("n/", scope, sep)
		set := map[string]bool{}
		err := t.scan(prefix, nil, false, func(k, _ []byte) (bool, error) {
			if len(set) == limit {
				set = nil
				return false, nil
			}
			set[string(k[len(prefix):])] = true
			return true, nil
		})
		if err != nil {
			return nil, storeErr(err)
		}
		d.sets = append(d.sets, set)
	}
	return d, nil
}

func (d *dncChecker) listed(t *tx, phone string) (bool, error) {
	for i, set := range d.sets {
		if set != nil {
			if set[phone] {
				return true, nil
			}
			continue
		}
		if ok, err := t.has(dncKey(d.scopes[i], phone)); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// commitStaged makes a StageContacts import visible in one small
// transaction (see above). No write happens before every check passed.
func commitStaged(t *tx, c *CommitImport, st *importState) (any, error) {
	if st.Aborted {
		return fmt.Errorf("%w: import %q was aborted", ErrImportConflict, c.ImportID), nil
	}
	if st.Chunks != c.Chunks {
		return fmt.Errorf("%w: import %q has %d staged chunks, commit says %d (a chunk is missing)", ErrImportConflict, c.ImportID, st.Chunks, c.Chunks), nil
	}
	keys, err := t.collectKeys(stagedChunkPrefix(c.ImportID))
	if err != nil {
		return nil, err
	}
	prefix := stagedChunkPrefix(c.ImportID)
	for _, k := range keys {
		if seq := int(binary.BigEndian.Uint32(k[len(prefix):])); seq >= c.Chunks {
			return fmt.Errorf("%w: import %q has chunk %d, commit says %d chunks", ErrImportConflict, c.ImportID, seq, c.Chunks), nil
		}
	}
	k, err := loadCampaign(t, st.CampaignID)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return fmt.Errorf("%w: campaign %q", ErrNotFound, st.CampaignID), nil
	}
	if err := campaignAcceptsContacts(k); err != nil {
		return err, nil
	}
	for _, key := range keys {
		if err := t.del(key); err != nil {
			return nil, err
		}
	}
	if err := t.del(importStateKey(c.ImportID)); err != nil {
		return nil, err
	}
	if st.Contacts > 0 {
		if err := t.putRaw(duePartitionKey(st.CampaignID, c.ImportID), nil); err != nil {
			return nil, err
		}
	}
	if err := pruneDuePartitions(t, st.CampaignID, c.ImportID); err != nil {
		return nil, err
	}
	k.Counters.Contacts += int64(st.Contacts)
	k.Counters.Pending += int64(st.Contacts)
	k.UpdatedAt = utc(c.At)
	if err := saveCampaign(t, k); err != nil {
		return nil, err
	}
	if err := t.putJSON(importDoneKey(c.ImportID), &importDone{CampaignID: st.CampaignID, Contacts: st.Contacts, At: utc(c.At)}); err != nil {
		return nil, err
	}
	return st.Contacts, nil
}

// pruneDuePartitions drops a campaign's committed import partitions whose
// due index has emptied (every contact was touched since), except keep.
func pruneDuePartitions(t *tx, camp, keep string) error {
	parts, err := duePartitions(t, camp)
	if err != nil {
		return err
	}
	for _, imp := range parts {
		if imp == keep {
			continue
		}
		empty := true
		err := t.scan(key("kdi/", imp, sep), nil, false, func(_, _ []byte) (bool, error) {
			empty = false
			return false, nil
		})
		if err != nil {
			return storeErr(err)
		}
		if empty {
			if err := t.del(duePartitionKey(camp, imp)); err != nil {
				return err
			}
		}
	}
	return nil
}

// abortStaged marks a StageContacts import aborted and removes up to
// AbortStepChunks of its chunks. It returns the chunks left (0: the import
// is gone); the caller repeats AbortImport until then.
func abortStaged(t *tx, c *AbortImport, st *importState) (any, error) {
	var recs []stagedChunk
	var keys [][]byte
	err := t.scan(stagedChunkPrefix(c.ImportID), nil, false, func(k, v []byte) (bool, error) {
		var r stagedChunk
		if err := jsonUnmarshal(v, &r); err != nil {
			return false, err
		}
		recs = append(recs, r)
		keys = append(keys, append([]byte(nil), k...))
		return len(recs) < AbortStepChunks, nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	for i, r := range recs {
		for _, id := range r.IDs {
			ct, err := loadContactRaw(t, st.CampaignID, id)
			if err != nil {
				return nil, err
			}
			if ct == nil || ct.DueIn != c.ImportID {
				continue // taken over by a later import
			}
			if err := t.del(dueKey(ct)); err != nil {
				return nil, err
			}
			if err := t.del(phoneKey(ct.Phone, ct.CampaignID, ct.ID)); err != nil {
				return nil, err
			}
			if err := t.del(contactKey(ct.CampaignID, ct.ID)); err != nil {
				return nil, err
			}
		}
		if err := t.del(keys[i]); err != nil {
			return nil, err
		}
	}
	st.Aborted = true
	st.Chunks -= len(recs)
	if st.Chunks <= 0 {
		return 0, t.del(importStateKey(c.ImportID))
	}
	return st.Chunks, t.putJSON(importStateKey(c.ImportID), st)
}
