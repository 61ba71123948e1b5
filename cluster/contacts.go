package cluster

import (
	"fmt"
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

// Contact is one number to call in a campaign.
type Contact struct {
	ID, CampaignID  string
	Phone           string // E.164, normalised by the caller
	Name            string
	Profile         map[string]string
	Timezone        string // IANA name; empty: campaign's
	Value           float64
	State           ContactState
	Attempts        int
	NextAttemptAt   time.Time // zero: due now
	LastDisposition string
	Callback        bool
	Token           uint64 // fencing token of the latest claim; only increases
	LastAttemptID   string
	ImportID        string
	// Set when an answered call was cut off by a box failure: the callback
	// should resume the flow at ResumeNode (empty: the start) and be made
	// by CallbackBy.
	ResumeNode string    `json:",omitempty"`
	CallbackBy time.Time `json:",omitzero"`
}

// Limits for imports.
const (
	// MaxChunkContacts bounds the contacts in one ImportChunk or ImportContacts.
	MaxChunkContacts = 2000
	// MaxImportContacts bounds one import so CommitImport fits in one
	// state transaction; larger lists are several imports.
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
func dueKey(c *Contact) []byte {
	cb := "1"
	if c.Callback {
		cb = "0"
	}
	return key("kd/", c.CampaignID, sep, cb, descFloatKey(c.Value), timeKey(c.NextAttemptAt), c.ID)
}

func loadContact(t *tx, camp, id string) (*Contact, error) {
	var c Contact
	ok, err := t.getJSON(contactKey(camp, id), &c)
	if err != nil || !ok {
		return nil, err
	}
	return &c, nil
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
// descending, then NextAttemptAt ascending (then ID).
func (f *FSM) DueContacts(campaignID string, at time.Time, limit int) ([]Contact, error) {
	if err := checkID("campaignID", campaignID); err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxDueLimit {
		return nil, fmt.Errorf("%w: limit %d: want 1..%d", ErrInvalidCommand, limit, MaxDueLimit)
	}
	prefix := key("kd/", campaignID, sep)
	atKey := timeKey(at)
	var out []Contact
	err := f.view(func(t *tx) error {
		var ids []string
		err := t.scan(prefix, nil, false, func(k, _ []byte) (bool, error) {
			rest := k[len(prefix):]
			if len(rest) < 17 {
				return true, nil
			}
			if string(rest[9:17]) > atKey {
				return true, nil // not due yet; later keys may be
			}
			ids = append(ids, string(rest[17:]))
			return len(ids) < limit, nil
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			c, err := loadContact(t, campaignID, id)
			if err != nil {
				return err
			}
			if c != nil {
				out = append(out, *c)
			}
		}
		return nil
	})
	return out, err
}

// Contacts lists a campaign's contacts ordered by ID.
func (f *FSM) Contacts(campaignID string) ([]Contact, error) {
	var out []Contact
	err := f.view(func(t *tx) error {
		return t.scan(key("k/", campaignID, sep), nil, false, func(_, v []byte) (bool, error) {
			var c Contact
			if err := jsonUnmarshal(v, &c); err != nil {
				return false, err
			}
			out = append(out, c)
			return true, nil
		})
	})
	return out, err
}
