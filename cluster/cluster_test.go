package cluster

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// partNet records which directed address pairs are cut.
type partNet struct {
	mu  sync.Mutex
	cut map[[2]raft.ServerAddress]bool // guarded by mu
}

func (p *partNet) blocked(from, to raft.ServerAddress) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut[[2]raft.ServerAddress{from, to}]
}

// isolate cuts a off from every address in others, both directions.
func (p *partNet) isolate(a raft.ServerAddress, others ...raft.ServerAddress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range others {
		p.cut[[2]raft.ServerAddress{a, o}] = true
		p.cut[[2]raft.ServerAddress{o, a}] = true
	}
}

func (p *partNet) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = map[[2]raft.ServerAddress]bool{}
}

var errPartitioned = errors.New("test: partitioned")

// partTransport wraps an InmemTransport and drops RPCs across cut pairs.
// Pipelining is refused so every AppendEntries passes the check.
type partTransport struct {
	*raft.InmemTransport
	net *partNet
}

func (p *partTransport) check(target raft.ServerAddress) error {
	if p.net.blocked(p.LocalAddr(), target) {
		return errPartitioned
	}
	return nil
}

func (p *partTransport) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

func (p *partTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, a *raft.AppendEntriesRequest, r *raft.AppendEntriesResponse) error {
	if err := p.check(target); err != nil {
		return err
	}
	return p.InmemTransport.AppendEntries(id, target, a, r)
}

func (p *partTransport) RequestVote(id raft.ServerID, target raft.ServerAddress, a *raft.RequestVoteRequest, r *raft.RequestVoteResponse) error {
	if err := p.check(target); err != nil {
		return err
	}
	return p.InmemTransport.RequestVote(id, target, a, r)
}

func (p *partTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, a *raft.RequestPreVoteRequest, r *raft.RequestPreVoteResponse) error {
	if err := p.check(target); err != nil {
		return err
	}
	return p.InmemTransport.RequestPreVote(id, target, a, r)
}

func (p *partTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, a *raft.InstallSnapshotRequest, r *raft.InstallSnapshotResponse, data io.Reader) error {
	if err := p.check(target); err != nil {
		return err
	}
	return p.InmemTransport.InstallSnapshot(id, target, a, r, data)
}

func (p *partTransport) TimeoutNow(id raft.ServerID, target raft.ServerAddress, a *raft.TimeoutNowRequest, r *raft.TimeoutNowResponse) error {
	if err := p.check(target); err != nil {
		return err
	}
	return p.InmemTransport.TimeoutNow(id, target, a, r)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestThreeNodePartitionConverges(t *testing.T) {
	pn := &partNet{cut: map[[2]raft.ServerAddress]bool{}}
	var trans []*partTransport
	for i := 0; i < 3; i++ {
		_, tr := raft.NewInmemTransport(raft.ServerAddress(fmt.Sprintf("node%d", i)))
		trans = append(trans, &partTransport{InmemTransport: tr, net: pn})
	}
	for _, a := range trans {
		for _, b := range trans {
			if a != b {
				a.Connect(b.LocalAddr(), b.InmemTransport)
			}
		}
	}
	nodes := make([]*Node, 3)
	for i := range nodes {
		n, err := Open(Config{Dir: t.TempDir(), NodeID: fmt.Sprintf("node%d", i), Transport: trans[i],
			Bootstrap: i == 0, Logger: testLogger(t), trailingLogs: 5, SnapshotThreshold: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = n
		defer n.Close()
	}
	ctx := ctxT(t, 60*time.Second)
	if err := nodes[0].WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 3; i++ {
		if err := nodes[0].AddVoter(fmt.Sprintf("node%d", i), string(trans[i].LocalAddr()), 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	leader := func() *Node {
		for _, n := range nodes {
			if n.IsLeader() {
				return n
			}
		}
		return nil
	}
	apply := func(cmd Command) {
		t.Helper()
		for tries := 0; ; tries++ {
			l := leader()
			if l != nil {
				if _, err := l.Apply(ctxT(t, 2*time.Second), cmd); err == nil {
					return
				} else if tries > 200 {
					t.Fatal(err)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	apply(&CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	apply(&ImportContacts{CampaignID: "camp", ImportID: "i", Contacts: contacts(20, "k"), At: t0})
	apply(&SetCampaignState{ID: "camp", State: CampaignRunning, At: t0})
	for i := 0; i < 10; i++ {
		apply(rec(fmt.Sprintf("before-%d", i), t0.Add(time.Duration(i)*time.Second), "camp"))
	}

	// Cut the leader off. Its write cannot commit.
	old := leader()
	var oldIdx int
	var rest []raft.ServerAddress
	for i, n := range nodes {
		if n == old {
			oldIdx = i
		} else {
			rest = append(rest, trans[i].LocalAddr())
		}
	}
	pn.isolate(trans[oldIdx].LocalAddr(), rest...)
	if _, err := old.Apply(ctxT(t, 1500*time.Millisecond), rec("lost-write", t0, "")); err == nil {
		t.Fatal("isolated leader committed a write")
	}
	waitFor(t, 30*time.Second, "a new leader", func() bool { l := leader(); return l != nil && l != old })
	for i := 0; i < 10; i++ {
		apply(rec(fmt.Sprintf("during-%d", i), t0.Add(time.Duration(i)*time.Minute), "camp"))
	}
	apply(&ClaimAttempt{AttemptID: "a1", CampaignID: "camp", ContactID: "k0001", Box: "b", Token: 1, At: t0})
	// Compact the majority's log so the old leader must take a snapshot
	// (FSM Restore over the transport) to catch up.
	if err := leader().Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		apply(rec(fmt.Sprintf("after-snap-%d", i), t0, ""))
	}

	pn.heal()
	apply(rec("marker", t0, ""))
	waitFor(t, 30*time.Second, "all nodes to converge", func() bool {
		for _, n := range nodes {
			if _, ok, _ := n.CallRecord("marker"); !ok {
				return false
			}
		}
		a := nodes[0].FSM().AppliedIndex()
		return nodes[1].FSM().AppliedIndex() == a && nodes[2].FSM().AppliedIndex() == a
	})
	want := dump(t, nodes[0].FSM())
	for i, n := range nodes[1:] {
		if got := dump(t, n.FSM()); got != want {
			t.Fatalf("node%d state differs from node0", i+1)
		}
	}
	for _, n := range nodes {
		if _, ok, _ := n.CallRecord("lost-write"); ok {
			t.Fatal("uncommitted write from the isolated leader survived")
		}
		recs, _ := n.CallRecords(RecordFilter{Campaign: "camp", Limit: 100})
		if len(recs) != 20 || recs[0].ID != "during-9" {
			t.Fatalf("records on a node: %d, first %v", len(recs), recs)
		}
	}
}
