package cluster

import (
	"errors"
	"testing"
	"time"
)

func runningCampaign(t *testing.T, n int) *fsmHarness {
	h := newFSM(t)
	h.ok(&CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	if n > 0 {
		h.ok(&ImportContacts{CampaignID: "camp", ImportID: "imp", Contacts: contacts(n, "k"), At: t0})
	}
	h.ok(&SetCampaignState{ID: "camp", State: CampaignRunning, At: t0})
	return h
}

func claim(id, contact, box string, token uint64, at time.Time) *ClaimAttempt {
	return &ClaimAttempt{AttemptID: id, CampaignID: "camp", ContactID: contact, Box: box, Token: token, At: at, Trunk: "trunk-a"}
}

func TestCampaignLifecycle(t *testing.T) {
	h := newFSM(t)
	h.ok(&CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	h.reject(&CreateCampaign{Campaign: testCampaign("camp"), At: t0}, ErrExists)
	h.reject(&SetCampaignState{ID: "camp", State: CampaignPaused, At: t0}, ErrBadTransition)
	h.reject(&SetCampaignState{ID: "nope", State: CampaignRunning, At: t0}, ErrNotFound)
	for _, s := range []CampaignState{CampaignRunning, CampaignPaused, CampaignPaused, CampaignRunning, CampaignStopped, CampaignArchived} {
		h.ok(&SetCampaignState{ID: "camp", State: s, At: t0})
	}
	for _, s := range []CampaignState{CampaignRunning, CampaignPaused, CampaignStopped, CampaignCreated} {
		h.reject(&SetCampaignState{ID: "camp", State: s, At: t0}, ErrBadTransition)
	}
	k, ok, _ := h.f.Campaign("camp")
	if !ok || k.State != CampaignArchived {
		t.Fatalf("campaign = %+v", k)
	}
	h.reject(&ImportContacts{CampaignID: "camp", ImportID: "i", Contacts: contacts(1, "k"), At: t0}, ErrCampaignNotActive)
}

func TestClaimRules(t *testing.T) {
	h := runningCampaign(t, 5)
	// double claim
	a := h.ok(claim("a1", "k0000", "box1", 1, t0)).(Attempt)
	if a.State != AttemptClaimed || a.Token != 1 {
		t.Fatalf("attempt = %+v", a)
	}
	h.reject(claim("a2", "k0000", "box2", 2, t0), ErrAlreadyClaimed)
	h.reject(claim("a1", "k0001", "box2", 2, t0), ErrExists)
	// token fencing: after finish, a claim must carry a higher token
	h.ok(&FinishAttempt{AttemptID: "a1", Disposition: "busy", SIPCode: 486, At: t0, Outcome: OutcomeRetry, NextAttemptAt: t0.Add(time.Minute)})
	h.reject(&FinishAttempt{AttemptID: "a1", Disposition: "busy", At: t0, Outcome: OutcomeRetry}, ErrAttemptNotOpen)
	h.reject(claim("a3", "k0000", "box1", 5, t0), ErrNotDue) // retry is a minute later
	h.reject(claim("a3", "k0000", "box1", 1, t0.Add(time.Minute)), ErrStaleToken)
	h.ok(claim("a3", "k0000", "box1", 2, t0.Add(time.Minute)))
	h.ok(&FinishAttempt{AttemptID: "a3", Disposition: "no-answer", At: t0, Outcome: OutcomeRetry, NextAttemptAt: t0.Add(2 * time.Minute)})
	h.ok(claim("a4", "k0000", "box1", 3, t0.Add(2*time.Minute)))
	// third attempt exhausts MaxAttempts=3: a retry outcome ends as done
	h.ok(&FinishAttempt{AttemptID: "a4", Disposition: "no-answer", At: t0, Outcome: OutcomeRetry, NextAttemptAt: t0.Add(3 * time.Minute)})
	c, _, _ := h.f.Contact("camp", "k0000")
	if c.State != ContactDone || c.Attempts != 3 || c.Token != 3 || c.LastDisposition != "no-answer" {
		t.Fatalf("contact after 3 attempts = %+v", c)
	}
	h.reject(claim("a5", "k0000", "box1", 4, t0.Add(time.Hour)), ErrNotDue)

	// DNC blocks, both global and campaign scope
	k1, _, _ := h.f.Contact("camp", "k0001")
	h.ok(&AddDNC{Scope: "camp", Phone: k1.Phone, Reason: "complaint", At: t0})
	h.reject(claim("a6", "k0001", "box1", 1, t0), ErrDNC)
	if ok, _ := h.f.IsDNC(k1.Phone, "camp"); !ok {
		t.Fatal("IsDNC false for campaign listing")
	}
	if ok, _ := h.f.IsDNC(k1.Phone, "other"); ok {
		t.Fatal("campaign listing leaks into another campaign")
	}
	h.ok(&RemoveDNC{Scope: "camp", Phone: k1.Phone, At: t0})
	h.reject(&RemoveDNC{Scope: "camp", Phone: k1.Phone, At: t0}, ErrNotFound)
	h.ok(claim("a6", "k0001", "box1", 1, t0))

	// paused campaigns do not dial
	h.ok(&SetCampaignState{ID: "camp", State: CampaignPaused, At: t0})
	h.reject(claim("a7", "k0002", "box1", 1, t0), ErrCampaignNotActive)
	h.ok(&SetCampaignState{ID: "camp", State: CampaignRunning, At: t0})
	h.reject(claim("a7", "missing", "box1", 1, t0), ErrNotFound)

	n, _ := h.f.CampaignCounters("camp")
	if n.Contacts != 5 || n.Done != 1 || n.InProgress != 1 || n.Pending != 3 || n.Attempts != 4 || n.Finished != 3 || n.Dispositions["no-answer"] != 2 {
		t.Fatalf("counters = %+v", n)
	}
	if as, _ := h.f.Attempts("camp"); len(as) != 4 || as[0].ID != "a1" {
		t.Fatalf("attempts = %+v", as)
	}
}

func TestMarkInterrupted(t *testing.T) {
	h := runningCampaign(t, 4)
	h.ok(claim("a1", "k0000", "box1", 1, t0))
	h.ok(claim("a2", "k0001", "box1", 1, t0))
	h.ok(claim("a3", "k0002", "box2", 1, t0))
	h.ok(&FinishAttempt{AttemptID: "a2", Disposition: "answered", At: t0, Outcome: OutcomeDone})
	n := h.ok(&MarkInterrupted{Box: "box1", At: t0.Add(time.Minute)})
	if n != 1 {
		t.Fatalf("interrupted %v, want 1", n)
	}
	a, _, _ := h.f.Attempt("a1")
	c, _, _ := h.f.Contact("camp", "k0000")
	if a.State != AttemptInterrupted || c.State != ContactPending || c.Attempts != 1 {
		t.Fatalf("after interrupt: attempt %+v contact %+v", a, c)
	}
	if b, _, _ := h.f.Attempt("a3"); b.State != AttemptClaimed {
		t.Fatal("another box's attempt was interrupted")
	}
	// a late finish for the interrupted attempt is refused
	h.reject(&FinishAttempt{AttemptID: "a1", Disposition: "answered", At: t0, Outcome: OutcomeDone}, ErrAttemptNotOpen)
	if n := h.ok(&MarkInterrupted{Box: "box1", At: t0}); n != 0 {
		t.Fatalf("second interrupt = %v", n)
	}
	h.ok(claim("a4", "k0000", "box1", 2, t0.Add(time.Minute)))
}

func TestOutcomeDNCListsGlobally(t *testing.T) {
	h := runningCampaign(t, 2)
	h.ok(&CreateCampaign{Campaign: testCampaign("other"), At: t0})
	h.ok(&ImportContacts{CampaignID: "other", ImportID: "o", Contacts: contacts(1, "o"), At: t0}) // same phone as k0000
	h.ok(claim("a1", "k0000", "box1", 1, t0))
	h.ok(&FinishAttempt{AttemptID: "a1", Disposition: "opt-out", At: t0, Outcome: OutcomeDNC})
	if ok, _ := h.f.IsDNC(contacts(1, "k")[0].Phone, ""); !ok {
		t.Fatal("dnc outcome did not list the number globally")
	}
	o, _, _ := h.f.Contact("other", "o0000")
	if o.State != ContactDNC {
		t.Fatalf("other campaign's contact = %s, want dnc", o.State)
	}
	if n, _ := h.f.CampaignCounters("other"); n.DNC != 1 || n.Pending != 0 {
		t.Fatalf("other counters = %+v", n)
	}
}

func TestDueContactsOrder(t *testing.T) {
	h := newFSM(t)
	h.ok(&CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	cs := []Contact{
		{ID: "low-early", Phone: "+8613800000001", Value: 1, NextAttemptAt: t0.Add(-2 * time.Hour)},
		{ID: "high-late", Phone: "+8613800000002", Value: 9, NextAttemptAt: t0.Add(-time.Hour)},
		{ID: "high-early", Phone: "+8613800000003", Value: 9, NextAttemptAt: t0.Add(-2 * time.Hour)},
		{ID: "future", Phone: "+8613800000004", Value: 100, NextAttemptAt: t0.Add(time.Hour)},
		{ID: "cb", Phone: "+8613800000005", Value: -5, Callback: true},
		{ID: "neg", Phone: "+8613800000006", Value: -1},
		{ID: "dnc", Phone: "+8613800000007", Value: 50},
	}
	h.ok(&AddDNC{Scope: ScopeGlobal, Phone: "+8613800000007", At: t0})
	h.ok(&ImportContacts{CampaignID: "camp", ImportID: "i", Contacts: cs, At: t0})
	due, err := h.f.DueContacts("camp", t0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range due {
		ids = append(ids, c.ID)
	}
	want := "[cb high-early high-late low-early neg]"
	if got := fmtList(ids); got != want {
		t.Fatalf("due = %s, want %s", got, want)
	}
	if due, _ := h.f.DueContacts("camp", t0, 2); len(due) != 2 {
		t.Fatalf("limit ignored: %d", len(due))
	}
	if _, err := h.f.DueContacts("camp", t0, 0); !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("limit 0 err = %v", err)
	}
	// removing the DNC listing makes the contact due again
	h.ok(&RemoveDNC{Scope: ScopeGlobal, Phone: "+8613800000007", At: t0})
	due, _ = h.f.DueContacts("camp", t0, 10)
	if len(due) != 6 || due[1].ID != "dnc" {
		t.Fatalf("after RemoveDNC due = %v", due)
	}
}

func fmtList(s []string) string {
	out := "["
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out + "]"
}

func TestImportAllOrNothing(t *testing.T) {
	h := runningCampaign(t, 0)
	for seq := 0; seq < 3; seq++ {
		h.ok(&ImportChunk{ImportID: "big", CampaignID: "camp", Seq: seq, Contacts: contacts(50, string(rune('a'+seq)))})
	}
	// staged chunks are invisible
	if cs, _ := h.f.Contacts("camp"); len(cs) != 0 {
		t.Fatalf("%d staged contacts visible before commit", len(cs))
	}
	if due, _ := h.f.DueContacts("camp", t0, 100); len(due) != 0 {
		t.Fatal("staged contacts are due before commit")
	}
	// identical resend is fine, a different chunk with the same seq or a gap is not
	h.ok(&ImportChunk{ImportID: "big", CampaignID: "camp", Seq: 1, Contacts: contacts(50, "b")})
	h.reject(&ImportChunk{ImportID: "big", CampaignID: "camp", Seq: 1, Contacts: contacts(50, "x")}, ErrImportConflict)
	h.reject(&ImportChunk{ImportID: "big", CampaignID: "camp", Seq: 5, Contacts: contacts(1, "x")}, ErrImportConflict)
	// a commit that counts the wrong number of chunks is refused (lost chunk)
	h.reject(&CommitImport{ImportID: "big", Chunks: 4, At: t0}, ErrImportConflict)
	if n := h.ok(&CommitImport{ImportID: "big", Chunks: 3, At: t0}); n != 150 {
		t.Fatalf("commit returned %v", n)
	}
	if cs, _ := h.f.Contacts("camp"); len(cs) != 150 {
		t.Fatalf("%d contacts after commit", len(cs))
	}
	if n := h.ok(&CommitImport{ImportID: "big", Chunks: 3, At: t0}); n != 150 {
		t.Fatalf("re-commit returned %v", n)
	}
	h.reject(&ImportChunk{ImportID: "big", CampaignID: "camp", Seq: 3, Contacts: contacts(1, "z")}, ErrExists)

	// abort drops staged chunks; nothing becomes visible
	h.ok(&ImportChunk{ImportID: "gone", CampaignID: "camp", Seq: 0, Contacts: contacts(10, "g")})
	h.ok(&AbortImport{ImportID: "gone"})
	h.reject(&CommitImport{ImportID: "gone", Chunks: 1, At: t0}, ErrNotFound)
	if st, _ := h.f.StagedImports(); len(st) != 0 {
		t.Fatalf("staged after abort: %v", st)
	}
	// an import clashing with existing contacts is refused as a whole
	clash := append(contacts(5, "n"), contacts(1, "a")...)
	h.reject(&ImportContacts{CampaignID: "camp", ImportID: "clash", Contacts: clash, At: t0}, ErrImportConflict)
	if n, _ := h.f.CampaignCounters("camp"); n.Contacts != 150 {
		t.Fatalf("contacts after refused import = %d", n.Contacts)
	}
}

func TestImportCrashLeavesNothingVisible(t *testing.T) {
	dir := t.TempDir()
	f, err := OpenFSM(dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	h := &fsmHarness{t: t, f: f}
	h.ok(&CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	h.ok(&ImportChunk{ImportID: "imp", CampaignID: "camp", Seq: 0, Contacts: contacts(20, "k")})
	h.ok(&ImportChunk{ImportID: "imp", CampaignID: "camp", Seq: 1, Contacts: contacts(20, "m")})
	f.Close() // the importer dies before CommitImport
	f, err = OpenFSM(dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if cs, _ := f.Contacts("camp"); len(cs) != 0 {
		t.Fatalf("%d contacts visible after crash mid-import", len(cs))
	}
	h.f = f
	h.ok(&AbortImport{ImportID: "imp"})
	if st, _ := f.StagedImports(); len(st) != 0 {
		t.Fatalf("staged = %v", st)
	}
}
