package campaign

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"callbox/cluster"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday

// openNode opens a one-node cluster on disk (real raft + Badger).
func openNode(t testing.TB) *cluster.Node {
	t.Helper()
	n, err := cluster.Open(cluster.Config{Dir: t.TempDir(), NodeID: "box1", BindAddr: "127.0.0.1:0", Bootstrap: true,
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
	t.Cleanup(func() { n.Close() })
	return n
}

func apply(t testing.TB, n *cluster.Node, cmd cluster.Command) any {
	t.Helper()
	res, err := n.Apply(context.Background(), cmd)
	if err != nil {
		t.Fatalf("%T: %v", cmd, err)
	}
	return res
}

func testCampaign(id string) cluster.Campaign {
	return cluster.Campaign{ID: id, Name: id, FlowID: "f", TimezonePolicy: "contact", Timezone: "Asia/Shanghai",
		MaxAttempts: 3, Pacing: cluster.Pacing{Mode: "agentless", MaxConcurrent: 10, CPS: 10}, DefaultRegion: "CN"}
}

// memStore is an in-memory Store recording the commands it is given; it
// answers StageContacts like the FSM (duplicates in the campaign and DNC
// numbers are refused).
type memStore struct {
	mu       sync.Mutex
	cmds     []cluster.Command
	existing map[string]bool
	dnc      map[string]bool
	staged   map[string]int
	visible  int
}

func newMemStore() *memStore {
	return &memStore{existing: map[string]bool{}, dnc: map[string]bool{}, staged: map[string]int{}}
}

func (m *memStore) Apply(_ context.Context, cmd cluster.Command) (any, error) {
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cmds = append(m.cmds, cmd)
	switch c := cmd.(type) {
	case cluster.StageContacts:
		res := cluster.StageResult{Seq: c.Seq}
		cs, err := c.Contacts()
		if err != nil {
			return nil, err
		}
		for i, ct := range cs {
			switch {
			case m.existing[ct.ID]:
				res.Rejected = append(res.Rejected, cluster.RowReject{Index: i, Reason: cluster.RejectDuplicate})
			case m.dnc[ct.Phone]:
				res.Rejected = append(res.Rejected, cluster.RowReject{Index: i, Reason: cluster.RejectDNC})
			default:
				res.Staged++
			}
		}
		m.staged[c.ImportID] += res.Staged
		return res, nil
	case cluster.CommitImport:
		n := m.staged[c.ImportID]
		delete(m.staged, c.ImportID)
		m.visible += n
		return n, nil
	case cluster.AbortImport:
		delete(m.staged, c.ImportID)
		return 0, nil
	}
	return nil, nil
}
