package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func rec(id string, at time.Time, camp string) *PutCallRecord {
	return &PutCallRecord{Record: CallRecord{ID: id, Number: "+8613800000001", Direction: "outbound", Box: "box1",
		CampaignID: camp, InviteAt: at, Tags: map[string]string{"k": "v"}}}
}

func TestCallRecordsPutGetList(t *testing.T) {
	h := newFSM(t)
	for i := 0; i < 10; i++ {
		camp := "c1"
		if i%2 == 1 {
			camp = "c2"
		}
		h.ok(rec(fmt.Sprintf("call-%d", i), t0.Add(time.Duration(i)*time.Minute), camp))
	}
	// upsert: move call-3 to the end and change its campaign
	up := rec("call-3", t0.Add(time.Hour), "c1")
	up.Record.Disposition, up.Record.SIPCode, up.Record.HangupBy = "answered", 200, "callee"
	h.ok(up)

	r, ok, err := h.f.CallRecord("call-3")
	if err != nil || !ok || r.Disposition != "answered" || r.SIPCode != 200 || !r.InviteAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("CallRecord(call-3) = %+v %v %v", r, ok, err)
	}
	if _, ok, _ := h.f.CallRecord("nope"); ok {
		t.Fatal("found a record that was never written")
	}
	all, err := h.f.CallRecords(RecordFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range all {
		ids = append(ids, r.ID)
	}
	want := "[call-3 call-9 call-8 call-7 call-6 call-5 call-4 call-2 call-1 call-0]"
	if fmt.Sprint(ids) != want {
		t.Fatalf("list = %v, want %v", ids, want)
	}
	c2, _ := h.f.CallRecords(RecordFilter{Campaign: "c2"})
	if len(c2) != 4 { // 1,5,7,9 (3 moved to c1)
		t.Fatalf("campaign c2 has %d records, want 4", len(c2))
	}
	win, _ := h.f.CallRecords(RecordFilter{Since: t0.Add(2 * time.Minute), Until: t0.Add(5 * time.Minute), Limit: 2})
	if len(win) != 2 || win[0].ID != "call-4" || win[1].ID != "call-2" {
		t.Fatalf("window = %+v", win)
	}
	if _, err := h.f.CallRecords(RecordFilter{Limit: -1}); !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("negative limit err = %v", err)
	}
	if _, err := h.f.CallRecords(RecordFilter{Since: t0, Until: t0}); !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("empty window err = %v", err)
	}
}

func TestCommandValidationErrorsNameField(t *testing.T) {
	cases := []struct {
		cmd  Command
		want string
	}{
		{&PutCallRecord{}, "Record.ID is empty"},
		{&PutCallRecord{Record: CallRecord{ID: "x", HangupBy: "me"}}, "Record.HangupBy"},
		{&PutCallRecord{Record: CallRecord{ID: "x", SIPCode: 42}}, "Record.SIPCode 42"},
		{&ClaimAttempt{AttemptID: "a", CampaignID: "c", ContactID: "k", Box: "b", At: t0}, "Token is 0"},
		{&AddDNC{Scope: "global", Phone: "12345", At: t0}, "Phone"},
		{&ImportContacts{CampaignID: "c", ImportID: "i", At: t0, Contacts: []Contact{{ID: "a", Phone: "+8613800000000"}, {ID: "a", Phone: "+8613800000001"}}}, "duplicated"},
		{&SetCampaignState{ID: "c", State: "flying", At: t0}, "State \"flying\""},
	}
	for _, c := range cases {
		err := c.cmd.Validate()
		if !errors.Is(err, ErrInvalidCommand) || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("%T: err %v, want mention of %q", c.cmd, err, c.want)
		}
	}
	c := testCampaign("x")
	c.Pacing.CPS = 0
	if err := (CreateCampaign{Campaign: c, At: t0}).Validate(); err == nil || !bytes.Contains([]byte(err.Error()), []byte("Pacing.CPS")) {
		t.Errorf("CPS 0: %v", err)
	}
}

func TestUnknownAndCorruptEntriesLeaveStateUnchanged(t *testing.T) {
	h := newFSM(t)
	h.ok(rec("a", t0, ""))
	before := dump(t, h.f)
	h.idx++
	resps := h.f.ApplyBatch([]*raft.Log{
		{Index: h.idx, Type: raft.LogCommand, Data: []byte{200, '{', '}'}},
		{Index: h.idx + 1, Type: raft.LogCommand, Data: []byte{byte(TypePutCallRecord), '{'}},
		{Index: h.idx + 2, Type: raft.LogCommand, Data: nil},
		{Index: h.idx + 3, Type: raft.LogConfiguration, Data: []byte("cfg")},
	})
	h.idx += 3
	if !errors.Is(resps[0].(error), ErrUnknownCommand) || !errors.Is(resps[1].(error), ErrInvalidCommand) || !errors.Is(resps[2].(error), ErrInvalidCommand) || resps[3] != nil {
		t.Fatalf("responses = %v", resps)
	}
	if after := dump(t, h.f); after != before {
		t.Fatalf("state changed:\n%s\n---\n%s", before, after)
	}
	if h.f.AppliedIndex() != h.idx {
		t.Fatalf("applied = %d, want %d", h.f.AppliedIndex(), h.idx)
	}
}

func TestBatchSkipsAlreadyApplied(t *testing.T) {
	h := newFSM(t)
	h.apply(rec("a", t0, ""), rec("b", t0, ""))
	n := h.f.ApplyCount()
	// replay of the same entries must not apply again
	r := h.f.ApplyBatch(h.log)
	if h.f.ApplyCount() != n || h.f.SkipCount() != 2 || r[0] != nil {
		t.Fatalf("replay applied: count %d->%d skip %d", n, h.f.ApplyCount(), h.f.SkipCount())
	}
	if h.f.AppliedIndex() != 2 {
		t.Fatalf("applied index went to %d", h.f.AppliedIndex())
	}
}

// buildState runs a representative history through h.
func buildState(t *testing.T, h *fsmHarness) {
	h.ok(&CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	h.ok(&ImportContacts{CampaignID: "camp", ImportID: "imp1", Contacts: contacts(30, "k"), At: t0})
	h.ok(&SetCampaignState{ID: "camp", State: CampaignRunning, At: t0})
	h.ok(&AddDNC{Scope: ScopeGlobal, Phone: contacts(30, "k")[3].Phone, Reason: "asked", At: t0})
	h.ok(&ClaimAttempt{AttemptID: "a1", CampaignID: "camp", ContactID: "k0001", Box: "box1", Token: 1, At: t0})
	h.ok(&FinishAttempt{AttemptID: "a1", Disposition: "busy", SIPCode: 486, At: t0.Add(time.Minute), Outcome: OutcomeRetry, NextAttemptAt: t0.Add(time.Hour)})
	h.ok(&ClaimAttempt{AttemptID: "a2", CampaignID: "camp", ContactID: "k0002", Box: "box1", Token: 1, At: t0})
	h.ok(&ImportChunk{ImportID: "staged", CampaignID: "camp", Seq: 0, Contacts: contacts(3, "s")})
	for i := 0; i < 5; i++ {
		h.ok(rec(fmt.Sprintf("r%d", i), t0.Add(time.Duration(i)*time.Second), "camp"))
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	a := newFSM(t)
	buildState(t, a)
	snap := snapshotBytes(t, a.f)

	b := newFSM(t)
	b.ok(rec("junk", t0, "")) // state that Restore must replace
	if err := b.f.Restore(nopCloser(snap)); err != nil {
		t.Fatal(err)
	}
	if da, db := dump(t, a.f), dump(t, b.f); da != db {
		t.Fatalf("dumps differ after restore:\n%s\n---\n%s", da, db)
	}
	if b.f.AppliedIndex() != a.f.AppliedIndex() {
		t.Fatalf("applied %d vs %d", b.f.AppliedIndex(), a.f.AppliedIndex())
	}
	// restored state is live: reads and further applies work
	if cs, err := b.f.DueContacts("camp", t0, 100); err != nil || len(cs) != 27 {
		t.Fatalf("due after restore = %d, %v", len(cs), err)
	}
	b.idx = b.f.AppliedIndex()
	b.ok(&FinishAttempt{AttemptID: "a2", Disposition: "answered", SIPCode: 200, At: t0, Outcome: OutcomeDone})
	// the restored snapshot of b equals a's after the same command
	a.ok(&FinishAttempt{AttemptID: "a2", Disposition: "answered", SIPCode: 200, At: t0, Outcome: OutcomeDone})
	if da, db := dump(t, a.f), dump(t, b.f); da != db {
		t.Fatal("dumps differ after applying the same command post-restore")
	}
}

type rc struct{ *bytes.Reader }

func (rc) Close() error { return nil }

func nopCloser(b []byte) rc { return rc{bytes.NewReader(b)} }

func TestRestoreRefusesDamagedSnapshots(t *testing.T) {
	a := newFSM(t)
	buildState(t, a)
	snap := snapshotBytes(t, a.f)

	b := newFSM(t)
	b.ok(rec("keep-me", t0, ""))
	before := dump(t, b.f)
	applied := b.f.AppliedIndex()

	damaged := map[string][]byte{
		"empty":        nil,
		"header only":  snap[:16],
		"half":         snap[:len(snap)/2],
		"no checksum":  snap[:len(snap)-32],
		"last byte":    snap[:len(snap)-1],
		"extra byte":   append(append([]byte(nil), snap...), 0),
		"bad magic":    append([]byte("XBXSNAP1"), snap[8:]...),
		"applied flip": flip(snap, 12),
	}
	for _, pos := range []int{20, len(snap) / 3, len(snap) / 2, len(snap) - 40, len(snap) - 5} {
		damaged[fmt.Sprintf("bit flip at %d", pos)] = flip(snap, pos)
	}
	for name, d := range damaged {
		err := b.f.Restore(nopCloser(d))
		if !errors.Is(err, ErrSnapshotCorrupt) {
			t.Errorf("%s: Restore err = %v, want ErrSnapshotCorrupt", name, err)
		}
		if after := dump(t, b.f); after != before {
			t.Fatalf("%s: state changed by a refused restore", name)
		}
		if b.f.AppliedIndex() != applied {
			t.Fatalf("%s: applied index changed", name)
		}
	}
	// and the intact snapshot still restores afterwards
	if err := b.f.Restore(nopCloser(snap)); err != nil {
		t.Fatal(err)
	}
	if dump(t, b.f) != dump(t, a.f) {
		t.Fatal("intact restore after refusals differs")
	}
}

func flip(b []byte, pos int) []byte {
	c := append([]byte(nil), b...)
	c[pos] ^= 0x10
	return c
}

func TestDeterministicReplay(t *testing.T) {
	a := newFSM(t)
	buildState(t, a)
	a.ok(&MarkInterrupted{Box: "box1", At: t0.Add(2 * time.Minute)})
	a.reject(&ClaimAttempt{AttemptID: "a1", CampaignID: "camp", ContactID: "k0005", Box: "b", Token: 9, At: t0}, ErrExists)

	// replay the same log into two fresh FSMs, one entry at a time and all in one batch
	b, c := newFSM(t), newFSM(t)
	for _, l := range a.log {
		b.f.ApplyBatch([]*raft.Log{l})
	}
	c.f.ApplyBatch(a.log)
	da := dump(t, a.f)
	if db := dump(t, b.f); db != da {
		t.Fatalf("one-by-one replay differs:\n%s\n---\n%s", da, db)
	}
	if dc := dump(t, c.f); dc != da {
		t.Fatal("single-batch replay differs")
	}
}

func TestRejectedCommandInBatchLeavesNoTrace(t *testing.T) {
	// CommitImport whose contacts clash is rejected in the middle of a batch;
	// neighbours in the same batch still apply.
	h := newFSM(t)
	h.ok(&CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	h.ok(&ImportContacts{CampaignID: "camp", ImportID: "i1", Contacts: contacts(2, "k"), At: t0})
	h.ok(&ImportChunk{ImportID: "i2", CampaignID: "camp", Seq: 0, Contacts: contacts(3, "k")})
	before := dump(t, h.f)
	r := h.apply(rec("x", t0, ""), &CommitImport{ImportID: "i2", Chunks: 1, At: t0}, rec("y", t0, ""))
	if r[0] != nil || r[2] != nil || !errors.Is(r[1].(error), ErrImportConflict) {
		t.Fatalf("responses %v", r)
	}
	if cs, _ := h.f.Contacts("camp"); len(cs) != 2 {
		t.Fatalf("rejected import left contacts behind: %d contacts", len(cs))
	}
	if n, _ := h.f.CampaignCounters("camp"); n.Contacts != 2 || n.Pending != 2 {
		t.Fatalf("counters changed by rejected import: %+v", n)
	}
	if st, _ := h.f.StagedImports(); len(st) != 1 || st[0] != "i2" {
		t.Fatalf("staged imports = %v", st)
	}
	_ = before
	for _, id := range []string{"x", "y"} {
		if _, ok, _ := h.f.CallRecord(id); !ok {
			t.Fatalf("record %s from the same batch missing", id)
		}
	}
}
