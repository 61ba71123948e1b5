package cluster

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func renew(box string, at time.Time, ttl time.Duration, lines, active, trunks int) *RenewLease {
	return &RenewLease{Box: box, At: at, Until: at.Add(ttl), Lines: lines, Active: active, TrunksUp: trunks}
}

func TestLeaseExpiryPolicy(t *testing.T) {
	h := runningCampaign(t, 4)
	h.ok(renew("box1", t0, 10*time.Second, 4, 0, 1))
	h.ok(renew("box2", t0, 10*time.Second, 4, 0, 1))
	h.ok(claim("a1", "k0000", "box1", 1, t0)) // never answered
	h.ok(claim("a2", "k0001", "box1", 1, t0)) // answered, cut off
	h.ok(claim("a3", "k0002", "box2", 1, t0)) // other box, keeps its lease
	h.reject(&MarkAnswered{AttemptID: "a2", Token: 9, At: t0}, ErrStaleToken)
	h.ok(&MarkAnswered{AttemptID: "a2", Token: 1, At: t0.Add(time.Second), ResumeNode: "confirm"})
	h.ok(renew("box2", t0.Add(9*time.Second), 10*time.Second, 4, 1, 1))

	// Inside grace: nothing expires.
	r := h.ok(&ExpireLeases{At: t0.Add(11 * time.Second), Grace: 2 * time.Second, CallbackWithin: time.Minute}).(ExpireResult)
	if len(r.Boxes) != 0 {
		t.Fatalf("expired inside grace: %+v", r)
	}
	at := t0.Add(13 * time.Second)
	r = h.ok(&ExpireLeases{At: at, Grace: 2 * time.Second, CallbackWithin: time.Minute}).(ExpireResult)
	if len(r.Boxes) != 1 || r.Boxes[0] != "box1" || r.Requeued != 1 || r.Callbacks != 1 || r.Interrupted != 2 {
		t.Fatalf("expire = %+v", r)
	}
	c0, _, _ := h.f.Contact("camp", "k0000")
	if c0.State != ContactPending || c0.Attempts != 0 || c0.Callback || !c0.NextAttemptAt.Equal(at) {
		t.Fatalf("never-answered contact = %+v", c0)
	}
	c1, _, _ := h.f.Contact("camp", "k0001")
	if c1.State != ContactPending || !c1.Callback || c1.ResumeNode != "confirm" || !c1.CallbackBy.Equal(at.Add(time.Minute)) {
		t.Fatalf("answered contact = %+v", c1)
	}
	due, _ := h.f.DueContacts("camp", at, 10)
	if len(due) == 0 || due[0].ID != "k0001" {
		t.Fatalf("callback is not first in due order: %+v", due)
	}
	if a, _, _ := h.f.Attempt("a3"); a.State != AttemptClaimed {
		t.Fatal("a box with a valid lease lost its attempt")
	}
	// Fencing: the expired box cannot claim or finish; tokens only increase.
	h.reject(claim("a4", "k0000", "box1", 2, at), ErrLeaseExpired)
	h.reject(&FinishAttempt{AttemptID: "a1", Disposition: "answered", At: at, Outcome: OutcomeDone}, ErrAttemptNotOpen)
	if err := h.f.CheckToken("box1", "a1", 1); !errors.Is(err, ErrAttemptNotOpen) {
		t.Fatalf("CheckToken on interrupted attempt = %v", err)
	}
	h.ok(claim("a5", "k0000", "box2", 2, at))
	h.reject(claim("a6", "k0001", "box2", 1, at), ErrStaleToken)
	if err := h.f.CheckToken("box2", "a5", 2); err != nil {
		t.Fatal(err)
	}
	if err := h.f.CheckToken("box1", "a5", 2); !errors.Is(err, ErrFenced) {
		t.Fatalf("CheckToken by another box = %v", err)
	}
	// The dead box comes back: a new epoch, and it may claim again.
	b := h.ok(renew("box1", at.Add(time.Second), 10*time.Second, 4, 0, 1)).(Box)
	if b.Epoch != 2 || b.State != BoxActive {
		t.Fatalf("renewed box = %+v", b)
	}
	h.ok(claim("a7", "k0001", "box1", 2, at.Add(time.Second)))
	// Remove interrupts and deletes.
	r = h.ok(&RemoveBox{Box: "box1", At: at.Add(2 * time.Second)}).(ExpireResult)
	if r.Interrupted != 1 {
		t.Fatalf("remove = %+v", r)
	}
	if _, ok, _ := h.f.Box("box1"); ok {
		t.Fatal("removed box still in registry")
	}
	h.reject(&RemoveBox{Box: "box1", At: at}, ErrNotFound)
}

func TestRenewLeaseValidation(t *testing.T) {
	for _, c := range []Command{
		&RenewLease{Box: "b", At: t0, Until: t0},
		&RenewLease{Box: "b", At: t0, Until: t0.Add(time.Hour)},
		&RenewLease{Box: "", At: t0, Until: t0.Add(time.Second)},
		&RenewLease{Box: "b", At: t0, Until: t0.Add(time.Second), Lines: -1},
		&ExpireLeases{At: t0, Grace: -1},
		&ExpireLeases{At: t0, CallbackWithin: 48 * time.Hour},
		&MarkAnswered{AttemptID: "a", At: t0},
	} {
		if err := c.Validate(); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("%T %+v: %v", c, c, err)
		}
	}
	// An old renewal delivered late never shortens the lease.
	h := newFSM(t)
	h.ok(renew("b", t0, 10*time.Second, 1, 0, 1))
	b := h.ok(renew("b", t0.Add(-5*time.Second), 10*time.Second, 1, 0, 1)).(Box)
	if !b.LeaseUntil.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("lease shortened to %v", b.LeaseUntil)
	}
}

func TestPlanAssignments(t *testing.T) {
	now := t0
	boxes := []Box{
		{ID: "a", State: BoxActive, LeaseUntil: now.Add(time.Second), Lines: 4, Active: 1, TrunksUp: 1},
		{ID: "b", State: BoxActive, LeaseUntil: now.Add(time.Second), Lines: 2, Active: 0, TrunksUp: 1},
		{ID: "c", State: BoxActive, LeaseUntil: now.Add(time.Second), Lines: 10, TrunksUp: 0},  // trunks down
		{ID: "d", State: BoxActive, LeaseUntil: now.Add(-time.Second), Lines: 10, TrunksUp: 1}, // lease gone
		{ID: "e", State: BoxExpired, LeaseUntil: now.Add(time.Hour), Lines: 10, TrunksUp: 1},   // expired
	}
	due := contacts(10, "k")
	got := PlanAssignments(boxes, due, now)
	if len(got) != 5 {
		t.Fatalf("assigned %d, want 5 (3 free on a + 2 on b)", len(got))
	}
	per := map[string]int{}
	for i, a := range got {
		per[a.Box]++
		if a.Contact.ID != due[i].ID {
			t.Fatal("priority order not kept")
		}
	}
	if per["a"] != 3 || per["b"] != 2 {
		t.Fatalf("per box = %v", per)
	}
}

// A call cut off on the campaign's last allowed attempt ends the contact
// (found by the chaos soak: it stayed pending with a callback that
// ClaimAttempt refused for ever, so the campaign never finished).
func TestInterruptedAtAttemptCapEndsContact(t *testing.T) {
	h := runningCampaign(t, 1) // MaxAttempts 3
	h.ok(renew("box1", t0, 10*time.Second, 4, 0, 1))
	h.ok(renew("box2", t0, 4*time.Minute, 4, 0, 1))
	at := t0
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("a%d", i)
		box := "box1"
		if i%2 == 0 {
			box = "box2"
		}
		h.ok(claim(id, "k0000", box, uint64(i), at))
		h.ok(&MarkAnswered{AttemptID: id, Token: uint64(i), At: at.Add(time.Second)})
		if i < 3 {
			h.ok(&MarkInterrupted{Box: box, At: at.Add(2 * time.Second)})
			c, _, _ := h.f.Contact("camp", "k0000")
			if c.State != ContactPending || !c.Callback {
				t.Fatalf("after cut-off %d: contact = %+v", i, c)
			}
		}
		at = at.Add(3 * time.Second)
	}
	// The third (last allowed) attempt's box dies.
	r := h.ok(&ExpireLeases{At: t0.Add(time.Minute), Grace: time.Second, CallbackWithin: time.Minute}).(ExpireResult)
	if r.Interrupted != 1 {
		t.Fatalf("expire = %+v", r)
	}
	c, _, _ := h.f.Contact("camp", "k0000")
	if c.State != ContactDone || c.Callback || c.LastDisposition != "interrupted" {
		t.Fatalf("contact cut off at the cap = %+v; want done, no callback", c)
	}
	if a, _, _ := h.f.Attempt("a3"); a.State != AttemptInterrupted || a.Outcome != OutcomeDone {
		t.Fatalf("last attempt = %s/%s; want interrupted/done", a.State, a.Outcome)
	}
	if due, _ := h.f.DueContacts("camp", t0.Add(2*time.Minute), 10); len(due) != 0 {
		t.Fatalf("contact at its cap is still due: %+v", due)
	}
}
