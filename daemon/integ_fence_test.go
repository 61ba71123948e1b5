package daemon

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"callbox/cluster"
	"callbox/daemon/campaign"
	"callbox/daemon/config"
)

// fakeClock is a settable clock for fences and the dialler.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fencedDialler is a one-node cluster (real raft, Badger on disk) with a
// running campaign of n contacts, the node's fence renewed on a fake clock,
// and a dialler over a call manager with no SIP (calls are not placed).
func fencedDialler(t *testing.T, n int) (*dialler, *cluster.Node, *cluster.Fence, *fakeClock) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(&testLogWriter{t: t}, nil))
	node, err := cluster.Open(cluster.Config{Dir: t.TempDir(), NodeID: "fence-box", BindAddr: "127.0.0.1:0", Bootstrap: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := node.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("t.yaml", []byte("box: {id: fence-box}\ntrunks:\n  - {name: t1, host: 127.0.0.1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Now()}
	k, err := campaign.FromSpec(testSpec("fc"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.Apply(ctx, cluster.CreateCampaign{Campaign: k, At: clk.now()}); err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("phone,name\n")
	for i := range n {
		csv.WriteString("1390000010" + string(rune('0'+i)) + ",X\n")
	}
	if _, err := campaign.Import(ctx, strings.NewReader(csv.String()), node, campaign.ImportOptions{CampaignID: "fc", ImportID: "imp-t", At: clk.now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Apply(ctx, cluster.SetCampaignState{ID: "fc", State: cluster.CampaignRunning, At: clk.now()}); err != nil {
		t.Fatal(err)
	}
	fence := node.NewFence(node.ID(), 2*time.Second, clk.now)
	if node.LocalFence() != fence {
		t.Fatal("LocalFence is not the fence made for the node's own ID")
	}
	if _, err := fence.Renew(ctx, cluster.BoxStatus{Lines: 10, TrunksUp: 1}); err != nil {
		t.Fatal(err)
	}
	calls := newCallManager(cfg, log, node, nil, nil, nil)
	d := newDialler("fence-box", log, node, calls)
	d.now = clk.now
	return d, node, fence, clk
}

// TestDiallerFencing: an attempt's CheckDial passes while the lease holds
// and the claim is fresh; when the lease lapses the dialler stops and
// hangs up the calls it placed, CheckDial refuses with ErrFenced, and after
// the leader expired the lease the old attempt's token is refused even
// once the box holds a lease again.
func TestDiallerFencing(t *testing.T) {
	d, node, fence, clk := fencedDialler(t, 1)
	ctx := context.Background()
	if !d.leaseHeld() {
		t.Fatal("lease not held after renewal")
	}
	due, err := node.DueContacts("fc", clk.now(), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due %v %v", due, err)
	}
	const id, token = "att-fence-1", 7
	claimSent := clk.now()
	if _, err := node.Apply(ctx, cluster.ClaimAttempt{AttemptID: id, CampaignID: "fc", ContactID: due[0].ID, Box: fence.Box(),
		Token: token, At: clk.now(), Trunk: "t1"}); err != nil {
		t.Fatal(err)
	}
	if err := fence.CheckDial(ctx, id, token, claimSent); err != nil {
		t.Fatalf("fresh claim under a valid lease: %v", err)
	}
	if err := fence.CheckDial(ctx, id, token+1, claimSent); !errors.Is(err, cluster.ErrStaleToken) {
		t.Fatalf("wrong token: %v, want ErrStaleToken", err)
	}
	if err := fence.MarkAnswered(ctx, id, token, clk.now(), ""); err != nil {
		t.Fatalf("mark answered: %v", err)
	}

	// A call the dialler placed is up when the lease lapses.
	hung := make(chan struct{})
	d.calls.mu.Lock()
	d.calls.active[id] = &callState{id: id, cancel: func() { close(hung) }}
	d.calls.mu.Unlock()
	d.mu.Lock()
	d.live[id] = true
	d.mu.Unlock()
	clk.add(3 * time.Second)
	if d.leaseHeld() {
		t.Fatal("lease still held 3 s into a 2 s lease")
	}
	select {
	case <-hung:
	case <-time.After(5 * time.Second):
		t.Fatal("the dialler did not hang up its call when the lease was lost")
	}
	if err := fence.CheckDial(ctx, id, token, clk.now()); !errors.Is(err, cluster.ErrFenced) {
		t.Fatalf("CheckDial without a lease: %v, want ErrFenced", err)
	}
	if d.step(ctx) != 0 {
		t.Fatal("step dialled")
	}

	// The leader expires the lease: the answered attempt becomes a callback;
	// the box renews, but the old attempt stays fenced off.
	res, err := node.Apply(ctx, &cluster.ExpireLeases{At: clk.now().Add(time.Second), Grace: 500 * time.Millisecond, CallbackWithin: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := res.(cluster.ExpireResult); r.Callbacks != 1 {
		t.Fatalf("expire: %+v, want one callback (the attempt was answered)", res)
	}
	clk.add(2 * time.Second)
	if _, err := fence.Renew(ctx, cluster.BoxStatus{Lines: 10, TrunksUp: 1}); err != nil {
		t.Fatal(err)
	}
	if !d.leaseHeld() {
		t.Fatal("lease not held after renewing again")
	}
	if err := fence.CheckDial(ctx, id, token, clk.now()); !errors.Is(err, cluster.ErrAttemptNotOpen) {
		t.Fatalf("CheckDial of an interrupted attempt: %v, want ErrAttemptNotOpen", err)
	}
}

// TestDiallerWithoutLeaseClaimsNothing: a box whose local lease is gone
// (revoked: leaving, or its renewals failing) claims nothing, although the
// registry in the FSM still shows its lease.
func TestDiallerWithoutLeaseClaimsNothing(t *testing.T) {
	d, node, fence, _ := fencedDialler(t, 2)
	fence.Revoke()
	ctx, cancel := context.WithCancel(context.Background())
	d.tick = 10 * time.Millisecond
	d.wg.Add(1)
	go func() { defer d.wg.Done(); d.loop(ctx) }()
	time.Sleep(300 * time.Millisecond)
	cancel()
	d.Close()
	k, _, err := node.Campaign("fc")
	if err != nil || k.Counters.Attempts != 0 {
		t.Fatalf("attempts %d (%v), want none while the lease is lost", k.Counters.Attempts, err)
	}
}

// TestAttemptDisposition maps call records onto attempt dispositions.
func TestAttemptDisposition(t *testing.T) {
	k := &cluster.Campaign{AMD: cluster.AMDPolicy{Enabled: true, Action: "hangup"}}
	cases := []struct {
		rec       cluster.CallRecord
		abandoned bool
		want      string
	}{
		{cluster.CallRecord{Disposition: dispNotDialled}, false, campaign.DispNotDialled},
		{cluster.CallRecord{Disposition: "answered", AMD: "machine"}, false, campaign.DispMachine},
		{cluster.CallRecord{Disposition: "answered"}, true, campaign.DispAbandoned},
		{cluster.CallRecord{Disposition: "answered", Outcome: "opt_out"}, false, campaign.DispOptOut},
		{cluster.CallRecord{Disposition: "answered", Outcome: "refused", Dialogue: &cluster.FlowOutcome{OptOut: true}}, false, campaign.DispOptOut},
		{cluster.CallRecord{Disposition: "answered", Outcome: "callback_requested"}, false, campaign.DispCallback},
		{cluster.CallRecord{Disposition: "answered", Outcome: "converted"}, false, "answered"},
		{cluster.CallRecord{Disposition: "busy"}, false, "busy"},
		{cluster.CallRecord{}, false, "failed"},
	}
	for _, c := range cases {
		if got := attemptDisposition(c.rec, k, c.abandoned); got != c.want {
			t.Errorf("%+v abandoned=%v: %q, want %q", c.rec, c.abandoned, got, c.want)
		}
	}
	if got := callbackAt(cluster.CallRecord{Dialogue: &cluster.FlowOutcome{Slots: map[string]string{"callback_at": "2026-01-02T10:00:00Z"}}}); got != "2026-01-02T10:00:00Z" {
		t.Errorf("callback_at slot: %q", got)
	}
	if f := campaignFlow(&cluster.Campaign{FlowID: "a"}, cluster.Variant{Name: "v", FlowID: "b"}); f != "b" {
		t.Errorf("variant flow: %q", f)
	}
	if f := campaignFlow(&cluster.Campaign{FlowID: campaign.PromptFlow}, cluster.Variant{}); f != "" {
		t.Errorf("prompt campaign flow: %q", f)
	}
	p := contactProfile(&cluster.Contact{Name: "Ann", Profile: map[string]string{"branch": "Main"}})
	if p["name"] != "Ann" || p["branch"] != "Main" {
		t.Errorf("profile %v", p)
	}
}

// TestExecutorNeverRedialsAnAttempt: an attempt this process dialled whose
// result commit failed (the leader died mid-commit, so the attempt is still
// open) is not dialled again by the next round; it is forgotten once the
// FSM closes it. Found by the chaos soak (seed 10): the same attempt was
// INVITEd twice 0.7 s apart.
func TestExecutorNeverRedialsAnAttempt(t *testing.T) {
	d, node, fence, clk := fencedDialler(t, 1)
	ctx := context.Background()
	due, err := node.DueContacts("fc", clk.now(), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due %v %v", due, err)
	}
	const id, token = "att-redial-1", 3
	if _, err := node.Apply(ctx, cluster.ClaimAttempt{AttemptID: id, CampaignID: "fc", ContactID: due[0].ID, Box: fence.Box(),
		Token: token, At: clk.now(), Trunk: "t1"}); err != nil {
		t.Fatal(err)
	}
	// The call was placed and ended; FinishAttempt's outcome was unknown.
	d.mu.Lock()
	d.dialled[id] = true
	d.mu.Unlock()
	if n := d.execute(ctx); n != 0 {
		t.Fatalf("execute started %d calls for an attempt already dialled", n)
	}
	if a, _, _ := node.FSM().Attempt(id); a.State != cluster.AttemptClaimed {
		t.Fatalf("attempt = %s/%s; the executor touched an attempt it had dialled", a.State, a.Disposition)
	}
	// The result lands (a retry): the attempt closes and is forgotten.
	if _, err := node.Apply(ctx, cluster.FinishAttempt{AttemptID: id, Disposition: "busy", At: clk.now(), Outcome: cluster.OutcomeDone}); err != nil {
		t.Fatal(err)
	}
	d.execute(ctx)
	d.mu.Lock()
	left := d.dialled[id]
	d.mu.Unlock()
	if left {
		t.Fatal("a closed attempt is still remembered as dialled")
	}
}
