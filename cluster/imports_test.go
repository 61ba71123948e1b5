package cluster

import (
	"fmt"
	"testing"
	"time"
)

func stage(id string, seq int, cs []Contact) *StageContacts {
	c, err := NewStageContacts(id, "camp", seq, cs)
	if err != nil {
		panic(err)
	}
	return &c
}

func campaignCount(t *testing.T, h *fsmHarness) Counters {
	t.Helper()
	k, ok, err := h.f.Campaign("camp")
	if err != nil || !ok {
		t.Fatalf("campaign: %v %v", ok, err)
	}
	return k.Counters
}

// TestStageContactsInvisibleUntilCommit: chunks applied out of order are
// invisible to every reader and to the counters; one CommitImport makes
// them all visible and dialable, merged in due order with older contacts.
func TestStageContactsInvisibleUntilCommit(t *testing.T) {
	h := newFSM(t)
	h.ok(&CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	h.ok(&ImportContacts{CampaignID: "camp", ImportID: "old", Contacts: contacts(3, "o"), At: t0})
	all := contacts(30, "s")
	for i := range all {
		all[i].Phone = fmt.Sprintf("+86139%08d", i)
		all[i].Value = float64(i)
	}
	r1 := h.ok(stage("imp", 1, all[10:])).(StageResult)
	r0 := h.ok(stage("imp", 0, all[:10])).(StageResult)
	if r0.Staged != 10 || r1.Staged != 20 || len(r0.Rejected)+len(r1.Rejected) != 0 {
		t.Fatalf("results %+v %+v", r0, r1)
	}
	// an identical resend answers the first result; a different one conflicts
	if r := h.ok(stage("imp", 0, all[:10])).(StageResult); r.Staged != 10 {
		t.Fatalf("resend %+v", r)
	}
	h.reject(stage("imp", 0, all[:9]), ErrImportConflict)
	if c, ok, _ := h.f.Contact("camp", "s0005"); ok {
		t.Fatalf("staged contact visible: %+v", c)
	}
	if cs, _ := h.f.Contacts("camp"); len(cs) != 3 {
		t.Fatalf("%d contacts listed while staged", len(cs))
	}
	if due, _ := h.f.DueContacts("camp", t0, 100); len(due) != 3 {
		t.Fatalf("%d due while staged", len(due))
	}
	if k := campaignCount(t, h); k.Contacts != 3 || k.Pending != 3 {
		t.Fatalf("counters while staged %+v", k)
	}
	h.reject(&CommitImport{ImportID: "imp", Chunks: 3, At: t0}, ErrImportConflict) // a chunk missing
	if n := h.ok(&CommitImport{ImportID: "imp", Chunks: 2, At: t0}); n != 30 {
		t.Fatalf("commit = %v", n)
	}
	if n := h.ok(&CommitImport{ImportID: "imp", Chunks: 2, At: t0}); n != 30 {
		t.Fatalf("re-commit = %v", n)
	}
	if k := campaignCount(t, h); k.Contacts != 33 || k.Pending != 33 {
		t.Fatalf("counters after commit %+v", k)
	}
	due, err := h.f.DueContacts("camp", t0, 5)
	if err != nil || len(due) != 5 || due[0].ID != "s0029" || due[4].ID != "s0025" {
		t.Fatalf("due after commit %v %v", ids(due), err)
	}
	// the old contacts (value 0..2) interleave in value order
	due, _ = h.f.DueContacts("camp", t0, 100)
	if len(due) != 33 || due[32].Value != 0 || due[31].ID != "o0000" || due[27].Value != 2 {
		t.Fatalf("merged order %v", ids(due))
	}
	// a claim moves the contact's due entry into the campaign's index
	h.ok(&SetCampaignState{ID: "camp", State: CampaignRunning, At: t0})
	h.ok(&ClaimAttempt{AttemptID: "a1", CampaignID: "camp", ContactID: "s0029", Box: "b", Token: 1, At: t0})
	c, ok, _ := h.f.Contact("camp", "s0029")
	if !ok || c.DueIn != "" || c.State != ContactInProgress {
		t.Fatalf("claimed %+v", c)
	}
	h.ok(&FinishAttempt{AttemptID: "a1", Disposition: "busy", SIPCode: 486, At: t0, Outcome: OutcomeRetry, NextAttemptAt: t0})
	due, _ = h.f.DueContacts("camp", t0, 100)
	if len(due) != 33 || due[0].ID != "s0029" {
		t.Fatalf("after retry %v", ids(due))
	}
	h.reject(stage("imp", 2, all[:1]), ErrExists)
}

func ids(cs []Contact) []string {
	out := make([]string, len(cs))
	for i := range cs {
		out[i] = cs[i].ID
	}
	return out
}

// TestStageContactsChecksDuplicatesAndDNC: the FSM refuses rows already
// in the campaign, staged by another import, or on a DNC list.
func TestStageContactsChecksDuplicatesAndDNC(t *testing.T) {
	h := newFSM(t)
	h.ok(&CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	h.ok(&ImportContacts{CampaignID: "camp", ImportID: "old", Contacts: contacts(2, "k"), At: t0})
	h.ok(&AddDNC{Scope: ScopeGlobal, Phone: "+8613800000003", At: t0})
	h.ok(&AddDNC{Scope: "camp", Phone: "+8613800000004", At: t0})
	h.ok(stage("a", 0, contacts(6, "x")[5:]))
	cs := contacts(6, "k")
	cs[5].ID = "x0005" // staged by import a
	r := h.ok(stage("b", 0, cs)).(StageResult)
	want := []RowReject{{0, RejectDuplicate}, {1, RejectDuplicate}, {3, RejectDNC}, {4, RejectDNC}, {5, RejectDuplicate}}
	if r.Staged != 1 || fmt.Sprint(r.Rejected) != fmt.Sprint(want) {
		t.Fatalf("result %+v", r)
	}
	if n := h.ok(&CommitImport{ImportID: "b", Chunks: 1, At: t0}); n != 1 {
		t.Fatalf("commit %v", n)
	}
	if k := campaignCount(t, h); k.Contacts != 3 {
		t.Fatalf("counters %+v", k)
	}
}

// TestAbortStagedImportInSteps: AbortImport removes a staged import a few
// chunks at a time, invisible throughout; its numbers can be staged again
// before it is gone.
func TestAbortStagedImportInSteps(t *testing.T) {
	h := newFSM(t)
	h.ok(&CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	all := contacts(100, "k")
	for seq := 0; seq < 10; seq++ {
		h.ok(stage("a", seq, all[seq*10:seq*10+10]))
	}
	before := dump(t, h.f)
	if n := h.ok(&AbortImport{ImportID: "a"}); n != 10-AbortStepChunks {
		t.Fatalf("first abort step left %v", n)
	}
	h.reject(stage("a", 10, contacts(1, "z")), ErrImportConflict)
	h.reject(&CommitImport{ImportID: "a", Chunks: 10, At: t0}, ErrImportConflict)
	// the remaining staged contacts of a are free for import b
	r := h.ok(stage("b", 0, all[95:])).(StageResult)
	if r.Staged != 5 {
		t.Fatalf("take-over %+v", r)
	}
	for i := 0; i < 10; i++ {
		n := h.ok(&AbortImport{ImportID: "a"})
		if n == 0 {
			break
		}
	}
	h.reject(&AbortImport{ImportID: "a"}, ErrNotFound)
	if s, _ := h.f.StagedImports(); fmt.Sprint(s) != "[b]" {
		t.Fatalf("staged %v", s)
	}
	h.ok(&CommitImport{ImportID: "b", Chunks: 1, At: t0})
	if cs, _ := h.f.Contacts("camp"); len(cs) != 5 || cs[0].ID != "k0095" {
		t.Fatalf("contacts %v", ids(cs))
	}
	if due, _ := h.f.DueContacts("camp", t0, 100); len(due) != 5 {
		t.Fatalf("due %v", ids(due))
	}
	if d := dump(t, h.f); len(d) >= len(before) {
		t.Fatal("aborted import left its keys")
	}
}

// TestSnapshotRoundTripWithStagedImport: a snapshot taken mid-import
// restores the staged import (still invisible), and committing it on both
// gives identical state.
func TestSnapshotRoundTripWithStagedImport(t *testing.T) {
	a := newFSM(t)
	a.ok(&CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	a.ok(stage("imp", 0, contacts(20, "k")))
	a.ok(stage("imp2", 0, contacts(40, "k")[20:]))
	a.ok(&CommitImport{ImportID: "imp2", Chunks: 1, At: t0})
	snap := snapshotBytes(t, a.f)
	b := newFSM(t)
	if err := b.f.Restore(nopCloser(snap)); err != nil {
		t.Fatal(err)
	}
	if da, db := dump(t, a.f), dump(t, b.f); da != db {
		t.Fatal("dumps differ after restore")
	}
	if due, _ := b.f.DueContacts("camp", t0, 100); len(due) != 20 {
		t.Fatalf("due after restore %d", len(due))
	}
	b.idx = b.f.AppliedIndex()
	for _, h := range []*fsmHarness{a, b} {
		if n := h.ok(&CommitImport{ImportID: "imp", Chunks: 1, At: t0.Add(time.Second)}); n != 20 {
			t.Fatalf("commit %v", n)
		}
	}
	if da, db := dump(t, a.f), dump(t, b.f); da != db {
		t.Fatal("dumps differ after the same commit")
	}
	if due, _ := b.f.DueContacts("camp", t0, 100); len(due) != 40 {
		t.Fatalf("due after commit %d", len(due))
	}
}

func TestStageContactsValidate(t *testing.T) {
	mk := func(cs []Contact) StageContacts {
		c, err := NewStageContacts("i", "c", 0, cs)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ok := mk([]Contact{{ID: "k", Phone: "+8613800000000", Name: "张三", Profile: map[string]string{"b": "2", "a": "1"},
		Timezone: "Asia/Shanghai", Value: -2.5, NextAttemptAt: t0, Callback: true}})
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	back, err := ok.Contacts()
	if err != nil || fmt.Sprint(back) != fmt.Sprint([]Contact{{ID: "k", Phone: "+8613800000000", Name: "张三",
		Profile: map[string]string{"a": "1", "b": "2"}, Timezone: "Asia/Shanghai", Value: -2.5, NextAttemptAt: t0, Callback: true}}) {
		t.Fatalf("round trip %+v %v", back, err)
	}
	bad := []StageContacts{
		{CampaignID: "c", Count: 1, Rows: mk(contacts(1, "k")).Rows},
		{ImportID: "i", CampaignID: "c"},
		{ImportID: "i", CampaignID: "c", Seq: -1, Count: 1, Rows: mk(contacts(1, "k")).Rows},
		{ImportID: "i", CampaignID: "c", Seq: MaxImportChunks, Count: 1, Rows: mk(contacts(1, "k")).Rows},
		{ImportID: "i", CampaignID: "c", Count: 2, Rows: mk(contacts(1, "k")).Rows},                    // count mismatch
		{ImportID: "i", CampaignID: "c", Count: 1, Rows: append(mk(contacts(1, "k")).Rows, 0)},         // trailing byte
		{ImportID: "i", CampaignID: "c", Count: 1, Rows: mk(contacts(1, "k")).Rows[:5]},                // truncated
		mk(append(contacts(1, "k"), contacts(1, "k")...)),                                              // duplicate ID
		mk([]Contact{{ID: "k", Phone: "13800000000"}}),                                                 // not E.164
		mk([]Contact{{ID: "k", Phone: "+8613800000000", Timezone: "no zone"}}),                         // bad zone
		mk([]Contact{{ID: "k", Phone: "+8613800000000", Profile: map[string]string{"": "x"}}}),         // empty key
		{ImportID: "i", CampaignID: "c", Count: MaxStageContacts + 1, Rows: mk(contacts(1, "k")).Rows}, // too many
	}
	for i, c := range bad {
		if err := c.Validate(); !errorsIs(err, ErrInvalidCommand) {
			t.Errorf("case %d: %v", i, err)
		}
	}
	if _, err := NewStageContacts("i", "c", 0, []Contact{{ID: "k", Phone: "+8613800000000", State: ContactDone}}); !errorsIs(err, ErrInvalidCommand) {
		t.Errorf("state on import: %v", err)
	}
}

// FuzzDecodeRows: DecodeRows never panics, and what it accepts encodes
// back to the same bytes.
func FuzzDecodeRows(f *testing.F) {
	for _, cs := range [][]Contact{contacts(2, "k"), {{ID: "k", Phone: "+1", Profile: map[string]string{"a": "b", "c": ""}, NextAttemptAt: t0, Callback: true}}} {
		b, err := EncodeRows(cs)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, len(cs))
	}
	f.Add([]byte{}, 0)
	f.Add([]byte{0x80}, 1)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		cs, err := DecodeRows(b, n)
		if err != nil {
			return
		}
		again, err := EncodeRows(cs)
		if err != nil {
			return // e.g. a time outside 1970..2200
		}
		if string(again) != string(b) {
			t.Fatalf("not canonical:\n%x\n%x", b, again)
		}
	})
}
