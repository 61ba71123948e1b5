package daemon

// This file holds the campaign dialler's leader half and its lifecycle.
// One loop with an injected clock runs on every box. On the raft leader it
// plans: for every running campaign it picks due contacts in priority
// order, skips those outside their calling window or on a DNC list, paces
// them (the campaign's pacer, capped by the open attempts the FSM knows,
// so a new leader continues from FSM state alone), spreads them over the
// boxes by free lines (cluster.PlanAssignments: a box without a valid
// lease, with no trunk up, or full gets nothing) and commits the claims
// *for* those boxes in one ClaimBatch raft entry per round, each with a
// fencing token above the contact's. On every box (the leader too) the
// same loop then runs the executor (executor.go), which dials the
// attempts claimed for its own box. On start it settles the attempts this
// box left open when it last died.
//
// Fencing: a box dials only while its lease holds (cluster.Fence, renewed
// by clusterRuntime). Fence.CheckDial runs right before the INVITE; the
// answer is committed with MarkAnswered; when the lease is lost the box
// neither plans nor dials and hangs up the calls it placed, before the
// leader hands their contacts to another box (lease + grace): unanswered
// attempts are requeued at once, answered ones become priority callbacks
// that resume the flow.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"callbox/cluster"
	"callbox/daemon/campaign"
	"callbox/daemon/sipua"
	"callbox/daemon/speech"
	"callbox/media"
)

// AMDSettings asks the call manager to run answering-machine detection on
// an answered campaign call.
type AMDSettings struct {
	Action  string // hangup | message | continue
	Message string // for "message": spoken after the beep
	Config  media.AMDConfig
	// MaxWait bounds the wait for a verdict (default 3 s) and, for
	// "message", for the beep after a machine verdict (default 20 s).
	MaxWait, BeepWait time.Duration
}

// Dialler defaults.
const (
	diallerTick  = 250 * time.Millisecond
	diallerBatch = 200 // due contacts read per campaign per tick
)

// dialler runs campaigns. It owns one loop goroutine and one goroutine per
// call in progress.
type dialler struct {
	box   string // box.id, for import IDs; attempts belong to the raft node ID (the lease holder)
	log   *slog.Logger
	node  *cluster.Node
	calls *callManager
	now   func() time.Time
	tick  time.Duration

	mu      sync.Mutex
	pacers  map[string]*campaign.Pacer // guarded by mu; by campaign ID
	claimed map[string]plannedClaim    // guarded by mu; leader: attempts it claimed, until they close
	live    map[string]bool            // guarded by mu; attempt (= call) IDs of calls in flight here
	gone    map[string]bool            // guarded by mu; attempts given back by this box (until closed)
	// dialled holds the attempts this process placed a call for, until the
	// FSM closes them: an attempt whose result could not be committed (the
	// leader died mid-commit) stays open, and must not be dialled again.
	dialled map[string]bool // guarded by mu
	token   uint64          // guarded by mu; last fencing token issued
	fenced  bool            // guarded by mu; the lease was lost and not yet regained

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func newDialler(box string, log *slog.Logger, node *cluster.Node, calls *callManager) *dialler {
	return &dialler{box: box, log: log, node: node, calls: calls, now: time.Now, tick: diallerTick,
		pacers: map[string]*campaign.Pacer{}, claimed: map[string]plannedClaim{}, live: map[string]bool{},
		gone: map[string]bool{}, dialled: map[string]bool{}, stop: make(chan struct{})}
}

// startDialler recovers this box's open attempts and starts the loop.
func startDialler(ctx context.Context, box string, log *slog.Logger, node *cluster.Node, calls *callManager) *dialler {
	d := newDialler(box, log, node, calls)
	if err := d.recover(ctx); err != nil {
		log.Error("campaign crash recovery failed; dialler retries it before dialling", "err", err)
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.loop(ctx)
	}()
	return d
}

// Close stops the loop and waits for calls it placed to be settled.
func (d *dialler) Close() {
	d.once.Do(func() { close(d.stop) })
	d.wg.Wait()
}

// recover settles attempts this box claimed but never finished (the box
// died mid-call): an attempt whose call was answered is finished as
// answered-box (the callee heard us: not redialled blindly); the others
// are marked interrupted, which requeues the contact without another
// dial now. It also aborts this box's staged, uncommitted imports.
func (d *dialler) recover(ctx context.Context) error {
	now := d.now()
	open, err := d.node.OpenAttempts(d.node.ID())
	if err != nil {
		return err
	}
	for _, a := range open {
		rec, ok, err := d.node.CallRecord(a.ID)
		if err != nil {
			return err
		}
		if ok && !rec.AnswerAt.IsZero() {
			_, err := d.node.Apply(ctx, cluster.FinishAttempt{AttemptID: a.ID, Disposition: campaign.DispAnsweredBox,
				SIPCode: 200, At: now, Outcome: cluster.OutcomeDone})
			if err != nil && !errors.Is(err, cluster.ErrAttemptNotOpen) {
				return err
			}
		}
	}
	res, err := d.node.Apply(ctx, cluster.MarkInterrupted{Box: d.node.ID(), At: now})
	if err != nil {
		return err
	}
	if n, _ := res.(int); n > 0 || len(open) > 0 {
		d.log.Warn("settled attempts left open by the last run", "open", len(open), "interrupted", n)
	}
	staged, err := d.node.StagedImports()
	if err != nil {
		return err
	}
	for _, id := range staged {
		if strings.HasPrefix(id, importPrefix(d.box)) {
			if err := campaign.AbortStaged(ctx, d.node, id); err != nil {
				d.log.Warn("could not abort an import left staged by the last run", "import", id, "err", err)
				continue
			}
			d.log.Warn("aborted an import left staged by the last run", "import", id)
		}
	}
	return nil
}

func importPrefix(box string) string { return "imp-" + box + "-" }

// leaseHeld reports whether this box may dial: its fence (made by the lease
// loop) holds a valid lease. On losing it, it hangs up every call the
// dialler placed: the leader gives their contacts to another box after the
// lease and its grace, and the callee must not be on two calls.
func (d *dialler) leaseHeld() bool {
	f := d.node.LocalFence()
	ok := f != nil && f.Valid()
	d.mu.Lock()
	was := d.fenced
	d.fenced = !ok
	var hang []string
	if !ok && !was {
		for id := range d.live {
			hang = append(hang, id)
		}
	}
	d.mu.Unlock()
	switch {
	case !ok && !was:
		if f == nil {
			d.log.Warn("no lease loop yet: not dialling")
			return false
		}
		d.log.Warn("lease lost: not dialling; hanging up campaign calls", "calls", len(hang), "lease_until", f.Until())
		for _, id := range hang {
			d.calls.hangupCall(id)
		}
	case ok && was:
		d.log.Info("lease held: dialling again")
	}
	return ok
}

func (d *dialler) loop(ctx context.Context) {
	t := time.NewTicker(d.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.stop:
			return
		case <-t.C:
		}
		if !d.leaseHeld() {
			continue
		}
		if d.node.IsLeader() {
			d.step(ctx)
		}
		d.execute(ctx)
	}
}

// step is the leader's planning round over every running campaign: it
// picks due contacts (windows, DNC, priority, pacing, caps), spreads them
// over the boxes by free lines and commits the claims for those boxes in
// one ClaimBatch per MaxBatchClaims. It returns how many claims committed.
// It reads only FSM state (plus its pacers), so a new leader continues
// where the old one stopped.
func (d *dialler) step(ctx context.Context) int {
	now := d.now()
	boxes, err := d.node.FSM().Boxes()
	if err != nil {
		d.log.Error("list boxes", "err", err)
		return 0
	}
	open, err := d.node.FSM().AllOpenAttempts()
	if err != nil {
		d.log.Error("list open attempts", "err", err)
		return 0
	}
	d.reconcile(open)
	perBox, perCamp := map[string]int{}, map[string]int{}
	for _, a := range open {
		perBox[a.Box]++
		perCamp[a.CampaignID]++
	}
	// A box's Active lags by up to a renewal period; the open attempts
	// assigned to it are known now.
	for i := range boxes {
		boxes[i].Active = max(boxes[i].Active, perBox[boxes[i].ID])
		// A box renews every third of its lease; one that missed more than
		// a renewal (killed, cut off) keeps its lease until the leader
		// expires it, but gets no new work meanwhile.
		if b := boxes[i]; now.Sub(b.RenewedAt) > b.LeaseUntil.Sub(b.RenewedAt)/2 {
			boxes[i].Lines = 0
		}
	}
	camps, err := d.node.Campaigns()
	if err != nil {
		d.log.Error("list campaigns", "err", err)
		return 0
	}
	var claims []cluster.ClaimAttempt
	var planned []plannedClaim
	for i := range camps {
		k := &camps[i]
		if k.State != cluster.CampaignRunning {
			continue
		}
		if (!k.StartAt.IsZero() && now.Before(k.StartAt)) || (!k.EndAt.IsZero() && !now.Before(k.EndAt)) {
			continue
		}
		cs, ps := d.planCampaign(ctx, k, now, boxes, perCamp[k.ID])
		claims, planned = append(claims, cs...), append(planned, ps...)
	}
	n := 0
	for len(claims) > 0 {
		m := min(len(claims), cluster.MaxBatchClaims)
		n += d.commitClaims(ctx, claims[:m], planned[:m], now)
		claims, planned = claims[m:], planned[m:]
	}
	return n
}

// plannedClaim is what the leader keeps about a claim it committed: the
// pacer line to give back when the attempt closes, wherever it ran.
type plannedClaim struct {
	campaign, trunk, agentMode string
	pacer                      *campaign.Pacer
}

// planCampaign decides k's claims for this round and takes the lines they
// use from boxes (so the next campaign sees what is left).
func (d *dialler) planCampaign(ctx context.Context, k *cluster.Campaign, now time.Time, boxes []cluster.Box, open int) ([]cluster.ClaimAttempt, []plannedClaim) {
	p := d.pacer(k)
	room := p.Allowance(now)
	if k.Pacing.MaxConcurrent > 0 {
		// after a leadership change the pacer does not know the attempts
		// the old leader claimed; the FSM does
		room = min(room, k.Pacing.MaxConcurrent-open)
	}
	targets := boxes
	if p.Mode() != "agentless" {
		// agent state (who is talking) lives in this box's pacer: agent
		// campaigns are dialled by the leader box alone
		targets = nil
		for _, b := range boxes {
			if b.ID == d.node.ID() {
				targets = append(targets, b)
			}
		}
	}
	free := 0
	for _, b := range targets {
		free += b.Free(now)
	}
	room = min(room, free)
	if room < 1 {
		return nil, nil
	}
	if flowName := campaignFlow(k, cluster.Variant{}); flowName != "" {
		if err := d.calls.checkFlow(flowName); err != nil {
			d.pauseCampaign(ctx, k, fmt.Sprintf("flow %q: %v", flowName, err))
			return nil, nil
		}
	}
	due, err := d.node.DueContacts(k.ID, now, min(diallerBatch, room*4+8))
	if err != nil {
		d.log.Error("due contacts", "campaign", k.ID, "err", err)
		return nil, nil
	}
	cands := d.decide(k, now, p, due)
	if len(cands) > room {
		for _, c := range cands[room:] {
			p.Release(now, c.trunk, false, false, false)
		}
		cands = cands[:room]
	}
	contacts := make([]cluster.Contact, len(cands))
	for i, c := range cands {
		contacts[i] = c.contact
	}
	plan := cluster.PlanAssignments(targets, contacts, now)
	for _, c := range cands[len(plan):] {
		p.Release(now, c.trunk, false, false, false)
	}
	var claims []cluster.ClaimAttempt
	var planned []plannedClaim
	for i, a := range plan {
		cand := cands[i]
		for j := range boxes {
			if boxes[j].ID == a.Box {
				boxes[j].Active++
			}
		}
		for j := range targets {
			if targets[j].ID == a.Box {
				targets[j].Active++
			}
		}
		claims = append(claims, cluster.ClaimAttempt{AttemptID: newAttemptID(now), CampaignID: k.ID, ContactID: cand.contact.ID,
			Box: a.Box, Token: max(d.nextToken(now), cand.contact.Token+1), At: now, Trunk: cand.trunk, Variant: cand.variant.Name})
		planned = append(planned, plannedClaim{campaign: k.ID, trunk: cand.trunk, agentMode: p.Mode(), pacer: p})
	}
	return claims, planned
}

// commitClaims commits one ClaimBatch. Claims that commit are tracked for
// their pacer lines; refused ones give their line back at once.
func (d *dialler) commitClaims(ctx context.Context, claims []cluster.ClaimAttempt, planned []plannedClaim, now time.Time) int {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := d.node.Apply(cctx, cluster.ClaimBatch{Claims: claims})
	res, _ := resp.(cluster.ClaimBatchResult)
	if err != nil || len(res.Errors) != len(claims) {
		for i := range claims {
			planned[i].pacer.Release(now, planned[i].trunk, false, false, false)
		}
		if errors.Is(err, cluster.ErrOutcomeUnknown) {
			// The batch may have committed: its attempts show up as open
			// and are dialled or given back by their boxes; the pacer only
			// under-counts them until they close.
			d.log.Warn("claim batch outcome unknown", "claims", len(claims))
		} else {
			d.log.Error("claim batch failed", "claims", len(claims), "err", err)
		}
		return 0
	}
	n := 0
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, c := range claims {
		if e := res.Err(i); e != nil {
			planned[i].pacer.Release(now, planned[i].trunk, false, false, false)
			if !isRejection(e) {
				d.log.Error("claim refused", "campaign", c.CampaignID, "contact", c.ContactID, "box", c.Box, "err", e)
			}
			continue
		}
		d.claimed[c.AttemptID] = planned[i]
		n++
	}
	if n > 0 {
		d.log.Debug("claims committed", "claims", n, "of", len(claims))
	}
	return n
}

// reconcile gives back the pacer lines of attempts this leader claimed
// that are no longer open (finished, released or interrupted on whatever
// box ran them).
func (d *dialler) reconcile(open []cluster.Attempt) {
	still := make(map[string]bool, len(open))
	for _, a := range open {
		still[a.ID] = true
	}
	d.mu.Lock()
	var done []string
	for id := range d.claimed {
		if !still[id] {
			done = append(done, id)
		}
	}
	d.mu.Unlock()
	now := d.now()
	for _, id := range done {
		a, _, _ := d.node.FSM().Attempt(id)
		d.mu.Lock()
		pc := d.claimed[id]
		delete(d.claimed, id)
		d.mu.Unlock()
		answered := !a.AnsweredAt.IsZero()
		abandoned := a.Disposition == campaign.DispAbandoned
		agent := pc.agentMode != "agentless" && answered && !abandoned && a.Disposition != campaign.DispMachine
		pc.pacer.Release(now, pc.trunk, answered && a.Disposition != campaign.DispMachine, agent, abandoned)
	}
}

func (d *dialler) pacer(k *cluster.Campaign) *campaign.Pacer {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.pacers[k.ID]
	if p == nil {
		p = campaign.NewPacer(k.Pacing.Mode, k.Pacing.MaxConcurrent, k.Pacing.CPS, k.Pacing.PerTrunk, k.Pacing.Agents, k.Pacing.AbandonCap)
		d.pacers[k.ID] = p
	}
	return p
}

// candidate is one dial decision before its claim.
type candidate struct {
	contact cluster.Contact
	trunk   string
	variant cluster.Variant
}

// decide lists the contacts of k to dial now, in order, within pacing.
// It places nothing; it is the part the benchmark measures.
func (d *dialler) decide(k *cluster.Campaign, now time.Time, p *campaign.Pacer, due []cluster.Contact) []candidate {
	cal, err := campaign.NewCalendar(k.Windows, k.Holidays)
	if err != nil {
		return nil
	}
	zones := func(c *cluster.Contact) []*time.Location { return campaign.Zones(k, c) }
	campaign.Order(k, campaign.GoldenCalendar(k), due, now, zones)
	var out []candidate
	for i := range due {
		c := &due[i]
		if !cal.OpenAll(now, zones(c)) {
			continue
		}
		trunk := campaign.TrunkFor(k, c.Attempts+1)
		if trunks := d.calls.limits().Trunks; trunk == "" && len(trunks) > 0 {
			trunk = trunks[0].Name
		}
		if !p.Acquire(now, trunk) {
			break
		}
		v, _ := campaign.PickVariant(k, c.ID)
		out = append(out, candidate{contact: *c, trunk: trunk, variant: v})
	}
	return out
}

func (d *dialler) nextToken(now time.Time) uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := uint64(now.UnixNano())
	if t <= d.token {
		t = d.token + 1
	}
	d.token = t
	return t
}

func newAttemptID(now time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "att-" + now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// attemptDisposition is the attempt's disposition from its call record:
// the SIP disposition, or what AMD, the pacer or the dialogue made of it.
func attemptDisposition(rec cluster.CallRecord, k *cluster.Campaign, abandoned bool) string {
	switch {
	case rec.Disposition == dispNotDialled:
		return campaign.DispNotDialled // fenced before the INVITE: the contact goes back
	case rec.AMD == "machine" && k.AMD.Action != "continue":
		return campaign.DispMachine
	case abandoned:
		return campaign.DispAbandoned
	}
	switch campaign.RecordOutcome(rec) {
	case campaign.OutcomeOptOut:
		return campaign.DispOptOut
	case campaign.OutcomeCallback:
		return campaign.DispCallback
	}
	if rec.Disposition == "" {
		return string(sipua.Failed)
	}
	return rec.Disposition
}

// callbackAt is the time the callee asked to be called back (RFC 3339),
// from the record's tags or the dialogue's callback_at slot.
func callbackAt(rec cluster.CallRecord) string {
	if v := rec.Tags["callback_at"]; v != "" {
		return v
	}
	if d := rec.Dialogue; d != nil {
		return d.Slots["callback_at"]
	}
	return ""
}

// campaignFlow is the dialogue flow an attempt runs: the A/B variant's
// flow, else the campaign's; "" for prompt-only campaigns.
func campaignFlow(k *cluster.Campaign, v cluster.Variant) string {
	f := v.FlowID
	if f == "" {
		f = k.FlowID
	}
	if f == campaign.PromptFlow {
		return ""
	}
	return f
}

// contactProfile is the flow profile of a contact: its profile fields and
// its name (a profile field "name" wins over the name column).
func contactProfile(c *cluster.Contact) map[string]string {
	p := make(map[string]string, len(c.Profile)+1)
	if c.Name != "" {
		p["name"] = c.Name
	}
	for k, v := range c.Profile {
		p[k] = v
	}
	return p
}

// pauseCampaign pauses k because of a problem no contact can get past (its
// flow is missing or invalid), with the reason in the campaign's history.
func (d *dialler) pauseCampaign(ctx context.Context, k *cluster.Campaign, reason string) {
	if len(reason) > 500 {
		reason = reason[:500]
	}
	d.log.Error("campaign paused: its calls cannot run", "campaign", k.ID, "reason", reason)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := d.node.Apply(pctx, cluster.SetCampaignState{ID: k.ID, State: cluster.CampaignPaused, At: d.now(), Reason: reason}); err != nil {
		d.log.Error("campaign not paused", "campaign", k.ID, "err", err)
	}
}

// finish commits the attempt's result with the retry policy's outcome.
func (d *dialler) finish(ctx context.Context, attemptID, disp string, code int, k *cluster.Campaign, c *cluster.Contact, callbackAt, result, intent string) {
	now := d.now()
	var cb time.Time
	if callbackAt != "" {
		cb, _ = time.Parse(time.RFC3339, callbackAt)
	}
	dec := campaign.Decide(k, disp, c.Attempts+1, now, cb)
	if code != 0 && (code < 100 || code > 699) {
		code = 0
	}
	cmd := cluster.FinishAttempt{AttemptID: attemptID, Disposition: disp, SIPCode: code, At: now,
		Outcome: dec.Outcome, NextAttemptAt: dec.Next, Result: result, IntentLevel: intent}
	// A commit whose outcome is unknown (the leader died or moved under it)
	// is sent again: FinishAttempt on an attempt already closed answers
	// ErrAttemptNotOpen, which means the first one landed (or the attempt
	// was interrupted by the leader, which settles it too).
	deadline := time.Now().Add(finishRetryFor)
	for wait := 200 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		_, err := d.node.Apply(fctx, cmd)
		cancel()
		if err == nil || errors.Is(err, cluster.ErrAttemptNotOpen) {
			return
		}
		retry := errors.Is(err, cluster.ErrOutcomeUnknown) || errors.Is(err, cluster.ErrNotLeader)
		if !retry || time.Now().After(deadline) {
			d.log.Error("attempt result not committed; settled as interrupted when the lease lapses or on next start", "attempt", attemptID, "err", err)
			return
		}
		d.log.Warn("attempt result commit failed; retrying", "attempt", attemptID, "err", err, "in", wait)
		select {
		case <-d.stop:
			return
		case <-time.After(wait):
		}
	}
}

// finishRetryFor bounds how long a call's result commit is retried.
const finishRetryFor = time.Minute

// promptFor is the text spoken on a campaign call: the campaign's prompt
// with {name} and {profile keys} filled in.
func promptFor(k *cluster.Campaign, c *cluster.Contact) string {
	s := k.Prompt
	if s == "" {
		s = "Hello, this is an automated call."
	}
	if c.Name != "" {
		s = strings.ReplaceAll(s, "{name}", c.Name)
	}
	for key, v := range c.Profile {
		s = strings.ReplaceAll(s, "{"+key+"}", v)
	}
	return s
}

func isRejection(err error) bool {
	for _, e := range []error{cluster.ErrDNC, cluster.ErrNotDue, cluster.ErrAlreadyClaimed, cluster.ErrMaxAttempts,
		cluster.ErrStaleToken, cluster.ErrCampaignNotActive, cluster.ErrNotFound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// atCapacity reports whether the box is at calls.max_active or draining.
func (m *callManager) atCapacity() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.draining || len(m.active) >= m.limits().Calls.MaxActive
}

// campaignAnswered runs on an answered campaign call before the prompt:
// it commits the answer (so crash recovery knows the callee heard us),
// runs AMD per the campaign's policy and asks the pacer for an agent. It
// returns the prompt to play and stop=true when the call should end now.
func (m *callManager) campaignAnswered(ctx context.Context, call *sipua.Call, st *callState, req CallRequest, rec *cluster.CallRecord, pcm []int16) ([]int16, bool) {
	rec.AnswerAt = call.Info().AnswerAt
	if rec.AnswerAt.IsZero() {
		rec.AnswerAt = m.now()
	}
	if err := m.commit(ctx, *rec); err != nil {
		m.log.Warn("answer not committed", "call", st.id, "err", err)
	}
	if req.Answered != nil {
		req.Answered(ctx, rec.AnswerAt)
	}
	if req.AMD != nil && st.session != nil {
		res := m.runAMD(ctx, call, st, req.AMD)
		if res.Decision != media.AMDUndecided {
			rec.AMD, rec.AMDDecisionMs, rec.AMDBeep = res.Decision.String(), res.At.Milliseconds(), res.Beep
		}
		if res.Decision == media.AMDMachine {
			switch req.AMD.Action {
			case "continue":
			case "message":
				msg, err := m.tts.Synthesize(ctx, req.AMD.Message, speechVoice(m, ""))
				if err != nil {
					return nil, true
				}
				return msg, false
			default:
				return nil, true
			}
		}
	}
	if req.OnAnswer != nil {
		if alt := req.OnAnswer(); alt != "" {
			msg, err := m.tts.Synthesize(ctx, alt, speechVoice(m, req.Voice))
			if err == nil {
				return msg, false
			}
		}
	}
	return pcm, false
}

// runAMD feeds the callee's audio to media.AMD until a verdict (bounded by
// MaxWait); for the "message" action after a machine verdict it also waits
// (bounded by BeepWait) for the beep, so the message lands on the tape.
func (m *callManager) runAMD(ctx context.Context, call *sipua.Call, st *callState, s *AMDSettings) media.AMDResult {
	maxWait, beepWait := s.MaxWait, s.BeepWait
	if maxWait <= 0 {
		maxWait = 6 * time.Second
	}
	if beepWait <= 0 {
		beepWait = 20 * time.Second
	}
	amd := media.NewAMD(s.Config)
	news := make(chan media.AMDResult, 4)
	st.session.SetInboundSink(media.FrameSinkFunc(func(pcm []int16) error {
		if res, ok := amd.Process(pcm); ok {
			select {
			case news <- res:
			default:
			}
		}
		return nil
	}))
	defer st.session.SetInboundSink(nil)
	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	var res media.AMDResult
	for {
		select {
		case r := <-news:
			res = r
			if r.Decision != media.AMDMachine || s.Action != "message" || r.Beep {
				return res
			}
			timer.Reset(beepWait) // machine: wait for the beep
		case <-timer.C:
			return res
		case <-call.Done():
			return res
		case <-ctx.Done():
			return res
		}
	}
}

// speechVoice is the TTS voice for campaign messages.
func speechVoice(m *callManager, name string) speech.Voice {
	lim := m.limits()
	if name == "" {
		name = lim.TTS.Voice
	}
	return speech.Voice{Name: name, Rate: lim.TTS.Rate}
}
