package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("CLUSTER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fsmHarness drives an FSM directly with increasing raft indexes.
type fsmHarness struct {
	t   testing.TB
	f   *FSM
	idx uint64
	log []*raft.Log // every entry applied, for replay
}

func newFSM(t testing.TB) *fsmHarness {
	t.Helper()
	f, err := OpenFSM(t.TempDir(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &fsmHarness{t: t, f: f}
}

func (h *fsmHarness) entry(cmd Command) *raft.Log {
	h.t.Helper()
	b, err := Encode(cmd)
	if err != nil {
		h.t.Fatalf("encode %T: %v", cmd, err)
	}
	h.idx++
	return &raft.Log{Index: h.idx, Term: 1, Type: raft.LogCommand, Data: b}
}

// apply applies cmds as one batch and returns responses.
func (h *fsmHarness) apply(cmds ...Command) []any {
	h.t.Helper()
	var logs []*raft.Log
	for _, c := range cmds {
		logs = append(logs, h.entry(c))
	}
	h.log = append(h.log, logs...)
	return h.f.ApplyBatch(logs)
}

// ok applies one command and fails the test on a rejection.
func (h *fsmHarness) ok(cmd Command) any {
	h.t.Helper()
	r := h.apply(cmd)[0]
	if err, isErr := r.(error); isErr {
		h.t.Fatalf("%T rejected: %v", cmd, err)
	}
	return r
}

// reject applies one command and requires a rejection wrapping want.
func (h *fsmHarness) reject(cmd Command, want error) {
	h.t.Helper()
	r := h.apply(cmd)[0]
	err, isErr := r.(error)
	if !isErr {
		h.t.Fatalf("%T accepted, want %v", cmd, want)
	}
	if want != nil && !errorsIs(err, want) {
		h.t.Fatalf("%T rejected with %v, want %v", cmd, err, want)
	}
}

func dump(t testing.TB, f *FSM) string {
	t.Helper()
	var b bytes.Buffer
	if err := f.Dump(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func testCampaign(id string) Campaign {
	return Campaign{
		ID: id, Name: "Card renewal " + id, FlowID: "flow-1", Trunks: []string{"trunk-a"},
		CallerID: "+8610000000", TimezonePolicy: "campaign", Timezone: "Asia/Shanghai",
		Windows:     []Window{{Days: []string{"mon", "tue"}, Start: "09:00", End: "18:00"}},
		MaxAttempts: 3,
		RetryRules:  map[string]RetryRule{"busy": {Delay: 10 * time.Minute, Action: "retry"}},
		Pacing:      Pacing{Mode: "fixed", MaxConcurrent: 4, CPS: 2},
	}
}

func contacts(n int, prefix string) []Contact {
	out := make([]Contact, n)
	for i := range out {
		out[i] = Contact{ID: fmt.Sprintf("%s%04d", prefix, i), Phone: fmt.Sprintf("+86138%08d", i), Name: "n", Value: float64(i % 7)}
	}
	return out
}

// testSink is an in-memory raft.SnapshotSink.
type testSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *testSink) ID() string    { return "test" }
func (s *testSink) Cancel() error { s.cancelled = true; return nil }
func (s *testSink) Close() error  { return nil }

func snapshotBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var s testSink
	if err := snap.Persist(&s); err != nil {
		t.Fatal(err)
	}
	return s.Bytes()
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
