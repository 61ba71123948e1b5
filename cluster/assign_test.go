package cluster

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestClaimBatchForBoxes: the leader's batched claims commit one by one
// (a DNC'd, duplicate or stale claim is refused alone, changing nothing),
// each attempt belongs to its target box, and a box whose lease lapsed is
// refused inside the batch.
func TestClaimBatchForBoxes(t *testing.T) {
	h := runningCampaign(t, 5)
	h.ok(renew("box1", t0, 10*time.Second, 4, 0, 1))
	h.ok(renew("box2", t0, 10*time.Second, 4, 0, 1))
	h.ok(renew("gone", t0.Add(-time.Minute), time.Second, 4, 0, 1))
	before := dump(t, h.f)
	h.reject(&ClaimBatch{}, ErrInvalidCommand)
	h.reject(&ClaimBatch{Claims: []ClaimAttempt{{AttemptID: "x"}}}, ErrInvalidCommand)
	if dump(t, h.f) != before {
		t.Fatal("invalid batches changed state")
	}
	r := h.ok(&ClaimBatch{Claims: []ClaimAttempt{
		*claim("a0", "k0000", "box1", 1, t0),
		*claim("a1", "k0001", "box2", 1, t0),
		*claim("a2", "k0001", "box1", 2, t0), // same contact again in the batch
		*claim("a3", "k0002", "gone", 1, t0), // lease lapsed
		*claim("a4", "k0003", "box2", 1, t0),
	}}).(ClaimBatchResult)
	if r.Committed() != 3 {
		t.Fatalf("committed %d of 5: %+v", r.Committed(), r.Errors)
	}
	for i, want := range []error{nil, nil, ErrAlreadyClaimed, ErrLeaseExpired, nil} {
		if got := r.Err(i); (want == nil) != (got == nil) || (want != nil && !errors.Is(got, want)) {
			t.Errorf("claim %d: %v, want %v", i, got, want)
		}
	}
	open, _ := h.f.AllOpenAttempts()
	per := map[string]int{}
	for _, a := range open {
		per[a.Box]++
	}
	if len(open) != 3 || per["box1"] != 1 || per["box2"] != 2 {
		t.Fatalf("open attempts by box %v (%d)", per, len(open))
	}
	if c, _, _ := h.f.Contact("camp", "k0002"); c.State != ContactPending || c.Attempts != 0 {
		t.Fatalf("contact of the refused claim = %+v", c)
	}
}

// TestReleaseAttempt: only the holding box, with the attempt's token, can
// give back an unanswered attempt once; the contact is due again at once
// without using an attempt, and can be claimed for another box with a
// higher token while the old one stays fenced.
func TestReleaseAttempt(t *testing.T) {
	h := runningCampaign(t, 2)
	h.ok(renew("box1", t0, 10*time.Second, 4, 0, 1))
	h.ok(renew("box2", t0, 10*time.Second, 4, 0, 1))
	h.ok(claim("a1", "k0000", "box1", 5, t0))
	h.ok(claim("a2", "k0001", "box1", 5, t0))
	at := t0.Add(2 * time.Second)
	h.reject(&ReleaseAttempt{AttemptID: "a1", Box: "box1", At: at}, ErrInvalidCommand)
	h.reject(&ReleaseAttempt{AttemptID: "nope", Box: "box1", Token: 5, At: at}, ErrNotFound)
	h.reject(&ReleaseAttempt{AttemptID: "a1", Box: "box2", Token: 5, At: at}, ErrFenced)
	h.reject(&ReleaseAttempt{AttemptID: "a1", Box: "box1", Token: 4, At: at}, ErrStaleToken)
	a := h.ok(&ReleaseAttempt{AttemptID: "a1", Box: "box1", Token: 5, At: at, Reason: "full"}).(Attempt)
	if a.State != AttemptReleased || a.Outcome != OutcomeRelease {
		t.Fatalf("released attempt = %+v", a)
	}
	h.reject(&ReleaseAttempt{AttemptID: "a1", Box: "box1", Token: 5, At: at}, ErrAttemptNotOpen)
	c, _, _ := h.f.Contact("camp", "k0000")
	if c.State != ContactPending || c.Attempts != 0 || !c.NextAttemptAt.Equal(at) || c.Token != 5 {
		t.Fatalf("released contact = %+v", c)
	}
	if err := h.f.CheckToken("box1", "a1", 5); !errors.Is(err, ErrAttemptNotOpen) {
		t.Fatalf("CheckToken of a released attempt = %v", err)
	}
	h.ok(claim("a3", "k0000", "box2", 6, at))
	// An answered attempt cannot be given back: the callee heard the box.
	h.ok(&MarkAnswered{AttemptID: "a2", Token: 5, At: at})
	h.reject(&ReleaseAttempt{AttemptID: "a2", Box: "box1", Token: 5, At: at}, ErrAttemptNotOpen)
	open, _ := h.f.AllOpenAttempts()
	if len(open) != 2 {
		t.Fatalf("open %+v", open)
	}
}

// TestAssignSnapshotRoundTrip: the state written by batched claims and
// releases survives snapshot and restore unchanged.
func TestAssignSnapshotRoundTrip(t *testing.T) {
	h := runningCampaign(t, 20)
	h.ok(renew("box1", t0, 10*time.Second, 40, 0, 1))
	var cs []ClaimAttempt
	for i := range 20 {
		cs = append(cs, *claim(fmt.Sprintf("a%d", i), fmt.Sprintf("k%04d", i), "box1", 1, t0))
	}
	h.ok(&ClaimBatch{Claims: cs})
	h.ok(&ReleaseAttempt{AttemptID: "a3", Box: "box1", Token: 1, At: t0})
	want := dump(t, h.f)
	snap := snapshotBytes(t, h.f)
	g := newFSM(t)
	if err := g.f.Restore(nopCloser(snap)); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, g.f); got != want {
		t.Fatal("restored state differs")
	}
	open, _ := g.f.AllOpenAttempts()
	if len(open) != 19 {
		t.Fatalf("open after restore %d", len(open))
	}
}

// BenchmarkClaimBatchApply measures batched claims through the FSM alone.
func BenchmarkClaimBatchApply(b *testing.B) {
	h := newFSM(b)
	h.ok(&CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	const chunk = 2000
	n := 0
	for n < b.N*64 {
		h.ok(&ImportContacts{CampaignID: "camp", ImportID: fmt.Sprintf("imp%d", n), Contacts: contacts(chunk, fmt.Sprintf("k%d-", n)), At: t0})
		n += chunk
	}
	h.ok(&SetCampaignState{ID: "camp", State: CampaignRunning, At: t0})
	h.ok(renew("box1", t0, time.Minute, 100000, 0, 1))
	b.ResetTimer()
	claims := 0
	for i := 0; i < b.N; i++ {
		var cs []ClaimAttempt
		for j := range 64 {
			m := i*64 + j
			cs = append(cs, *claim(fmt.Sprintf("a%d", m), fmt.Sprintf("k%d-%04d", m/chunk*chunk, m%chunk), "box1", 1, t0))
		}
		r := h.ok(&ClaimBatch{Claims: cs}).(ClaimBatchResult)
		claims += r.Committed()
	}
	b.ReportMetric(float64(claims)/b.Elapsed().Seconds(), "claims/s")
}
