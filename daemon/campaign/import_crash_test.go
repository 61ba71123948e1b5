package campaign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"callbox/cluster"
)

// openNodeAt opens (or reopens) a one-node cluster in dir.
func openNodeAt(t testing.TB, dir string) *cluster.Node {
	t.Helper()
	n, err := cluster.Open(cluster.Config{Dir: dir, NodeID: "box1", BindAddr: "127.0.0.1:0", Bootstrap: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitLeader(ctx); err != nil {
		n.Close()
		t.Fatal(err)
	}
	return n
}

// csvRows is a phone-only CSV with n valid mobile numbers (+ extra lines).
func csvRows(n int, extra ...string) string {
	var b strings.Builder
	b.WriteString("phone,name\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "139%08d,C%d\n", i, i)
	}
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	return b.String()
}

// visible reports what a campaign shows: its counters and its due list.
func visible(t *testing.T, n *cluster.Node) (counted int64, due int) {
	t.Helper()
	k, _, err := n.Campaign("c1")
	if err != nil {
		t.Fatal(err)
	}
	d, err := n.DueContacts("c1", t0.Add(time.Hour), cluster.MaxDueLimit)
	if err != nil {
		t.Fatal(err)
	}
	return k.Counters.Contacts, len(d)
}

// TestImportOver10kIsOneAtomicImport: a 25,000-row file is one import; in
// reject-all mode one bad row at the very end leaves nothing visible and
// nothing staged; in valid-rows mode every good row becomes visible at once.
func TestImportOver10kIsOneAtomicImport(t *testing.T) {
	n := openNode(t)
	apply(t, n, cluster.CreateCampaign{Campaign: testCampaign("c1"), At: t0})
	body := csvRows(25_000, "12345,bad")
	rep, err := Import(context.Background(), strings.NewReader(body), n, ImportOptions{CampaignID: "c1", ImportID: "big-r", Mode: ModeRejectAll, At: t0})
	if !errors.Is(err, ErrRejected) || rep.Imported != 0 || rep.Invalid != 1 || rep.Problems[0].Line != 25_002 {
		t.Fatalf("reject-all: %v, report %+v", err, rep.Problems)
	}
	if c, d := visible(t, n); c != 0 || d != 0 {
		t.Fatalf("rejected import left %d counted, %d due", c, d)
	}
	if s, _ := n.StagedImports(); len(s) != 0 {
		t.Fatalf("rejected import left staged %v", s)
	}
	rep, err = Import(context.Background(), strings.NewReader(body), n, ImportOptions{CampaignID: "c1", ImportID: "big-v", Mode: ModeValidRows, At: t0})
	if err != nil || rep.Imported != 25_000 || len(rep.Imports) != 1 || rep.Invalid != 1 {
		t.Fatalf("valid-rows: %v imported %d imports %v invalid %d", err, rep.Imported, rep.Imports, rep.Invalid)
	}
	if c, d := visible(t, n); c != 25_000 || d != cluster.MaxDueLimit {
		t.Fatalf("after commit %d counted, %d due", c, d)
	}
	// DNC and duplicates are found by the state machine and reported per row
	apply(t, n, cluster.AddDNC{Scope: cluster.ScopeGlobal, Phone: "+8613800000001", At: t0})
	rep, err = Import(context.Background(), strings.NewReader("phone\n13800000001\n13900000005\n13800000002\n"), n,
		ImportOptions{CampaignID: "c1", ImportID: "small", Mode: ModeValidRows, At: t0})
	if err != nil || rep.Imported != 1 || fmt.Sprint(rep.Problems) != "[{2 phone on DNC list the number is on the do-not-call list} {3 phone duplicate in campaign the number is already in the campaign}]" {
		t.Fatalf("checks: %v %+v", err, rep)
	}
}

// crashingStore applies commands until it has passed `after`
// StageContacts; from then on nothing reaches the cluster any more (the
// importing process is dead: no further chunk, no commit, no abort). The
// test then closes the node and opens it again. (Closing the node under
// an apply in flight is not used: hashicorp/raft may then never answer
// the apply's future, hashicorp/raft#498, and Node.Close waits for it.)
type crashingStore struct {
	n      *cluster.Node
	after  int32
	staged atomic.Int32
	dead   atomic.Bool
}

var errCrashed = errors.New("process crashed")

func (s *crashingStore) Apply(ctx context.Context, cmd cluster.Command) (any, error) {
	if _, ok := cmd.(cluster.StageContacts); ok && s.staged.Add(1) > s.after {
		s.dead.Store(true)
	}
	if s.dead.Load() {
		return nil, errCrashed
	}
	return s.n.Apply(ctx, cmd)
}

// TestImportCrashMidImportLeavesNothing: the node dies after some chunks
// were staged; after a restart nothing of the import is visible, the
// startup abort removes it, and the same file imports again in full.
func TestImportCrashMidImportLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	n := openNodeAt(t, dir)
	apply(t, n, cluster.CreateCampaign{Campaign: testCampaign("c1"), At: t0})
	body := csvRows(22_000)
	_, err := Import(context.Background(), strings.NewReader(body), &crashingStore{n: n, after: 3}, ImportOptions{CampaignID: "c1", ImportID: "imp-box1-x", Mode: ModeValidRows, At: t0})
	if !errors.Is(err, errCrashed) {
		t.Fatalf("import survived the crash: %v", err)
	}
	n.Close()
	n = openNodeAt(t, dir)
	defer n.Close()
	if c, d := visible(t, n); c != 0 || d != 0 {
		t.Fatalf("after the crash %d counted, %d due", c, d)
	}
	if _, ok, _ := n.Contact("c1", ContactID("+8613900000000")); ok {
		t.Fatal("a staged contact is readable")
	}
	staged, _ := n.StagedImports()
	if fmt.Sprint(staged) != "[imp-box1-x]" {
		t.Fatalf("staged %v", staged)
	}
	// what the daemon does at start: abort its own staged imports
	for i := 0; ; i++ {
		res, err := n.Apply(context.Background(), cluster.AbortImport{ImportID: "imp-box1-x"})
		if errors.Is(err, cluster.ErrNotFound) || res == 0 {
			break
		}
		if err != nil || i > 10 {
			t.Fatalf("abort: %v %v", res, err)
		}
	}
	rep, err := Import(context.Background(), strings.NewReader(body), n, ImportOptions{CampaignID: "c1", ImportID: "imp-box1-y", Mode: ModeRejectAll, At: t0})
	if err != nil || rep.Imported != 22_000 {
		t.Fatalf("re-import: %v %d", err, rep.Imported)
	}
}

// TestImportCommitSurvivesCrash: CommitImport is one raft entry; once it is
// committed, a restart — even one that lost the state database and
// rebuilds it from the raft log — shows the whole import, never part.
func TestImportCommitSurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	n := openNodeAt(t, dir)
	apply(t, n, cluster.CreateCampaign{Campaign: testCampaign("c1"), At: t0})
	rep, err := Import(context.Background(), strings.NewReader(csvRows(12_000)), n, ImportOptions{CampaignID: "c1", ImportID: "imp", Mode: ModeRejectAll, At: t0})
	if err != nil || rep.Imported != 12_000 {
		t.Fatalf("import: %v %d", err, rep.Imported)
	}
	n.Close()
	if err := os.RemoveAll(filepath.Join(dir, "state")); err != nil {
		t.Fatal(err)
	}
	n = openNodeAt(t, dir)
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if c, d := visible(t, n); c != 12_000 || d != cluster.MaxDueLimit {
		t.Fatalf("after replay %d counted, %d due", c, d)
	}
	if s, _ := n.StagedImports(); len(s) != 0 {
		t.Fatalf("staged after replay %v", s)
	}
}

// TestImportWideSheetSplitsChunks: rows with many long profile columns are
// sent in chunks small enough for one raft entry and one transaction.
func TestImportWideSheetSplitsChunks(t *testing.T) {
	n := openNode(t)
	apply(t, n, cluster.CreateCampaign{Campaign: testCampaign("c1"), At: t0})
	var b strings.Builder
	b.WriteString("phone")
	for c := 0; c < 30; c++ {
		fmt.Fprintf(&b, ",col%d", c)
	}
	b.WriteString("\n")
	cell := strings.Repeat("x", 200)
	for i := 0; i < 3000; i++ { // 18 MB of profile text
		fmt.Fprintf(&b, "139%08d", i)
		for c := 0; c < 30; c++ {
			b.WriteString("," + cell)
		}
		b.WriteString("\n")
	}
	rep, err := Import(context.Background(), strings.NewReader(b.String()), n, ImportOptions{CampaignID: "c1", ImportID: "wide", Mode: ModeRejectAll, At: t0})
	if err != nil || rep.Imported != 3000 {
		t.Fatalf("wide import: %v %d", err, rep.Imported)
	}
	c, ok, err := n.Contact("c1", ContactID("+8613900002999"))
	if err != nil || !ok || len(c.Profile) != 30 || c.Profile["col29"] != cell {
		t.Fatalf("contact %v %v %d", ok, err, len(c.Profile))
	}
}

// stopBeforeCommit stops the campaign just before the import commits.
type stopBeforeCommit struct{ n *cluster.Node }

func (s stopBeforeCommit) Apply(ctx context.Context, cmd cluster.Command) (any, error) {
	if _, ok := cmd.(cluster.CommitImport); ok {
		if _, err := s.n.Apply(ctx, cluster.SetCampaignState{ID: "c1", State: cluster.CampaignStopped, At: t0, Reason: "test"}); err != nil &&
			!errors.Is(err, cluster.ErrBadTransition) {
			return nil, err
		}
	}
	return s.n.Apply(ctx, cmd)
}

// TestImportCommitRefusedLeavesNothing: a commit the state machine refuses
// (the campaign was stopped meanwhile) aborts the staged import.
func TestImportCommitRefusedLeavesNothing(t *testing.T) {
	n := openNode(t)
	apply(t, n, cluster.CreateCampaign{Campaign: testCampaign("c1"), At: t0})
	_, err := Import(context.Background(), strings.NewReader(csvRows(7000)), stopBeforeCommit{n}, ImportOptions{CampaignID: "c1", ImportID: "imp", Mode: ModeRejectAll, At: t0})
	if !errors.Is(err, cluster.ErrCampaignNotActive) {
		t.Fatalf("err %v", err)
	}
	if s, _ := n.StagedImports(); len(s) != 0 {
		t.Fatalf("staged %v", s)
	}
	if cs, _ := n.Contacts("c1"); len(cs) != 0 {
		t.Fatalf("%d contacts visible", len(cs))
	}
}
