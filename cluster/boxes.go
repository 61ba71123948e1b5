package cluster

import (
	"fmt"
	"sort"
	"time"
)

// BoxState is where a box is in the registry.
type BoxState string

// Box states.
const (
	BoxActive  BoxState = "active"  // holds a lease (possibly about to lapse)
	BoxExpired BoxState = "expired" // its lease lapsed; its attempts were interrupted
)

// Limits on leases.
const (
	// MaxLeaseTTL bounds RenewLease.Until - RenewLease.At.
	MaxLeaseTTL = 5 * time.Minute
	// MaxCallbackWithin bounds ExpireLeases.CallbackWithin.
	MaxCallbackWithin = 24 * time.Hour
)

// Box is one member's entry in the box registry: where it is, what it can
// take, and its lease. The leader assigns work only to boxes whose lease is
// valid, whose trunks are up and which have free lines.
type Box struct {
	ID         string
	RaftAddr   string `json:",omitempty"`
	APIAddr    string `json:",omitempty"`
	Lines      int    // outbound lines this box may use (its trunks' capacity)
	Active     int    // calls up on it at RenewedAt
	TrunksUp   int    // trunks answering OPTIONS at RenewedAt
	State      BoxState
	Epoch      uint64 // bumped each time an expired box renews again
	LeaseUntil time.Time
	RenewedAt  time.Time
}

// Free is the number of lines the leader may still assign to b at now:
// zero when the lease is not valid at now or no trunk is up.
func (b Box) Free(now time.Time) int {
	if b.State != BoxActive || !b.LeaseUntil.After(now) || b.TrunksUp <= 0 {
		return 0
	}
	if f := b.Lines - b.Active; f > 0 {
		return f
	}
	return 0
}

// RenewLease creates or renews Box's lease until Until, reporting its
// capacity. The box computes Until from its own clock when it sends the
// command and stops dialling at Until (see Fence), while the leader only
// expires it after Until + ExpireLeases.Grace, so the two never overlap for
// bounded clock skew. A renewal of an expired box starts a new epoch.
type RenewLease struct {
	Box               string
	Until, At         time.Time
	RaftAddr, APIAddr string `json:",omitempty"`
	Lines, Active     int    `json:",omitempty"`
	TrunksUp          int    `json:",omitempty"`
}

// ExpireLeases expires every active box whose LeaseUntil+Grace is before
// At and interrupts its open attempts: an attempt never answered sends its
// contact back to pending, due at At, without counting the attempt; an
// answered attempt that was cut off makes its contact a priority callback
// due at At, to be made by CallbackBy = At + CallbackWithin, resuming the
// flow at the attempt's ResumeNode. The leader issues it.
type ExpireLeases struct {
	At             time.Time
	Grace          time.Duration `json:",omitempty"`
	CallbackWithin time.Duration `json:",omitempty"`
}

// ExpireResult is ExpireLeases' response.
type ExpireResult struct {
	Boxes       []string // boxes expired, sorted
	Requeued    int      // never-answered attempts sent back to pending
	Callbacks   int      // answered attempts turned into priority callbacks
	Interrupted int      // Requeued + Callbacks
}

// RemoveBox deletes a box from the registry (it left or is dead for good),
// interrupting its open attempts like ExpireLeases.
type RemoveBox struct {
	Box            string
	At             time.Time
	CallbackWithin time.Duration `json:",omitempty"`
}

// MarkAnswered records that an attempt's call was answered, and the flow
// node a callback should resume at if the call is cut off (empty: the
// flow's start). The box sends it on answer and may send it again as the
// dialogue reaches resumable nodes; Token must be the attempt's.
type MarkAnswered struct {
	AttemptID  string
	Token      uint64
	At         time.Time
	ResumeNode string `json:",omitempty"`
}

// Type implements Command.
func (RenewLease) Type() CommandType { return TypeRenewLease }

// Type implements Command.
func (ExpireLeases) Type() CommandType { return TypeExpireLeases }

// Type implements Command.
func (RemoveBox) Type() CommandType { return TypeRemoveBox }

// Type implements Command.
func (MarkAnswered) Type() CommandType { return TypeMarkAnswered }

// Validate implements Command.
func (c RenewLease) Validate() error {
	if err := checkID("Box", c.Box); err != nil {
		return err
	}
	if err := checkReqTime("At", c.At); err != nil {
		return err
	}
	if err := checkReqTime("Until", c.Until); err != nil {
		return err
	}
	if !c.Until.After(c.At) {
		return invalid("Until %s is not after At %s", c.Until.Format(time.RFC3339Nano), c.At.Format(time.RFC3339Nano))
	}
	if d := c.Until.Sub(c.At); d > MaxLeaseTTL {
		return invalid("lease of %v exceeds the limit of %v", d, MaxLeaseTTL)
	}
	for _, f := range []struct{ n, v string }{{"RaftAddr", c.RaftAddr}, {"APIAddr", c.APIAddr}} {
		if err := checkOptID(f.n, f.v); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		n string
		v int
	}{{"Lines", c.Lines}, {"Active", c.Active}, {"TrunksUp", c.TrunksUp}} {
		if f.v < 0 || f.v > 100000 {
			return invalid("%s %d: want 0..100000", f.n, f.v)
		}
	}
	return nil
}

func checkCallbackWithin(d time.Duration) error {
	if d < 0 || d > MaxCallbackWithin {
		return invalid("CallbackWithin %v: want 0..%v", d, MaxCallbackWithin)
	}
	return nil
}

// Validate implements Command.
func (c ExpireLeases) Validate() error {
	if c.Grace < 0 || c.Grace > MaxLeaseTTL {
		return invalid("Grace %v: want 0..%v", c.Grace, MaxLeaseTTL)
	}
	if err := checkCallbackWithin(c.CallbackWithin); err != nil {
		return err
	}
	return checkReqTime("At", c.At)
}

// Validate implements Command.
func (c RemoveBox) Validate() error {
	if err := checkID("Box", c.Box); err != nil {
		return err
	}
	if err := checkCallbackWithin(c.CallbackWithin); err != nil {
		return err
	}
	return checkReqTime("At", c.At)
}

// Validate implements Command.
func (c MarkAnswered) Validate() error {
	if err := checkID("AttemptID", c.AttemptID); err != nil {
		return err
	}
	if err := checkOptID("ResumeNode", c.ResumeNode); err != nil {
		return err
	}
	if c.Token == 0 {
		return invalid("Token is 0; fencing tokens start at 1")
	}
	return checkReqTime("At", c.At)
}

func boxKey(id string) []byte { return key("b/", id) }

func loadBox(t *tx, id string) (*Box, error) {
	var b Box
	ok, err := t.getJSON(boxKey(id), &b)
	if err != nil || !ok {
		return nil, err
	}
	return &b, nil
}

func applyRenewLease(t *tx, c *RenewLease) (any, error) {
	b, err := loadBox(t, c.Box)
	if err != nil {
		return nil, err
	}
	if b == nil {
		b = &Box{ID: c.Box, State: BoxActive, Epoch: 1}
	}
	until := utc(c.Until)
	if b.State == BoxExpired {
		b.State = BoxActive
		b.Epoch++
	} else if until.Before(b.LeaseUntil) {
		// A delayed, older renewal never shortens a lease.
		until = b.LeaseUntil
	}
	b.LeaseUntil = until
	b.RenewedAt = utc(c.At)
	if c.RaftAddr != "" {
		b.RaftAddr = c.RaftAddr
	}
	if c.APIAddr != "" {
		b.APIAddr = c.APIAddr
	}
	b.Lines, b.Active, b.TrunksUp = c.Lines, c.Active, c.TrunksUp
	if err := t.putJSON(boxKey(b.ID), b); err != nil {
		return nil, err
	}
	return *b, nil
}

func applyExpireLeases(t *tx, c *ExpireLeases) (any, error) {
	at := utc(c.At)
	var boxes []*Box
	err := t.scan(key("b/"), nil, false, func(_, v []byte) (bool, error) {
		var b Box
		if err := jsonUnmarshal(v, &b); err != nil {
			return false, err
		}
		if b.State == BoxActive && b.LeaseUntil.Add(c.Grace).Before(at) {
			boxes = append(boxes, &b)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	res := ExpireResult{Boxes: []string{}}
	for _, b := range boxes {
		b.State = BoxExpired
		if err := t.putJSON(boxKey(b.ID), b); err != nil {
			return nil, err
		}
		if err := interruptBox(t, b.ID, at, c.CallbackWithin, &res); err != nil {
			return nil, err
		}
		res.Boxes = append(res.Boxes, b.ID)
	}
	sort.Strings(res.Boxes)
	return res, nil
}

func applyRemoveBox(t *tx, c *RemoveBox) (any, error) {
	b, err := loadBox(t, c.Box)
	if err != nil {
		return nil, err
	}
	var res ExpireResult
	if err := interruptBox(t, c.Box, utc(c.At), c.CallbackWithin, &res); err != nil {
		return nil, err
	}
	if b == nil && res.Interrupted == 0 {
		return fmt.Errorf("%w: box %q", ErrNotFound, c.Box), nil
	}
	res.Boxes = []string{c.Box}
	return res, t.del(boxKey(c.Box))
}

func applyMarkAnswered(t *tx, c *MarkAnswered) (any, error) {
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
	if a.Token != c.Token {
		return fmt.Errorf("%w: attempt %q holds token %d, command has %d", ErrStaleToken, a.ID, a.Token, c.Token), nil
	}
	if a.AnsweredAt.IsZero() {
		a.AnsweredAt = utc(c.At)
	}
	a.ResumeNode = c.ResumeNode
	if err := t.putJSON(attemptKey(a.ID), a); err != nil {
		return nil, err
	}
	return *a, nil
}

// interruptBox closes every open attempt of box with the lease-loss policy.
func interruptBox(t *tx, box string, at time.Time, within time.Duration, res *ExpireResult) error {
	prefix := key("ab/", box, sep)
	keys, err := t.collectKeys(prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		a, err := loadAttempt(t, string(k[len(prefix):]))
		if err != nil {
			return err
		}
		if a == nil || a.State != AttemptClaimed {
			if err := t.del(k); err != nil {
				return err
			}
			continue
		}
		answered := !a.AnsweredAt.IsZero()
		if err := interruptAttempt(t, a, at, within); err != nil {
			return err
		}
		res.Interrupted++
		if answered {
			res.Callbacks++
		} else {
			res.Requeued++
		}
	}
	return nil
}

// interruptAttempt closes one open attempt whose box is gone. A never
// answered attempt is not counted against the contact's MaxAttempts (the
// callee never heard it); an answered one becomes a priority callback.
func interruptAttempt(t *tx, a *Attempt, at time.Time, within time.Duration) error {
	answered := !a.AnsweredAt.IsZero()
	k, err := loadCampaign(t, a.CampaignID)
	if err != nil {
		return err
	}
	ct, err := loadContact(t, a.CampaignID, a.ContactID)
	if err != nil {
		return err
	}
	if k == nil || ct == nil || ct.State != ContactInProgress || ct.LastAttemptID != a.ID || ct.Token != a.Token {
		ct = nil // the contact has moved on: only the attempt is closed
	}
	// The attempt cap is a compliance limit: a call cut off on the last
	// allowed attempt ends the contact (outcome done, disposition
	// "interrupted") rather than leaving it pending for a callback that
	// ClaimAttempt would refuse for ever.
	atCap := answered && ct != nil && k.MaxAttempts > 0 && ct.Attempts >= k.MaxAttempts
	a.State = AttemptInterrupted
	a.FinishedAt = at
	a.Disposition = "interrupted"
	switch {
	case atCap:
		a.Outcome = OutcomeDone
	case answered:
		a.Outcome = OutcomeCallback
	default:
		a.Outcome = OutcomeRetry
	}
	a.NextAttemptAt = at
	if err := t.del(openAttemptKey(a.Box, a.ID)); err != nil {
		return err
	}
	if err := t.putJSON(attemptKey(a.ID), a); err != nil {
		return err
	}
	if k == nil {
		return nil
	}
	k.Counters.Interrupted++
	k.UpdatedAt = at
	if ct != nil {
		old := *ct
		ct.State = ContactPending
		ct.NextAttemptAt = at
		ct.LastDisposition = "interrupted"
		switch {
		case atCap:
			ct.State = ContactDone
			ct.Callback = false
		case answered:
			ct.Callback = true
			ct.ResumeNode = a.ResumeNode
			ct.CallbackBy = at.Add(within)
		case ct.Attempts > 0:
			ct.Attempts--
		}
		if err := dncIfListed(t, ct); err != nil {
			return err
		}
		if err := saveContact(t, k, &old, ct); err != nil {
			return err
		}
	}
	return saveCampaign(t, k)
}

// Box reads one registry entry.
func (f *FSM) Box(id string) (Box, bool, error) {
	return viewOne(f, func(t *tx) (*Box, error) { return loadBox(t, id) })
}

// Boxes lists the registry ordered by ID.
func (f *FSM) Boxes() ([]Box, error) {
	var out []Box
	err := f.view(func(t *tx) error {
		return t.scan(key("b/"), nil, false, func(_, v []byte) (bool, error) {
			var b Box
			if err := jsonUnmarshal(v, &b); err != nil {
				return false, err
			}
			out = append(out, b)
			return true, nil
		})
	})
	return out, err
}

// CheckToken is the trunk-facing fencing check: it returns nil only if
// attempt id is still open on box with token, and token is still its
// contact's newest. A stale token (the contact was re-claimed, or the
// attempt was interrupted after a lease loss) is refused.
func (f *FSM) CheckToken(box, attemptID string, token uint64) error {
	return f.view(func(t *tx) error {
		a, err := loadAttempt(t, attemptID)
		if err != nil {
			return err
		}
		if a == nil {
			return fmt.Errorf("%w: attempt %q", ErrNotFound, attemptID)
		}
		if a.Box != box {
			return fmt.Errorf("%w: attempt %q belongs to box %q, not %q", ErrFenced, a.ID, a.Box, box)
		}
		if a.State != AttemptClaimed {
			return fmt.Errorf("%w: attempt %q is %s", ErrAttemptNotOpen, a.ID, a.State)
		}
		if a.Token != token {
			return fmt.Errorf("%w: attempt %q holds token %d, dial has %d", ErrStaleToken, a.ID, a.Token, token)
		}
		ct, err := loadContact(t, a.CampaignID, a.ContactID)
		if err != nil {
			return err
		}
		if ct == nil || ct.Token != token || ct.LastAttemptID != a.ID {
			return fmt.Errorf("%w: contact %q moved past attempt %q (token %d)", ErrStaleToken, a.ContactID, a.ID, token)
		}
		return nil
	})
}

// Assignment is one contact the leader gives to one box.
type Assignment struct {
	Box     string
	Contact Contact
}

// PlanAssignments spreads due contacts (in the order given, normally
// DueContacts' priority order) over boxes by free capacity at now: each
// contact goes to the box with the most free lines left (ties: lowest
// ID). Boxes without a valid lease, with no trunk up, or full get nothing.
// It is a pure function; the leader turns each assignment into a
// ClaimAttempt with Box set to the target and the contact's Token+1.
func PlanAssignments(boxes []Box, due []Contact, now time.Time) []Assignment {
	free := make([]int, len(boxes))
	for i, b := range boxes {
		free[i] = b.Free(now)
	}
	var out []Assignment
	for _, c := range due {
		best := -1
		for i := range boxes {
			if free[i] > 0 && (best < 0 || free[i] > free[best] || (free[i] == free[best] && boxes[i].ID < boxes[best].ID)) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		free[best]--
		out = append(out, Assignment{Box: boxes[best].ID, Contact: c})
	}
	return out
}
