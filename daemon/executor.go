package daemon

// This file holds the executor: the part of the dialler every box runs
// (the leader included). It watches the attempts the leader claimed for
// this box (the FSM's index of open attempts by box) and dials each one
// once: Fence.CheckDial right before the INVITE (a leader round trip and
// the token check), MarkAnswered on answer and again as the dialogue
// reaches each say/ask/menu node (the resume point a callback starts
// from if this box dies mid-call), FinishAttempt after. An attempt it
// cannot take now (the box is full, draining or has no trunk up) is given
// back with ReleaseAttempt, so the leader assigns it again, possibly to
// another box; it is never dialled twice because the give-back and the
// dial are decided by this box alone and the fence refuses a closed
// attempt.

import (
	"context"
	"errors"
	"sync"
	"time"

	"callbox/cluster"
	"callbox/daemon/campaign"
	"callbox/daemon/sipua"
)

// execute starts or gives back every attempt assigned to this box that it
// has not handled yet, and returns how many calls it started.
func (d *dialler) execute(ctx context.Context) int {
	open, err := d.node.OpenAttempts(d.node.ID())
	if err != nil {
		d.log.Error("open attempts of this box", "err", err)
		return 0
	}
	started := 0
	for _, a := range open {
		d.mu.Lock()
		handled := d.live[a.ID] || d.gone[a.ID] || d.dialled[a.ID]
		d.mu.Unlock()
		if handled {
			continue
		}
		if why := d.cannotTake(); why != "" {
			d.giveBack(ctx, a, why)
			continue
		}
		if d.run(ctx, a) {
			started++
		}
	}
	// forget give-backs and dialled attempts once the FSM has closed them
	d.mu.Lock()
	if len(d.gone) > 0 || len(d.dialled) > 0 {
		still := make(map[string]bool, len(open))
		for _, a := range open {
			still[a.ID] = true
		}
		for _, m := range []map[string]bool{d.gone, d.dialled} {
			for id := range m {
				if !still[id] && !d.live[id] {
					delete(m, id)
				}
			}
		}
	}
	d.mu.Unlock()
	return started
}

// cannotTake says why this box cannot start a call now ("" if it can).
func (d *dialler) cannotTake() string {
	if d.calls.atCapacity() {
		return "box full or draining"
	}
	if !d.trunksUp() {
		return "no trunk up"
	}
	return ""
}

// trunksUp reports whether some trunk answers (true without SIP, in tests).
func (d *dialler) trunksUp() bool {
	ua := d.calls.ua
	if ua == nil {
		return true
	}
	for _, t := range ua.Trunks() {
		if t.Up && (t.Auth != "register" || t.Registered) {
			return true
		}
	}
	return false
}

// giveBack returns an assignment this box will not dial.
func (d *dialler) giveBack(ctx context.Context, a cluster.Attempt, why string) {
	d.mu.Lock()
	d.gone[a.ID] = true
	d.mu.Unlock()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := d.node.Apply(rctx, cluster.ReleaseAttempt{AttemptID: a.ID, Box: d.node.ID(), Token: a.Token, At: d.now(), Reason: why})
	if err != nil && !errors.Is(err, cluster.ErrAttemptNotOpen) {
		// not committed: try again next round (it was never dialled)
		d.mu.Lock()
		delete(d.gone, a.ID)
		d.mu.Unlock()
		d.log.Warn("assignment not given back", "attempt", a.ID, "err", err)
		return
	}
	d.log.Info("assignment given back", "attempt", a.ID, "campaign", a.CampaignID, "reason", why)
}

// run places the call of attempt a (claimed for this box) and finishes
// the attempt when the call ends.
func (d *dialler) run(ctx context.Context, a cluster.Attempt) bool {
	k, ok, err := d.node.Campaign(a.CampaignID)
	if err != nil || !ok {
		return false // the next round retries; a vanished campaign's attempt is settled on restart
	}
	c, ok, err := d.node.Contact(a.CampaignID, a.ContactID)
	if err != nil || !ok {
		return false
	}
	fence := d.node.LocalFence()
	if fence == nil {
		return false
	}
	v := cluster.Variant{Name: a.Variant}
	for _, x := range k.Variants {
		if x.Name == a.Variant {
			v = x
		}
	}
	flowName := campaignFlow(&k, v)
	trunk := a.Trunk
	if !d.hasTrunk(trunk) {
		trunk = "" // this box names its trunks differently: its first
	}
	id, token := a.ID, a.Token
	// c was read after the claim: retry rules count the attempts before it
	before := c
	before.Attempts--
	d.mu.Lock()
	d.live[id] = true
	d.mu.Unlock()
	req := CallRequest{
		Number: c.Phone, Trunk: trunk, CallerID: k.CallerID,
		CampaignID: k.ID, ContactID: c.ID, AttemptID: id, Variant: a.Variant,
		// The INVITE leaves only if the fence still allows it: this box's
		// lease, a leader round trip (the claim was sent by the leader, so
		// its freshness is unknown here) and the attempt's token.
		BeforeDial: func(ctx context.Context) error { return fence.CheckDial(ctx, id, token, time.Time{}) },
	}
	var prog *progressMarker
	if flowName != "" {
		req.Flow, req.Profile = flowName, contactProfile(&c)
		if c.Callback && c.LastDisposition == campaign.DispInterrupted {
			// answered, then cut off by a box failure
			req.Resume, req.ResumeAt = true, c.ResumeNode
		}
		prog = &progressMarker{d: d, fence: fence, id: id, token: token}
		req.OnProgress = prog.mark
	} else {
		req.Say = promptFor(&k, &c)
	}
	req.Answered = func(ctx context.Context, at time.Time) {
		if prog != nil {
			prog.answered(at)
		}
		if err := fence.MarkAnswered(ctx, id, token, at, ""); err != nil {
			d.log.Warn("answer not marked on the attempt", "attempt", id, "err", err)
		}
	}
	if k.AMD.Enabled {
		req.AMD = &AMDSettings{Action: k.AMD.Action, Message: k.AMD.Message}
	}
	var abandoned bool
	if k.Pacing.Mode == "progressive" || k.Pacing.Mode == "predictive" {
		p := d.pacer(&k)
		req.OnAnswer = func() string {
			if p.Answered(d.now()) {
				return ""
			}
			abandoned = true
			if k.SafeHarbour != "" {
				return k.SafeHarbour
			}
			return "Sorry, all our agents are busy. We will call you back later."
		}
	}
	callID, done, err := d.calls.PlaceCall(context.WithoutCancel(ctx), req)
	if err != nil {
		if errors.Is(err, ErrBusy) || errors.Is(err, ErrDraining) {
			d.mu.Lock()
			delete(d.live, id)
			d.mu.Unlock()
			d.giveBack(ctx, a, err.Error())
			return false
		}
		disp := campaign.DispNotDialled
		if errors.Is(err, ErrBadRequest) {
			disp = campaign.DispInvalid // this contact's request cannot succeed
		}
		d.log.Info("campaign call not placed", "campaign", k.ID, "contact", c.ID, "disposition", disp, "err", err)
		d.finish(ctx, id, disp, 0, &k, &before, "", "", "")
		d.mu.Lock()
		delete(d.live, id)
		d.mu.Unlock()
		return false
	}
	d.mu.Lock()
	d.dialled[id] = true // never again by this process, whatever the result commit does
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		<-done
		if prog != nil {
			prog.wait()
		}
		rec, _, _ := d.node.CallRecord(callID)
		disp := attemptDisposition(rec, &k, abandoned)
		d.finish(context.WithoutCancel(ctx), id, disp, rec.SIPCode, &k, &before, callbackAt(rec), rec.Outcome, rec.Intent)
		d.mu.Lock()
		delete(d.live, id)
		d.mu.Unlock()
	}()
	d.log.Info("campaign call placed", "campaign", k.ID, "contact", c.ID, "attempt", id, "number", sipua.MaskNumber(c.Phone),
		"trunk", trunk, "variant", a.Variant, "flow", flowName, "resume_at", req.ResumeAt)
	return true
}

// hasTrunk reports whether this box has a trunk named name.
func (d *dialler) hasTrunk(name string) bool {
	for _, t := range d.calls.limits().Trunks {
		if t.Name == name {
			return true
		}
	}
	return false
}

// progressMarker keeps an answered attempt's resume point in the FSM as
// the dialogue moves (MarkAnswered with ResumeNode), one commit at a time:
// while one is in flight only the newest node waits, so a fast flow never
// queues commits. It owns at most one goroutine, counted in d.wg.
type progressMarker struct {
	d     *dialler
	fence *cluster.Fence
	id    string
	token uint64

	mu      sync.Mutex
	at      time.Time     // guarded by mu; answer time (zero before the answer)
	pending string        // guarded by mu; newest node not yet committed
	running bool          // guarded by mu
	idle    chan struct{} // guarded by mu; closed when running ends
}

func (p *progressMarker) answered(at time.Time) {
	p.mu.Lock()
	p.at = at
	p.mu.Unlock()
}

// mark notes the flow reached node.
func (p *progressMarker) mark(node string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = node
	if p.running || p.at.IsZero() {
		return
	}
	p.running = true
	p.idle = make(chan struct{})
	p.d.wg.Add(1)
	go p.loop()
}

func (p *progressMarker) loop() {
	defer p.d.wg.Done()
	for {
		p.mu.Lock()
		node, at := p.pending, p.at
		p.pending = ""
		if node == "" {
			p.running = false
			close(p.idle)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := p.fence.MarkAnswered(ctx, p.id, p.token, at, node); err != nil {
			p.d.log.Debug("resume point not kept", "attempt", p.id, "node", node, "err", err)
		}
		cancel()
	}
}

// wait returns once no commit is in flight (before FinishAttempt).
func (p *progressMarker) wait() {
	p.mu.Lock()
	idle, running := p.idle, p.running
	p.mu.Unlock()
	if running {
		<-idle
	}
}
