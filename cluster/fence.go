package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Fence decides whether this box may put a call on a trunk now. A box may
// dial only while all of these hold:
//
//   - it holds a lease: its last committed RenewLease, whose Until it
//     computed from the time it sent the renewal, has not passed (the
//     leader expires a lease only after Until + grace, so the box stops
//     first);
//   - the claim is fresh: less than half a raft heartbeat timeout has passed
//     since the box sent the ClaimAttempt (or since a VerifyLeader round
//     started). A follower grants no vote to a new candidate while it has
//     heard from the leader within the heartbeat timeout, and a majority
//     acknowledged the claim after it was sent, so no new leader can have
//     committed anything yet: a deposed leader sends no INVITE after the new
//     leader's first commit;
//   - the attempt's token is still its contact's newest (FSM.CheckToken).
type Fence struct {
	node   *Node
	box    string
	ttl    time.Duration
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	until time.Time // local lease end, guarded by mu
}

// NewFence returns the fence for box on n with leases of ttl. now is the
// clock (time.Now if nil).
func (n *Node) NewFence(box string, ttl time.Duration, now func() time.Time) *Fence {
	if now == nil {
		now = time.Now
	}
	f := &Fence{node: n, box: box, ttl: ttl, window: n.cfg.HeartbeatTimeout / 2, now: now}
	if box == n.ID() {
		n.fence.mu.Lock()
		n.fence.f = f
		n.fence.mu.Unlock()
	}
	return f
}

// fenceSlot holds the node's own fence: the one made by NewFence for the
// node's ID, renewed by the daemon's lease loop and consulted by its
// dialler.
type fenceSlot struct {
	mu sync.Mutex
	f  *Fence // guarded by mu
}

// LocalFence returns the fence last made with NewFence for this node's own
// ID, or nil when there is none yet (the lease loop has not started).
func (n *Node) LocalFence() *Fence {
	n.fence.mu.Lock()
	defer n.fence.mu.Unlock()
	return n.fence.f
}

// Box is the box ID the fence guards.
func (f *Fence) Box() string { return f.box }

// MarkAnswered commits that attempt attemptID (holding token) was answered
// at at; resumeNode is where a callback should resume the flow if the call
// is cut off. It returns an error wrapping ErrStaleToken or
// ErrAttemptNotOpen when the attempt was taken away from this box.
func (f *Fence) MarkAnswered(ctx context.Context, attemptID string, token uint64, at time.Time, resumeNode string) error {
	_, err := f.node.Apply(ctx, &MarkAnswered{AttemptID: attemptID, Token: token, At: at, ResumeNode: resumeNode})
	return err
}

// BoxStatus is what a box reports with each lease renewal.
type BoxStatus struct {
	RaftAddr, APIAddr       string
	Lines, Active, TrunksUp int
}

// Renew commits a RenewLease for ttl from now and, once committed, extends
// the local lease to the Until it sent.
func (f *Fence) Renew(ctx context.Context, st BoxStatus) (Box, error) {
	sent := f.now()
	until := sent.Add(f.ttl)
	resp, err := f.node.Apply(ctx, &RenewLease{Box: f.box, Until: until, At: sent, RaftAddr: st.RaftAddr,
		APIAddr: st.APIAddr, Lines: st.Lines, Active: st.Active, TrunksUp: st.TrunksUp})
	if err != nil {
		return Box{}, err
	}
	b, _ := resp.(Box)
	f.mu.Lock()
	if until.After(f.until) {
		f.until = until
	}
	f.mu.Unlock()
	return b, nil
}

// Until is the end of the local lease (zero if never renewed).
func (f *Fence) Until() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.until
}

// Revoke drops the local lease at once (leaving, draining).
func (f *Fence) Revoke() {
	f.mu.Lock()
	f.until = time.Time{}
	f.mu.Unlock()
}

// Valid reports whether the box holds its lease at now.
func (f *Fence) Valid() bool { return f.Until().After(f.now()) }

// CheckDial is the trunk-facing check, called right before an INVITE for
// attempt attemptID with token, whose ClaimAttempt was sent at claimSent.
// If the claim is older than the freshness window it re-confirms the
// leader once (a VerifyLeader round trip). It returns nil or an error
// wrapping ErrFenced, ErrStaleToken or ErrAttemptNotOpen.
func (f *Fence) CheckDial(ctx context.Context, attemptID string, token uint64, claimSent time.Time) error {
	if until := f.Until(); !until.After(f.now()) {
		return fmt.Errorf("%w: box %s holds no lease (ended %s)", ErrFenced, f.box, until.Format(time.RFC3339Nano))
	}
	if f.now().Sub(claimSent) >= f.window {
		start := f.now()
		if err := f.node.VerifyLeader(ctx); err != nil {
			return fmt.Errorf("%w: cannot confirm the leader: %w", ErrFenced, err)
		}
		if f.now().Sub(start) >= f.window {
			return fmt.Errorf("%w: leader confirmation took %v, window %v", ErrFenced, f.now().Sub(start), f.window)
		}
	}
	if err := f.node.fsm.CheckToken(f.box, attemptID, token); err != nil {
		return err
	}
	if !f.Valid() {
		return fmt.Errorf("%w: box %s lease ended during the check", ErrFenced, f.box)
	}
	return nil
}
