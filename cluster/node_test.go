package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openNode(t testing.TB, dir string) *Node {
	t.Helper()
	n, err := Open(Config{Dir: dir, NodeID: "box1", BindAddr: "127.0.0.1:0", Bootstrap: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.WaitLeader(ctxT(t, 10*time.Second)); err != nil {
		n.Close()
		t.Fatal(err)
	}
	return n
}

func TestOneNodeBootstrapAndApply(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.Close()
	if !n.IsLeader() || !n.Healthy() {
		t.Fatalf("leader=%v healthy=%v", n.IsLeader(), n.Healthy())
	}
	if id, addr := n.Leader(); id != "box1" || addr == "" {
		t.Fatalf("Leader() = %q %q", id, addr)
	}
	ctx := ctxT(t, 10*time.Second)
	if _, err := n.Apply(ctx, rec("call-1", t0, "")); err != nil {
		t.Fatal(err)
	}
	r, ok, err := n.CallRecord("call-1")
	if err != nil || !ok || r.Number != "+8613800000001" {
		t.Fatalf("CallRecord = %+v %v %v", r, ok, err)
	}
	// FSM rejections come back as errors
	if _, err := n.Apply(ctx, &SetCampaignState{ID: "none", State: CampaignRunning, At: t0}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("apply rejection err = %v", err)
	}
	// invalid commands never reach raft
	if _, err := n.Apply(ctx, &PutCallRecord{}); !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("invalid err = %v", err)
	}
	if s := n.Stats(); s["state"] != "Leader" || s["fsm_applied_index"] == "0" {
		t.Fatalf("stats = %v", s)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := n.Apply(ctx, rec("late", t0, "")); !errors.Is(err, ErrClosed) {
		t.Fatalf("apply after close err = %v", err)
	}
}

func TestRestartKeepsStateWithoutReapplying(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, dir)
	ctx := ctxT(t, 20*time.Second)
	for i := 0; i < 50; i++ {
		if _, err := n.Apply(ctx, rec(fmt.Sprintf("c%02d", i), t0.Add(time.Duration(i)*time.Second), "")); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	for i := 50; i < 60; i++ {
		if _, err := n.Apply(ctx, rec(fmt.Sprintf("c%02d", i), t0.Add(time.Duration(i)*time.Second), "")); err != nil {
			t.Fatal(err)
		}
	}
	want := dump(t, n.FSM())
	applied := n.FSM().AppliedIndex()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	n = openNode(t, dir)
	if err := n.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, n.FSM()); got != want {
		t.Fatal("state differs after restart")
	}
	if c := n.FSM().ApplyCount(); c != 0 {
		t.Fatalf("restart re-applied %d entries", c)
	}
	if s := n.FSM().SkipCount(); s < 10 {
		t.Fatalf("restart skipped only %d entries; replay after the snapshot did not happen", s)
	}
	if n.FSM().AppliedIndex() < applied {
		t.Fatal("applied index went backwards")
	}
	if _, err := n.Apply(ctx, rec("after", t0, "")); err != nil {
		t.Fatal(err)
	}
	if c := n.FSM().ApplyCount(); c != 1 {
		t.Fatalf("apply count = %d, want 1", c)
	}
	want = dump(t, n.FSM())
	n.Close()

	// Lose the state DB entirely: Open restores the newest snapshot and raft
	// replays the log after it.
	if err := os.RemoveAll(filepath.Join(dir, "state")); err != nil {
		t.Fatal(err)
	}
	n = openNode(t, dir)
	defer n.Close()
	if err := n.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, n.FSM()); got != want {
		t.Fatalf("state not rebuilt after losing the state DB:\n%.300s\n---\n%.300s", got, want)
	}
}

func TestStateAheadOfLogRefused(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, dir)
	for i := 0; i < 3; i++ {
		if _, err := n.Apply(ctxT(t, 10*time.Second), rec(fmt.Sprint(i), t0, "")); err != nil {
			t.Fatal(err)
		}
	}
	n.Close()
	if err := os.RemoveAll(filepath.Join(dir, "raft")); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Config{Dir: dir, NodeID: "box1", BindAddr: "127.0.0.1:0", Bootstrap: true, Logger: testLogger(t)})
	if !errors.Is(err, ErrStateAhead) {
		t.Fatalf("Open with lost raft log err = %v, want ErrStateAhead", err)
	}
}

func TestConcurrentApply(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.Close()
	ctx := ctxT(t, 30*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if _, err := n.Apply(ctx, rec(fmt.Sprintf("w%d-%d", w, i), t0, "")); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := n.CallRecords(RecordFilter{Limit: 1000})
	if err != nil || len(all) != 200 {
		t.Fatalf("records = %d, %v", len(all), err)
	}
}

func TestOpenConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{NodeID: "a", BindAddr: "127.0.0.1:0"},
		{Dir: t.TempDir(), BindAddr: "127.0.0.1:0"},
		{Dir: t.TempDir(), NodeID: "a"},
		{Dir: t.TempDir(), NodeID: "a", BindAddr: "not an address"},
	} {
		if n, err := Open(c); err == nil {
			n.Close()
			t.Fatalf("Open(%+v) succeeded", c)
		}
	}
}
