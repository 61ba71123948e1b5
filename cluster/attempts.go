package cluster

import (
	"bytes"
	"fmt"
	"time"
)

// AttemptState is where a dial attempt is.
type AttemptState string

// Attempt states.
const (
	AttemptClaimed     AttemptState = "claimed"
	AttemptFinished    AttemptState = "finished"
	AttemptInterrupted AttemptState = "interrupted"
)

// Attempt outcomes, chosen by the caller from the campaign's retry rules.
const (
	OutcomeRetry    = "retry"    // back to pending at NextAttemptAt
	OutcomeCallback = "callback" // pending at NextAttemptAt, ahead of others
	OutcomeDone     = "done"     // no more attempts
	OutcomeDNC      = "dnc"      // the callee opted out: global DNC listing
	// OutcomeRelease returns the contact to pending at NextAttemptAt without
	// consuming an attempt: the call was never offered to the network (the
	// box was busy or draining after the claim).
	OutcomeRelease = "release"
)

// Attempt is one dial decision and its result.
type Attempt struct {
	ID, CampaignID, ContactID string
	Box, Trunk                string
	Token                     uint64
	State                     AttemptState
	ClaimedAt, FinishedAt     time.Time
	Disposition               string
	SIPCode                   int
	Outcome                   string
	NextAttemptAt             time.Time
	Variant                   string `json:",omitempty"` // A/B variant chosen at claim
	// AnsweredAt and ResumeNode come from MarkAnswered; an answered attempt
	// cut off by a box failure becomes a priority callback.
	AnsweredAt time.Time `json:",omitzero"`
	ResumeNode string    `json:",omitempty"`
	// Result and IntentLevel are the dialogue's outcome (FinishAttempt).
	Result      string `json:",omitempty"`
	IntentLevel string `json:",omitempty"`
}

// ClaimAttempt reserves a contact for one dial by Box. It must be committed
// before the INVITE leaves. It is rejected if the number is DNC, the
// contact is not pending or not due at At, already claimed, out of
// attempts, or Token is not above the contact's current token, or the
// campaign is not running.
type ClaimAttempt struct {
	AttemptID, CampaignID, ContactID string
	Box                              string
	Token                            uint64
	At                               time.Time
	Trunk                            string
	Variant                          string `json:",omitempty"`
}

// FinishAttempt records an attempt's result and moves the contact on.
type FinishAttempt struct {
	AttemptID     string
	Disposition   string
	SIPCode       int
	At            time.Time
	Outcome       string    // OutcomeRetry, OutcomeCallback, OutcomeDone, OutcomeDNC
	NextAttemptAt time.Time // for retry/callback, computed by the caller
	// Result is the dialogue flow's disposition (converted, refused,
	// callback_requested, transferred, opt_out, ...) and IntentLevel its
	// intent level (A-D, 0-5); empty for calls without a flow.
	Result      string `json:",omitempty"`
	IntentLevel string `json:",omitempty"`
}

// MarkInterrupted closes every attempt Box claimed without a result (the
// daemon calls it for its own box on restart). Their contacts return to
// pending, due at At, unless out of attempts.
type MarkInterrupted struct {
	Box string
	At  time.Time
}

// Type implements Command.
func (ClaimAttempt) Type() CommandType { return TypeClaimAttempt }

// Type implements Command.
func (FinishAttempt) Type() CommandType { return TypeFinishAttempt }

// Type implements Command.
func (MarkInterrupted) Type() CommandType { return TypeMarkInterrupted }

// Validate implements Command.
func (c ClaimAttempt) Validate() error {
	for _, f := range []struct{ n, v string }{{"AttemptID", c.AttemptID}, {"CampaignID", c.CampaignID}, {"ContactID", c.ContactID}, {"Box", c.Box}} {
		if err := checkID(f.n, f.v); err != nil {
			return err
		}
	}
	if err := checkOptID("Trunk", c.Trunk); err != nil {
		return err
	}
	if err := checkOptID("Variant", c.Variant); err != nil {
		return err
	}
	if c.Token == 0 {
		return invalid("Token is 0; fencing tokens start at 1")
	}
	return checkReqTime("At", c.At)
}

// Validate implements Command.
func (c FinishAttempt) Validate() error {
	if err := checkID("AttemptID", c.AttemptID); err != nil {
		return err
	}
	if err := checkID("Disposition", c.Disposition); err != nil {
		return err
	}
	if c.SIPCode != 0 && (c.SIPCode < 100 || c.SIPCode > 699) {
		return invalid("SIPCode %d is not a SIP status code", c.SIPCode)
	}
	switch c.Outcome {
	case OutcomeRetry, OutcomeCallback, OutcomeDone, OutcomeDNC, OutcomeRelease:
	default:
		return invalid("Outcome %q: want retry, callback, done, dnc or release", c.Outcome)
	}
	if err := checkTime("NextAttemptAt", c.NextAttemptAt); err != nil {
		return err
	}
	if err := checkOptID("Result", c.Result); err != nil {
		return err
	}
	if err := checkOptID("IntentLevel", c.IntentLevel); err != nil {
		return err
	}
	return checkReqTime("At", c.At)
}

// Validate implements Command.
func (c MarkInterrupted) Validate() error {
	if err := checkID("Box", c.Box); err != nil {
		return err
	}
	return checkReqTime("At", c.At)
}

func attemptKey(id string) []byte { return key("a/", id) }
func attemptCampaignKey(a *Attempt) []byte {
	return key("ac/", a.CampaignID, sep, timeKey(a.ClaimedAt), a.ID)
}
func openAttemptKey(box, id string) []byte { return key("ab/", box, sep, id) }

func loadAttempt(t *tx, id string) (*Attempt, error) {
	var a Attempt
	ok, err := t.getJSON(attemptKey(id), &a)
	if err != nil || !ok {
		return nil, err
	}
	return &a, nil
}

func applyClaimAttempt(t *tx, c *ClaimAttempt) (any, error) {
	if a, err := loadAttempt(t, c.AttemptID); err != nil {
		return nil, err
	} else if a != nil {
		return fmt.Errorf("%w: attempt %q", ErrExists, c.AttemptID), nil
	}
	k, err := loadCampaign(t, c.CampaignID)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return fmt.Errorf("%w: campaign %q", ErrNotFound, c.CampaignID), nil
	}
	if k.State != CampaignRunning {
		return fmt.Errorf("%w: campaign %q is %s", ErrCampaignNotActive, k.ID, k.State), nil
	}
	ct, err := loadContact(t, c.CampaignID, c.ContactID)
	if err != nil {
		return nil, err
	}
	if ct == nil {
		return fmt.Errorf("%w: contact %q in campaign %q", ErrNotFound, c.ContactID, c.CampaignID), nil
	}
	dnc, err := isDNC(t, ct.Phone, c.CampaignID)
	if err != nil {
		return nil, err
	}
	at := utc(c.At)
	if b, err := loadBox(t, c.Box); err != nil {
		return nil, err
	} else if b != nil && (b.State != BoxActive || !b.LeaseUntil.After(at)) {
		return fmt.Errorf("%w: box %q lease until %s (%s), claim at %s", ErrLeaseExpired, b.ID,
			b.LeaseUntil.Format(time.RFC3339Nano), b.State, at.Format(time.RFC3339Nano)), nil
	}
	switch {
	case dnc || ct.State == ContactDNC:
		return fmt.Errorf("%w: contact %q (%s)", ErrDNC, ct.ID, maskPhone(ct.Phone)), nil
	case ct.State == ContactInProgress:
		return fmt.Errorf("%w: contact %q by attempt %q", ErrAlreadyClaimed, ct.ID, ct.LastAttemptID), nil
	case ct.State != ContactPending:
		return fmt.Errorf("%w: contact %q is %s", ErrNotDue, ct.ID, ct.State), nil
	case ct.NextAttemptAt.After(at):
		return fmt.Errorf("%w: contact %q next attempt at %s", ErrNotDue, ct.ID, ct.NextAttemptAt.Format(time.RFC3339)), nil
	case k.MaxAttempts > 0 && ct.Attempts >= k.MaxAttempts:
		return fmt.Errorf("%w: contact %q has %d of %d", ErrMaxAttempts, ct.ID, ct.Attempts, k.MaxAttempts), nil
	case c.Token <= ct.Token:
		return fmt.Errorf("%w: contact %q token %d, claim has %d", ErrStaleToken, ct.ID, ct.Token, c.Token), nil
	}
	a := Attempt{ID: c.AttemptID, CampaignID: c.CampaignID, ContactID: c.ContactID, Box: c.Box,
		Trunk: c.Trunk, Token: c.Token, State: AttemptClaimed, ClaimedAt: at, Variant: c.Variant}
	old := *ct
	ct.State = ContactInProgress
	ct.Token = c.Token
	ct.Attempts++
	ct.LastAttemptID = c.AttemptID
	if err := saveContact(t, k, &old, ct); err != nil {
		return nil, err
	}
	k.Counters.Attempts++
	if err := saveCampaign(t, k); err != nil {
		return nil, err
	}
	if err := t.putJSON(attemptKey(a.ID), &a); err != nil {
		return nil, err
	}
	if err := t.putRaw(attemptCampaignKey(&a), nil); err != nil {
		return nil, err
	}
	return a, t.putRaw(openAttemptKey(a.Box, a.ID), nil)
}

// closeAttempt moves an open attempt's contact on and saves both.
func closeAttempt(t *tx, a *Attempt, outcome, disposition string, next time.Time, interrupted bool) error {
	k, err := loadCampaign(t, a.CampaignID)
	if err != nil {
		return err
	}
	ct, err := loadContact(t, a.CampaignID, a.ContactID)
	if err != nil {
		return err
	}
	if err := t.del(openAttemptKey(a.Box, a.ID)); err != nil {
		return err
	}
	if err := t.putJSON(attemptKey(a.ID), a); err != nil {
		return err
	}
	if k == nil {
		return nil
	}
	if interrupted {
		k.Counters.Interrupted++
	} else {
		k.Counters.Finished++
		if k.Counters.Dispositions == nil {
			k.Counters.Dispositions = map[string]int64{}
		}
		k.Counters.Dispositions[disposition]++
	}
	if ct != nil && ct.State == ContactInProgress && ct.LastAttemptID == a.ID && ct.Token == a.Token {
		old := *ct
		if outcome == OutcomeRelease && ct.Attempts > 0 {
			ct.Attempts-- // never dialled: the attempt is given back
		}
		ct.LastDisposition = disposition
		ct.Callback = outcome == OutcomeCallback
		ct.NextAttemptAt = utc(next)
		switch {
		case outcome == OutcomeDone:
			ct.State = ContactDone
		case outcome == OutcomeDNC:
			ct.State = ContactDNC
			e := DNCEntry{Scope: ScopeGlobal, Phone: ct.Phone, Reason: "disposition " + disposition, At: a.FinishedAt}
			if err := t.putJSON(dncKey(ScopeGlobal, ct.Phone), &e); err != nil {
				return err
			}
		case k.MaxAttempts > 0 && ct.Attempts >= k.MaxAttempts:
			ct.State = ContactDone
			ct.Callback = false
		default:
			ct.State = ContactPending
		}
		if err := dncIfListed(t, ct); err != nil {
			return err
		}
		if err := saveContact(t, k, &old, ct); err != nil {
			return err
		}
		if outcome == OutcomeDNC {
			// other campaigns' pending contacts with the number
			if err := saveCampaign(t, k); err != nil {
				return err
			}
			if err := retagContacts(t, ct.Phone, ScopeGlobal, ContactPending, ContactDNC, a.FinishedAt); err != nil {
				return err
			}
			return nil
		}
	}
	k.UpdatedAt = a.FinishedAt
	return saveCampaign(t, k)
}

func applyFinishAttempt(t *tx, c *FinishAttempt) (any, error) {
	a, err := loadAttempt(t, c.AttemptID)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return fmt.Errorf("%w: attempt %q", ErrNotFound, c.AttemptID), nil
	}
	if a.State != AttemptClaimed {
		return fmt.Errorf("%w: attempt %q is %s", ErrAttemptNotOpen, a.ID, a.State), nil
	}
	ct, err := loadContact(t, a.CampaignID, a.ContactID)
	if err != nil {
		return nil, err
	}
	if ct != nil && ct.Token != a.Token {
		return fmt.Errorf("%w: contact %q now has token %d, attempt %q holds %d", ErrStaleToken, ct.ID, ct.Token, a.ID, a.Token), nil
	}
	a.State = AttemptFinished
	a.FinishedAt = utc(c.At)
	a.Disposition = c.Disposition
	a.SIPCode = c.SIPCode
	a.Outcome = c.Outcome
	a.NextAttemptAt = utc(c.NextAttemptAt)
	a.Result, a.IntentLevel = c.Result, c.IntentLevel
	if err := closeAttempt(t, a, c.Outcome, c.Disposition, c.NextAttemptAt, false); err != nil {
		return nil, err
	}
	return *a, nil
}

func applyMarkInterrupted(t *tx, c *MarkInterrupted) (any, error) {
	keys, err := t.collectKeys(key("ab/", c.Box, sep))
	if err != nil {
		return nil, err
	}
	n := 0
	prefixLen := len("ab/") + len(c.Box) + 1
	for _, k := range keys {
		a, err := loadAttempt(t, string(k[prefixLen:]))
		if err != nil {
			return nil, err
		}
		if a == nil || a.State != AttemptClaimed {
			if err := t.del(k); err != nil {
				return nil, err
			}
			continue
		}
		if !a.AnsweredAt.IsZero() {
			// answered then cut off: a priority callback, like a lease loss
			if err := interruptAttempt(t, a, utc(c.At), 0); err != nil {
				return nil, err
			}
			n++
			continue
		}
		a.State = AttemptInterrupted
		a.FinishedAt = utc(c.At)
		a.Disposition = "interrupted"
		if err := closeAttempt(t, a, OutcomeRetry, "interrupted", c.At, true); err != nil {
			return nil, err
		}
		n++
	}
	return n, nil
}

// Attempt reads one attempt.
func (f *FSM) Attempt(id string) (Attempt, bool, error) {
	return viewOne(f, func(t *tx) (*Attempt, error) { return loadAttempt(t, id) })
}

// OpenAttempts lists the attempts Box claimed that have no result yet.
func (f *FSM) OpenAttempts(box string) ([]Attempt, error) {
	if err := checkID("box", box); err != nil {
		return nil, err
	}
	return f.openAttempts(key("ab/", box, sep))
}

// openAttempts reads the open attempts indexed under prefix (the "ab/"
// index: box, separator, attempt ID) that are still claimed.
func (f *FSM) openAttempts(prefix []byte) ([]Attempt, error) {
	var out []Attempt
	err := f.view(func(t *tx) error {
		var ids []string
		err := t.scan(prefix, nil, false, func(k, _ []byte) (bool, error) {
			rest := k[len(prefix):]
			if i := bytes.IndexByte(rest, sep[0]); i >= 0 {
				rest = rest[i+1:] // whole index: skip the box
			}
			ids = append(ids, string(rest))
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			a, err := loadAttempt(t, id)
			if err != nil {
				return err
			}
			if a != nil && a.State == AttemptClaimed {
				out = append(out, *a)
			}
		}
		return nil
	})
	return out, err
}

// Attempts lists a campaign's attempts in claim order.
func (f *FSM) Attempts(campaignID string) ([]Attempt, error) {
	prefix := key("ac/", campaignID, sep)
	var out []Attempt
	err := f.view(func(t *tx) error {
		var ids []string
		err := t.scan(prefix, nil, false, func(k, _ []byte) (bool, error) {
			if rest := k[len(prefix):]; len(rest) > 8 {
				ids = append(ids, string(rest[8:]))
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			a, err := loadAttempt(t, id)
			if err != nil {
				return err
			}
			if a != nil {
				out = append(out, *a)
			}
		}
		return nil
	})
	return out, err
}

// dncIfListed moves a pending contact to DNC when its number is on the
// global or its campaign's do-not-call list: an opt-out anywhere takes
// effect before the next attempt.
func dncIfListed(t *tx, ct *Contact) error {
	if ct.State != ContactPending {
		return nil
	}
	dnc, err := isDNC(t, ct.Phone, ct.CampaignID)
	if err != nil {
		return err
	}
	if dnc {
		ct.State = ContactDNC
	}
	return nil
}
