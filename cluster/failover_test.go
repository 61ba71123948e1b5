package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

type inmemCluster struct {
	t     *testing.T
	pn    *partNet
	trans []*partTransport
	nodes []*Node
}

func newInmemCluster(t *testing.T, n int) *inmemCluster {
	c := &inmemCluster{t: t, pn: &partNet{cut: map[[2]raft.ServerAddress]bool{}}}
	for i := 0; i < n; i++ {
		_, tr := raft.NewInmemTransport(raft.ServerAddress(fmt.Sprintf("node%d", i)))
		c.trans = append(c.trans, &partTransport{InmemTransport: tr, net: c.pn})
	}
	for _, a := range c.trans {
		for _, b := range c.trans {
			if a != b {
				a.Connect(b.LocalAddr(), b.InmemTransport)
			}
		}
	}
	for i := 0; i < n; i++ {
		node, err := Open(Config{Dir: t.TempDir(), NodeID: fmt.Sprintf("node%d", i), Transport: c.trans[i],
			Bootstrap: i == 0, Logger: testLogger(t), SnapshotThreshold: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, node)
		t.Cleanup(func() { node.Close() })
	}
	if err := c.nodes[0].WaitLeader(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		if err := c.nodes[0].AddVoter(fmt.Sprintf("node%d", i), string(c.trans[i].LocalAddr()), 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// leaderAmong returns a leader among idx (nil if none).
func (c *inmemCluster) leaderAmong(idx ...int) *Node {
	for _, i := range idx {
		if c.nodes[i].IsLeader() {
			return c.nodes[i]
		}
	}
	return nil
}

func (c *inmemCluster) all() []int {
	var out []int
	for i := range c.nodes {
		out = append(out, i)
	}
	return out
}

func (c *inmemCluster) index(n *Node) int {
	for i, m := range c.nodes {
		if m == n {
			return i
		}
	}
	return -1
}

// split cuts group a from group b.
func (c *inmemCluster) split(a, b []int) {
	for _, i := range a {
		var others []raft.ServerAddress
		for _, j := range b {
			others = append(others, c.trans[j].LocalAddr())
		}
		c.pn.isolate(c.trans[i].LocalAddr(), others...)
	}
}

// apply commits cmd on a leader among idx, retrying through elections.
func (c *inmemCluster) apply(cmd Command, idx ...int) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if l := c.leaderAmong(idx...); l != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := l.Apply(ctx, cmd)
			cancel()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				c.t.Fatal(err)
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no leader among %v", idx)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// converged waits until every node applied the same index and compares
// every node's full state.
func (c *inmemCluster) converged(marker string) {
	c.t.Helper()
	c.apply(rec(marker, t0, ""), c.all()...)
	waitFor(c.t, 30*time.Second, "convergence", func() bool {
		for _, n := range c.nodes {
			if _, ok, _ := n.CallRecord(marker); !ok {
				return false
			}
		}
		a := c.nodes[0].FSM().AppliedIndex()
		for _, n := range c.nodes[1:] {
			if n.FSM().AppliedIndex() != a {
				return false
			}
		}
		return true
	})
	want := dump(c.t, c.nodes[0].FSM())
	for i, n := range c.nodes[1:] {
		if got := dump(c.t, n.FSM()); got != want {
			c.t.Fatalf("node%d state differs from node0", i+1)
		}
	}
}

func TestFiveNodeSplitsAndHealing(t *testing.T) {
	c := newInmemCluster(t, 5)
	c.apply(&CreateCampaign{Campaign: testCampaign("camp"), At: t0}, c.all()...)
	old := c.leaderAmong(c.all()...)
	oi := c.index(old)
	// Minority split: the leader plus one box against three.
	var minority, majority []int
	minority = append(minority, oi)
	for _, i := range c.all() {
		if i != oi {
			if len(minority) < 2 {
				minority = append(minority, i)
			} else {
				majority = append(majority, i)
			}
		}
	}
	c.split(minority, majority)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	if _, err := old.Apply(ctx, rec("minority-write", t0, "")); err == nil {
		t.Fatal("a minority committed a write")
	}
	cancel()
	for i := 0; i < 5; i++ {
		c.apply(rec(fmt.Sprintf("maj-%d", i), t0, ""), majority...)
	}
	c.pn.heal()
	c.converged("healed-1")
	// Majority split keeping the leader: it keeps committing.
	l := c.leaderAmong(c.all()...)
	li := c.index(l)
	var withLeader, cut []int
	for _, i := range c.all() {
		if i == li || len(withLeader) < 3 && i != li && len(withLeader) < 2 {
			withLeader = append(withLeader, i)
		} else {
			cut = append(cut, i)
		}
	}
	if len(withLeader) < 3 {
		withLeader = append(withLeader, cut[0])
		cut = cut[1:]
	}
	c.split(withLeader, cut)
	for i := 0; i < 5; i++ {
		c.apply(rec(fmt.Sprintf("split2-%d", i), t0, ""), withLeader...)
	}
	c.pn.heal()
	c.converged("healed-2")
	if _, ok, _ := c.nodes[0].CallRecord("minority-write"); ok {
		t.Fatal("uncommitted minority write survived healing")
	}
}

// TestDeposedLeaderSendsNoInvite models the trunk side with a dial
// counter behind the Fence: the leader box claims contacts and "dials"
// each one CheckDial allows. After it is cut off, no dial may happen at or
// after the moment the new leader starts its first commit.
func TestDeposedLeaderSendsNoInvite(t *testing.T) {
	for _, size := range []int{3, 5} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c := newInmemCluster(t, size)
			c.apply(&CreateCampaign{Campaign: testCampaign("camp"), At: t0}, c.all()...)
			c.apply(&ImportContacts{CampaignID: "camp", ImportID: "i", Contacts: contacts(2000, "k"), At: t0}, c.all()...)
			c.apply(&SetCampaignState{ID: "camp", State: CampaignRunning, At: t0}, c.all()...)
			old := c.leaderAmong(c.all()...)
			oi := c.index(old)
			fence := old.NewFence(old.ID(), 2*time.Second, nil)
			if _, err := fence.Renew(ctxT(t, 5*time.Second), BoxStatus{Lines: 4, TrunksUp: 1}); err != nil {
				t.Fatal(err)
			}
			// CheckDial before any claim is refused (unknown attempt).
			if err := fence.CheckDial(ctxT(t, time.Second), "nope", 1, time.Now()); err == nil {
				t.Fatal("dial of an unknown attempt allowed")
			}

			var mu sync.Mutex
			var dials []time.Time
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					ct := fmt.Sprintf("k%04d", i%2000)
					sent := time.Now()
					ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
					_, err := old.Apply(ctx, &ClaimAttempt{AttemptID: fmt.Sprintf("a%d", i), CampaignID: "camp",
						ContactID: ct, Box: old.ID(), Token: uint64(i/2000 + 1), At: t0})
					if err == nil && fence.CheckDial(ctx, fmt.Sprintf("a%d", i), uint64(i/2000+1), sent) == nil {
						mu.Lock()
						dials = append(dials, time.Now()) // the INVITE leaves now
						mu.Unlock()
					}
					cancel()
					time.Sleep(2 * time.Millisecond)
				}
			}()
			waitFor(t, 10*time.Second, "dials before the cut", func() bool { mu.Lock(); defer mu.Unlock(); return len(dials) >= 10 })
			var rest []int
			for _, i := range c.all() {
				if i != oi {
					rest = append(rest, i)
				}
			}
			c.split([]int{oi}, rest)
			waitFor(t, 30*time.Second, "a new leader", func() bool { return c.leaderAmong(rest...) != nil })
			firstCommit := time.Now()
			c.apply(rec("new-leader-first", t0, ""), rest...)
			time.Sleep(1500 * time.Millisecond) // the old box keeps trying
			close(stop)
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, d := range dials {
				if !d.Before(firstCommit) {
					n++
				}
			}
			if n > 0 {
				t.Fatalf("deposed leader dialled %d times after the new leader's first commit", n)
			}
			t.Logf("%d dials before the cut, none after; last %v before the first commit", len(dials), firstCommit.Sub(dials[len(dials)-1]))
			c.pn.heal()
			c.converged("healed")
		})
	}
}
