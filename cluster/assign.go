package cluster

// This file holds work sharing: the leader's batched claims for boxes
// (ClaimBatch), a box giving back an assignment it cannot take
// (ReleaseAttempt), and the reads the planner and the executors use
// (open attempts over all boxes).

import (
	"fmt"
	"time"
)

// MaxBatchClaims bounds the claims in one ClaimBatch (one raft entry).
const MaxBatchClaims = 512

// AttemptReleased is the state of an attempt its box gave back before
// dialling: the contact returned to pending without using an attempt.
const AttemptReleased AttemptState = "released"

// ClaimBatch commits several ClaimAttempts in one raft entry: the leader
// plans a round of assignments for all boxes and claims them at once.
// Each claim is accepted or rejected on its own (a rejected claim changes
// nothing); the response is a ClaimBatchResult in the claims' order.
type ClaimBatch struct {
	Claims []ClaimAttempt
}

// ClaimBatchResult is ClaimBatch's response: for claim i, Errors[i] is ""
// when it committed, else the rejection (which wraps the same sentinel a
// single ClaimAttempt would return; see Err).
type ClaimBatchResult struct {
	Errors []string
	errs   []error
}

// Err is claim i's rejection, or nil. Locally applied results keep the
// sentinel (errors.Is works); results that crossed the wire only the text.
func (r ClaimBatchResult) Err(i int) error {
	if i < len(r.errs) && r.errs[i] != nil {
		return r.errs[i]
	}
	if i < len(r.Errors) && r.Errors[i] != "" {
		return fmt.Errorf("%w: %s", ErrInvalidCommand, r.Errors[i])
	}
	return nil
}

// Committed counts the claims that committed.
func (r ClaimBatchResult) Committed() int {
	n := 0
	for _, e := range r.Errors {
		if e == "" {
			n++
		}
	}
	return n
}

// ReleaseAttempt gives back an open attempt its box has not dialled and
// will not dial (the box is full, its trunks are down, it is draining, or
// the assignment waited too long): the contact returns to pending, due at
// At, without using an attempt, and the leader may assign it to any box.
// Box and Token must match the attempt's, so only the holder can give it
// back and only once.
type ReleaseAttempt struct {
	AttemptID string
	Box       string
	Token     uint64
	At        time.Time
	Reason    string `json:",omitempty"`
}

// Type implements Command.
func (ClaimBatch) Type() CommandType { return TypeClaimBatch }

// Type implements Command.
func (ReleaseAttempt) Type() CommandType { return TypeReleaseAttempt }

// Validate implements Command.
func (c ClaimBatch) Validate() error {
	if len(c.Claims) == 0 {
		return invalid("Claims is empty")
	}
	if len(c.Claims) > MaxBatchClaims {
		return invalid("%d claims, limit %d", len(c.Claims), MaxBatchClaims)
	}
	for i := range c.Claims {
		if err := c.Claims[i].Validate(); err != nil {
			return fmt.Errorf("Claims[%d]: %w", i, err)
		}
	}
	return nil
}

// Validate implements Command.
func (c ReleaseAttempt) Validate() error {
	if err := checkID("AttemptID", c.AttemptID); err != nil {
		return err
	}
	if err := checkID("Box", c.Box); err != nil {
		return err
	}
	if c.Token == 0 {
		return invalid("Token is 0; fencing tokens start at 1")
	}
	if err := checkText("Reason", c.Reason); err != nil {
		return err
	}
	return checkReqTime("At", c.At)
}

func applyClaimBatch(t *tx, c *ClaimBatch) (any, error) {
	res := ClaimBatchResult{Errors: make([]string, len(c.Claims)), errs: make([]error, len(c.Claims))}
	for i := range c.Claims {
		before := t.writes
		r, err := applyClaimAttempt(t, &c.Claims[i])
		if err != nil {
			return nil, err
		}
		if e, rejected := r.(error); rejected {
			if t.writes != before {
				// applyClaimAttempt checks everything before writing; a
				// rejection after a write would leave half a claim.
				return nil, fmt.Errorf("cluster: claim %d rejected after writing: %w", i, e)
			}
			res.Errors[i], res.errs[i] = e.Error(), e
		}
	}
	return res, nil
}

func applyReleaseAttempt(t *tx, c *ReleaseAttempt) (any, error) {
	a, err := loadAttempt(t, c.AttemptID)
	if err != nil {
		return nil, err
	}
	switch {
	case a == nil:
		return fmt.Errorf("%w: attempt %q", ErrNotFound, c.AttemptID), nil
	case a.Box != c.Box:
		return fmt.Errorf("%w: attempt %q belongs to box %q, not %q", ErrFenced, a.ID, a.Box, c.Box), nil
	case a.State != AttemptClaimed:
		return fmt.Errorf("%w: attempt %q is %s", ErrAttemptNotOpen, a.ID, a.State), nil
	case a.Token != c.Token:
		return fmt.Errorf("%w: attempt %q holds token %d, command has %d", ErrStaleToken, a.ID, a.Token, c.Token), nil
	case !a.AnsweredAt.IsZero():
		return fmt.Errorf("%w: attempt %q was answered; finish it instead", ErrAttemptNotOpen, a.ID), nil
	}
	at := utc(c.At)
	a.State = AttemptReleased
	a.FinishedAt = at
	a.Disposition = "released"
	a.Outcome = OutcomeRelease
	a.NextAttemptAt = at
	if err := closeAttempt(t, a, OutcomeRelease, "released", at, true); err != nil {
		return nil, err
	}
	return *a, nil
}

// AllOpenAttempts lists every open attempt of every box, ordered by box
// then attempt ID. The leader's planner counts them per box and campaign.
func (f *FSM) AllOpenAttempts() ([]Attempt, error) {
	return f.openAttempts(key("ab/"))
}
