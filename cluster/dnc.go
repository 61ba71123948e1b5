package cluster

import (
	"fmt"
	"time"
)

// ScopeGlobal is the DNC scope that applies to every campaign.
const ScopeGlobal = "global"

// DNCEntry is one do-not-call listing.
type DNCEntry struct {
	Scope  string // ScopeGlobal or a campaign ID
	Phone  string // E.164
	Reason string
	At     time.Time
}

// AddDNC lists a number; pending contacts with that number in scope become
// dnc. Adding an existing listing updates its reason.
type AddDNC struct {
	Scope  string
	Phone  string
	Reason string
	At     time.Time
}

// RemoveDNC unlists a number; dnc contacts no longer covered by any
// listing return to pending.
type RemoveDNC struct {
	Scope string
	Phone string
	At    time.Time
}

// Type implements Command.
func (AddDNC) Type() CommandType { return TypeAddDNC }

// Type implements Command.
func (RemoveDNC) Type() CommandType { return TypeRemoveDNC }

// Validate implements Command.
func (c AddDNC) Validate() error {
	if err := checkID("Scope", c.Scope); err != nil {
		return err
	}
	if err := checkE164("Phone", c.Phone); err != nil {
		return err
	}
	if err := checkText("Reason", c.Reason); err != nil {
		return err
	}
	return checkReqTime("At", c.At)
}

// Validate implements Command.
func (c RemoveDNC) Validate() error {
	if err := checkID("Scope", c.Scope); err != nil {
		return err
	}
	if err := checkE164("Phone", c.Phone); err != nil {
		return err
	}
	return checkReqTime("At", c.At)
}

func dncKey(scope, phone string) []byte { return key("n/", scope, sep, phone) }

func isDNC(t *tx, phone, camp string) (bool, error) {
	if ok, err := t.has(dncKey(ScopeGlobal, phone)); err != nil || ok {
		return ok, err
	}
	if camp == "" {
		return false, nil
	}
	return t.has(dncKey(camp, phone))
}

type contactRef struct{ camp, id string }

// contactsByPhone lists (campaign, contact) pairs with phone, in scope.
func contactsByPhone(t *tx, phone, scope string) ([]contactRef, error) {
	prefix := key("kp/", phone, sep)
	var refs []contactRef
	err := t.scan(prefix, nil, false, func(k, _ []byte) (bool, error) {
		rest := string(k[len(prefix):])
		for i := 0; i < len(rest); i++ {
			if rest[i] == 0 {
				camp, id := rest[:i], rest[i+1:]
				if scope == ScopeGlobal || scope == camp {
					refs = append(refs, contactRef{camp, id})
				}
				break
			}
		}
		return true, nil
	})
	return refs, storeErr(err)
}

// retagContacts moves contacts with phone in scope from state from to to,
// when cond holds.
func retagContacts(t *tx, phone, scope string, from, to ContactState, at time.Time) error {
	refs, err := contactsByPhone(t, phone, scope)
	if err != nil {
		return err
	}
	camps := map[string]*Campaign{}
	var order []string
	for _, r := range refs {
		c, err := loadContact(t, r.camp, r.id)
		if err != nil {
			return err
		}
		if c == nil || c.State != from {
			continue
		}
		if to == ContactPending {
			if still, err := isDNC(t, phone, r.camp); err != nil {
				return err
			} else if still {
				continue
			}
		}
		k := camps[r.camp]
		if k == nil {
			if k, err = loadCampaign(t, r.camp); err != nil {
				return err
			}
			if k == nil {
				continue
			}
			camps[r.camp] = k
			order = append(order, r.camp)
		}
		old := *c
		c.State = to
		if err := saveContact(t, k, &old, c); err != nil {
			return err
		}
	}
	for _, id := range order {
		camps[id].UpdatedAt = utc(at)
		if err := saveCampaign(t, camps[id]); err != nil {
			return err
		}
	}
	return nil
}

func applyAddDNC(t *tx, c *AddDNC) (any, error) {
	if c.Scope != ScopeGlobal {
		if k, err := loadCampaign(t, c.Scope); err != nil {
			return nil, err
		} else if k == nil {
			return fmt.Errorf("%w: DNC scope %q is neither \"global\" nor a campaign", ErrNotFound, c.Scope), nil
		}
	}
	e := DNCEntry{Scope: c.Scope, Phone: c.Phone, Reason: c.Reason, At: utc(c.At)}
	if err := t.putJSON(dncKey(c.Scope, c.Phone), &e); err != nil {
		return nil, err
	}
	return nil, retagContacts(t, c.Phone, c.Scope, ContactPending, ContactDNC, c.At)
}

func applyRemoveDNC(t *tx, c *RemoveDNC) (any, error) {
	if ok, err := t.has(dncKey(c.Scope, c.Phone)); err != nil {
		return nil, err
	} else if !ok {
		return fmt.Errorf("%w: %s is not on the %q DNC list", ErrNotFound, maskPhone(c.Phone), c.Scope), nil
	}
	if err := t.del(dncKey(c.Scope, c.Phone)); err != nil {
		return nil, err
	}
	return nil, retagContacts(t, c.Phone, c.Scope, ContactDNC, ContactPending, c.At)
}

// IsDNC reports whether phone is listed globally or for campaignID
// (empty: global only).
func (f *FSM) IsDNC(phone, campaignID string) (bool, error) {
	var ok bool
	err := f.view(func(t *tx) error {
		var err error
		ok, err = isDNC(t, phone, campaignID)
		return err
	})
	return ok, err
}
