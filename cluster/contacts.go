package cluster

import (
	"fmt"
	"sort"
	"time"
)

// ContactState is where a contact is in its campaign.
type ContactState string

// Contact states.
const (
	ContactPending    ContactState = "pending"
	ContactInProgress ContactState = "in-progress"
	ContactDone       ContactState = "done"
	ContactDNC        ContactState = "dnc"
)

// Contact is one number to call in a campaign. Empty fields are left out
// of its JSON (stored state and raft entries): a million-contact import
// encodes, logs, decodes and stores each contact several times.
type Contact struct {
	ID              string
	CampaignID      string            `json:",omitempty"`
	Phone           string            // E.164, normalised by the caller
	Name            string            `json:",omitempty"`
	Profile         map[string]string `json:",omitempty"`
	Timezone        string            `json:",omitempty"` // IANA name; empty: campaign's
	Value           float64           `json:",omitempty"`
	State           ContactState      `json:",omitempty"`
	Attempts        int               `json:",omitempty"`
	NextAttemptAt   time.Time         `json:",omitzero"` // zero: due now
	LastDisposition string            `json:",omitempty"`
	Callback        bool              `json:",omitempty"`
	Token           uint64            `json:",omitempty"` // fencing token of the latest claim; only increases
	LastAttemptID   string            `json:",omitempty"`
	ImportID        string            `json:",omitempty"`
	// Set when an answered call was cut off by a box failure: the callback
	// should resume the flow at ResumeNode (empty: the start) and be made
	// by CallbackBy.
	ResumeNode string    `json:",omitempty"`
	CallbackBy time.Time `json:",omitzero"`
	// DueIn names the import whose own due index ("kdi/<import>") holds
	// this contact's due entry: set on contacts staged by StageContacts
	// and never changed since; cleared (the entry moves to the campaign's
	// index) by the first change. A contact with DueIn whose import is
	// still staged (or aborted) is invisible.
	DueIn string `json:",omitempty"`
}

// Limits for imports.
const (
	// MaxChunkContacts bounds the contacts in one ImportChunk or ImportContacts.
	MaxChunkContacts = 2000
	// MaxImportContacts bounds one legacy (ImportChunk) import so its
	// CommitImport fits in one state transaction. Imports staged with
	// StageContacts have no such cap (see imports.go).
	MaxImportContacts = 10000
)

// validateNewContact checks a contact as supplied to an import.
func validateNewContact(field string, c *Contact) error {
	if err := checkID(field+".ID", c.ID); err != nil {
		return err
	}
	if err := checkE164(field+".Phone", c.Phone); err != nil {
		return err
	}
	if err := checkText(field+".Name", c.Name); err != nil {
		return err
	}
	if err := checkMap(field+".Profile", c.Profile); err != nil {
		return err
	}
	if c.Timezone != "" && (len(c.Timezone) > 64 || !tzRe.MatchString(c.Timezone)) {
		return invalid("%s.Timezone %q is not an IANA zone name", field, c.Timezone)
	}
	if err := checkFinite(field+".Value", c.Value); err != nil {
		return err
	}
	if err := checkTime(field+".NextAttemptAt", c.NextAttemptAt); err != nil {
		return err
	}
	if c.State != "" && c.State != ContactPending {
		return invalid("%s.State must be empty or pending on import, got %q", field, c.State)
	}
	if c.Attempts != 0 || c.Token != 0 || c.LastDisposition != "" || c.LastAttemptID != "" {
		return invalid("%s: Attempts, Token, LastDisposition and LastAttemptID must be zero on import", field)
	}
	return nil
}

func contactKey(camp, id string) []byte { return key("k/", camp, sep, id) }
func phoneKey(phone, camp, id string) []byte {
	return key("kp/", phone, sep, camp, sep, id)
}

// dueKey is c's entry in the due index: the campaign's ("kd/<camp>") or,
// for a contact untouched since StageContacts, its import's
// ("kdi/<import>"). Both order the same way after the partition prefix.
func dueKey(c *Contact) []byte {
	cb := "1"
	if c.Callback {
		cb = "0"
	}
	if c.DueIn != "" {
		return key("kdi/", c.DueIn, sep, cb, descFloatKey(c.Value), timeKey(c.NextAttemptAt), c.ID)
	}
	return key("kd/", c.CampaignID, sep, cb, descFloatKey(c.Value), timeKey(c.NextAttemptAt), c.ID)
}

// loadContact reads a visible contact: nil when absent or when it belongs
// to an import that is staged but not committed (or aborted).
func loadContact(t *tx, camp, id string) (*Contact, error) {
	c, err := loadContactRaw(t, camp, id)
	if err != nil || c == nil {
		return nil, err
	}
	if vis, err := contactVisible(t, c, nil); err != nil || !vis {
		return nil, err
	}
	return c, nil
}

// loadContactRaw reads a contact whatever its import's state.
func loadContactRaw(t *tx, camp, id string) (*Contact, error) {
	var c Contact
	ok, err := t.getJSON(contactKey(camp, id), &c)
	if err != nil || !ok {
		return nil, err
	}
	return &c, nil
}

// contactVisible reports whether c's import is committed. Only contacts
// untouched since staging (DueIn set) can belong to an uncommitted import,
// so others cost no read. cache, if not nil, remembers verdicts by import.
func contactVisible(t *tx, c *Contact, cache map[string]bool) (bool, error) {
	if c.DueIn == "" {
		return true, nil
	}
	if v, ok := cache[c.DueIn]; ok {
		return v, nil
	}
	staged, err := t.has(importStateKey(c.DueIn))
	if err != nil {
		return false, err
	}
	if cache != nil {
		cache[c.DueIn] = !staged
	}
	return !staged, nil
}

func bumpState(k *Counters, s ContactState, d int64) {
	switch s {
	case ContactPending:
		k.Pending += d
	case ContactInProgress:
		k.InProgress += d
	case ContactDone:
		k.Done += d
	case ContactDNC:
		k.DNC += d
	}
}

// saveContact writes c, keeping the due and phone indexes and the
// campaign's counters (in camp, saved by the caller) in step. old is the
// stored version, nil for a new contact.
func saveContact(t *tx, camp *Campaign, old, c *Contact) error {
	if len(c.Profile) == 0 {
		c.Profile = nil
	}
	c.DueIn = "" // a changed contact's due entry lives in the campaign's index
	if old != nil {
		if old.State == ContactPending {
			if err := t.del(dueKey(old)); err != nil {
				return err
			}
		}
		bumpState(&camp.Counters, old.State, -1)
	} else {
		camp.Counters.Contacts++
		if err := t.putRaw(phoneKey(c.Phone, c.CampaignID, c.ID), nil); err != nil {
			return err
		}
	}
	bumpState(&camp.Counters, c.State, 1)
	if c.State == ContactPending {
		if err := t.putRaw(dueKey(c), nil); err != nil {
			return err
		}
	}
	return t.putJSON(contactKey(c.CampaignID, c.ID), c)
}

// Contact reads one contact from the local state.
func (f *FSM) Contact(campaignID, id string) (Contact, bool, error) {
	return viewOne(f, func(t *tx) (*Contact, error) { return loadContact(t, campaignID, id) })
}

// MaxDueLimit bounds DueContacts.
const MaxDueLimit = 10000

// DueContacts returns up to limit pending contacts of a campaign whose
// NextAttemptAt is not after at, ordered callbacks first, then Value
// descending, then NextAttemptAt ascending (then ID). It merges the
// campaign's due index with the due indexes of its committed imports
// (listed under "kdp/<camp>"); staged imports are never scanned.
func (f *FSM) DueContacts(campaignID string, at time.Time, limit int) ([]Contact, error) {
	if err := checkID("campaignID", campaignID); err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxDueLimit {
		return nil, fmt.Errorf("%w: limit %d: want 1..%d", ErrInvalidCommand, limit, MaxDueLimit)
	}
	atKey := timeKey(at)
	var out []Contact
	err := f.view(func(t *tx) error {
		prefixes := [][]byte{key("kd/", campaignID, sep)}
		parts, err := duePartitions(t, campaignID)
		if err != nil {
			return err
		}
		for _, imp := range parts {
			prefixes = append(prefixes, key("kdi/", imp, sep))
		}
		type cand struct{ order, id string }
		var cands []cand
		for _, prefix := range prefixes {
			n := 0
			err := t.scan(prefix, nil, false, func(k, _ []byte) (bool, error) {
				rest := k[len(prefix):]
				if len(rest) < 17 {
					return true, nil
				}
				if string(rest[9:17]) > atKey {
					return true, nil // not due yet; later keys may be
				}
				cands = append(cands, cand{order: string(rest), id: string(rest[17:])})
				n++
				return n < limit, nil
			})
			if err != nil {
				return err
			}
		}
		if len(prefixes) > 1 {
			sort.Slice(cands, func(i, j int) bool { return cands[i].order < cands[j].order })
		}
		cache := map[string]bool{}
		for _, cd := range cands {
			if len(out) == limit {
				break
			}
			c, err := loadContactRaw(t, campaignID, cd.id)
			if err != nil {
				return err
			}
			if c == nil {
				continue
			}
			if vis, err := contactVisible(t, c, cache); err != nil {
				return err
			} else if vis {
				out = append(out, *c)
			}
		}
		return nil
	})
	return out, err
}

// duePartitions lists the committed imports of a campaign whose own due
// index may still hold entries.
func duePartitions(t *tx, camp string) ([]string, error) {
	prefix := key("kdp/", camp, sep)
	var out []string
	err := t.scan(prefix, nil, false, func(k, _ []byte) (bool, error) {
		out = append(out, string(k[len(prefix):]))
		return true, nil
	})
	return out, storeErr(err)
}

// Contacts lists a campaign's visible contacts ordered by ID.
func (f *FSM) Contacts(campaignID string) ([]Contact, error) {
	var out []Contact
	err := f.view(func(t *tx) error {
		cache := map[string]bool{}
		return t.scan(key("k/", campaignID, sep), nil, false, func(_, v []byte) (bool, error) {
			var c Contact
			if err := jsonUnmarshal(v, &c); err != nil {
				return false, err
			}
			if vis, err := contactVisible(t, &c, cache); err != nil || !vis {
				return err == nil, err
			}
			out = append(out, c)
			return true, nil
		})
	})
	return out, err
}
