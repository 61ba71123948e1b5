package daemon

// This file holds the live event stream: the call manager's event hub
// (call events, sliding per-second and per-minute counters) and
// GET /v1/events, which streams the hub, per-second counters and campaign
// progress to a WebSocket client.
//
// Every subscriber has a bounded buffer. Publishing never blocks: a
// subscriber whose buffer is full is dropped (its stream is closed with
// "too slow"), so a stalled dashboard can never hold up a call.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/coder/websocket"

	"callbox/cluster"
	"callbox/daemon/apiv1"
	"callbox/daemon/auth"
	"callbox/daemon/campaign"
	"callbox/daemon/redact"
	"callbox/daemon/sipua"
)

// Event types on GET /v1/events.
const (
	EventHello         = "hello"             // first message: live calls and counters
	EventCallStarted   = "call.started"      // the call's first record is committed (INVITE next)
	EventCallRinging   = "call.ringing"      // the far end rang (180/183)
	EventCallAnswered  = "call.answered"     // 200 OK (a live answer for campaign calls)
	EventCallDTMF      = "call.dtmf"         // a digit arrived (the count only, never the digit)
	EventCallTransfer  = "call.transfer"     // the flow transferred the call
	EventCallEnded     = "call.ended"        // the final record, with disposition
	EventTick          = "counters"          // once a second
	EventCampaign      = "campaign.progress" // a campaign's state or counters changed
	EventCampaignGone  = "campaign.removed"  // a campaign is no longer listed
	eventSubscriberCap = 256                 // events buffered per subscriber
	maxLiveCalls       = 100_000             // calls the hub tracks at once
)

// StreamEvent is one message on GET /v1/events.
type StreamEvent struct {
	Type     string            `json:"type"`
	At       time.Time         `json:"at"`
	Call     *CallEvent        `json:"call,omitempty"`
	Calls    []CallEvent       `json:"calls,omitempty"` // hello: the live calls
	Counters *EventCounters    `json:"counters,omitempty"`
	Campaign *apiv1.Campaign   `json:"campaign,omitempty"`
	Report   *campaign.Figures `json:"report,omitempty"` // campaign.progress: answer, conversion, transfer rates, handle time
}

// CallEvent is a call as the event stream shows it.
type CallEvent struct {
	ID          string     `json:"id"`
	Direction   string     `json:"direction"`
	Number      string     `json:"number"` // masked for roles without numbers.unmasked
	Trunk       string     `json:"trunk"`
	CampaignID  string     `json:"campaign_id,omitempty"`
	Variant     string     `json:"variant,omitempty"`
	State       string     `json:"state"` // dialling, ringing, answered, ended
	InviteAt    time.Time  `json:"invite_at"`
	RingAt      *time.Time `json:"ring_at,omitempty"`
	AnswerAt    *time.Time `json:"answer_at,omitempty"`
	EndAt       *time.Time `json:"end_at,omitempty"`
	Disposition string     `json:"disposition,omitempty"`
	SIPCode     int        `json:"sip_code,omitempty"`
	HangupBy    string     `json:"hangup_by,omitempty"`
	Outcome     string     `json:"outcome,omitempty"`
	AMD         string     `json:"amd,omitempty"`    // human, machine, notsure
	Digits      int        `json:"digits,omitempty"` // DTMF digits received so far
	Transferred bool       `json:"transferred,omitempty"`
}

// EventCounters is the per-second counters message.
type EventCounters struct {
	ActiveCalls int `json:"active_calls"`
	// LastSecond and LastMinute count calls that ended, by disposition.
	LastSecond map[string]int `json:"last_second"`
	LastMinute map[string]int `json:"last_minute"`
	// StartedMinute counts calls started in the last minute.
	StartedMinute int `json:"started_minute"`
	// AnswerRate is answered / ended over the last minute (0 when none ended).
	AnswerRate float64 `json:"answer_rate"`
}

// liveCall is the hub's state of one call between started and ended.
type liveCall struct {
	ev       CallEvent
	rang     bool
	answered bool
}

// secondBucket counts one wall-clock second.
type secondBucket struct {
	sec     int64
	started int
	ended   map[string]int
}

// eventHub fans call events out to subscribers and keeps the sliding
// counters. Its methods are safe for concurrent use and never block.
type eventHub struct {
	now    func() time.Time
	active func() int // the call manager's active count

	mu      sync.Mutex
	subs    map[*eventSub]struct{} // guarded by mu
	live    map[string]*liveCall   // guarded by mu
	buckets [60]secondBucket       // guarded by mu; indexed by unix second % 60
	dropped int                    // guarded by mu; subscribers dropped as too slow

	figs figureCache // campaign figures shared by the streams
}

// eventSub is one subscriber: its buffered channel and a gone signal
// closed when the hub dropped it for being too slow.
type eventSub struct {
	ch   chan StreamEvent
	gone chan struct{} // closed (under hub.mu) when dropped or unsubscribed
}

func newEventHub(now func() time.Time, active func() int) *eventHub {
	if now == nil {
		now = time.Now
	}
	return &eventHub{now: now, active: active, subs: map[*eventSub]struct{}{}, live: map[string]*liveCall{}}
}

// subscribe returns a new subscriber with a buffer of size events (the
// default when size <= 0) and the hello snapshot of live calls.
func (h *eventHub) subscribe(size int) (*eventSub, []CallEvent) {
	if size <= 0 {
		size = eventSubscriberCap
	}
	s := &eventSub{ch: make(chan StreamEvent, size), gone: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[s] = struct{}{}
	calls := make([]CallEvent, 0, len(h.live))
	for _, c := range h.live {
		calls = append(calls, c.ev)
	}
	sort.Slice(calls, func(i, j int) bool { return calls[i].InviteAt.Before(calls[j].InviteAt) })
	return s, calls
}

// unsubscribe removes s; it is idempotent and safe after a drop.
func (h *eventHub) unsubscribe(s *eventSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.gone)
	}
}

// publishLocked hands ev to every subscriber without blocking; a full
// subscriber is dropped. Caller holds mu.
func (h *eventHub) publishLocked(ev StreamEvent) {
	for s := range h.subs {
		select {
		case s.ch <- ev:
		default:
			delete(h.subs, s)
			close(s.gone)
			h.dropped++
		}
	}
}

// bucketLocked returns the counter bucket of t's second. Caller holds mu.
func (h *eventHub) bucketLocked(t time.Time) *secondBucket {
	sec := t.Unix()
	b := &h.buckets[sec%60]
	if b.sec != sec {
		*b = secondBucket{sec: sec}
	}
	return b
}

// observe turns a committed call record into events: started the first
// time a call is seen, answered once it has a live answer, ringing
// (stamped with the SIP layer's ring time) when a record shows it rang,
// transfer and ended with the final record. Repeated commits of the same
// state publish nothing.
func (h *eventHub) observe(rec cluster.CallRecord) {
	if h == nil {
		return
	}
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.live[rec.ID]
	if c == nil {
		if !rec.EndAt.IsZero() && rec.InviteAt.IsZero() {
			return
		}
		if len(h.live) >= maxLiveCalls && rec.EndAt.IsZero() {
			return // bounded: the counters still see its end
		}
		c = &liveCall{ev: CallEvent{ID: rec.ID, State: "dialling"}}
		c.ev.InviteAt = rec.InviteAt
		if rec.EndAt.IsZero() {
			h.live[rec.ID] = c
		}
		h.bucketLocked(now).started++
		fillCallEvent(&c.ev, rec)
		h.publishLocked(StreamEvent{Type: EventCallStarted, At: now, Call: ptr(c.ev)})
	}
	fillCallEvent(&c.ev, rec)
	if !c.rang && !rec.RingAt.IsZero() {
		c.rang = true
		if c.ev.State == "dialling" {
			c.ev.State = "ringing"
		}
		h.publishLocked(StreamEvent{Type: EventCallRinging, At: rec.RingAt, Call: ptr(c.ev)})
	}
	if !c.answered && rec.Disposition == string(sipua.Answered) {
		c.answered = true
		c.ev.State = "answered"
		at := rec.AnswerAt
		if at.IsZero() {
			at = now
			c.ev.AnswerAt = &at
		}
		h.publishLocked(StreamEvent{Type: EventCallAnswered, At: at, Call: ptr(c.ev)})
	}
	if rec.EndAt.IsZero() {
		return
	}
	delete(h.live, rec.ID)
	if c.ev.Transferred {
		h.publishLocked(StreamEvent{Type: EventCallTransfer, At: rec.EndAt, Call: ptr(c.ev)})
	}
	c.ev.State = "ended"
	b := h.bucketLocked(now)
	if b.ended == nil {
		b.ended = map[string]int{}
	}
	b.ended[orUnknown(rec.Disposition)]++
	h.publishLocked(StreamEvent{Type: EventCallEnded, At: rec.EndAt, Call: ptr(c.ev)})
}

// ringing publishes call.ringing the moment the SIP layer sees the first
// 180/183 (not when the next record is committed, which for an unanswered
// call is its end). The later record with the same ring time publishes
// nothing more. It is called on the SIP layer's goroutine and never
// blocks.
func (h *eventHub) ringing(id string, at time.Time) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.live[id]
	if c == nil || c.rang {
		return
	}
	c.rang = true
	c.ev.RingAt = &at
	if c.ev.State == "dialling" {
		c.ev.State = "ringing"
	}
	h.publishLocked(StreamEvent{Type: EventCallRinging, At: at, Call: ptr(c.ev)})
}

// dtmf counts a digit on a live call and publishes it (without the digit:
// a card number read out on the keypad must not leave the box digit by
// digit). It is called from the media path and never blocks.
func (h *eventHub) dtmf(id string) {
	if h == nil {
		return
	}
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.live[id]
	if c == nil {
		return
	}
	c.ev.Digits++
	h.publishLocked(StreamEvent{Type: EventCallDTMF, At: now, Call: ptr(c.ev)})
}

// counters computes the sliding counters at the hub's now: the last whole
// second and the last 60 seconds.
func (h *eventHub) counters() EventCounters {
	now := h.now().Unix()
	out := EventCounters{LastSecond: map[string]int{}, LastMinute: map[string]int{}}
	if h.active != nil {
		out.ActiveCalls = h.active()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.active == nil {
		out.ActiveCalls = len(h.live)
	}
	var ended, answered int
	for i := range h.buckets {
		b := &h.buckets[i]
		if b.sec <= now-60 || b.sec > now {
			continue
		}
		out.StartedMinute += b.started
		for d, n := range b.ended {
			out.LastMinute[d] += n
			ended += n
			if d == string(sipua.Answered) {
				answered += n
			}
			if b.sec == now-1 {
				out.LastSecond[d] += n
			}
		}
	}
	if ended > 0 {
		out.AnswerRate = float64(answered) / float64(ended)
	}
	return out
}

func fillCallEvent(ev *CallEvent, rec cluster.CallRecord) {
	ev.Direction, ev.Number, ev.Trunk = rec.Direction, rec.Number, rec.Trunk
	ev.CampaignID, ev.Variant = rec.CampaignID, rec.Variant
	if !rec.InviteAt.IsZero() {
		ev.InviteAt = rec.InviteAt
	}
	ev.RingAt, ev.EndAt = optTime(rec.RingAt), optTime(rec.EndAt)
	if !rec.AnswerAt.IsZero() {
		ev.AnswerAt = optTime(rec.AnswerAt)
	}
	ev.Disposition, ev.SIPCode, ev.HangupBy, ev.Outcome = rec.Disposition, rec.SIPCode, rec.HangupBy, rec.Outcome
	ev.AMD = rec.AMD
	ev.Transferred = rec.Dialogue != nil && rec.Dialogue.Transferred
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// eventWriteTimeout bounds one WebSocket write; a client that cannot take
// a message in this time is closed.
const eventWriteTimeout = 5 * time.Second

// eventAuthRecheck is how often a stream re-checks its credentials (a
// logged-out session or revoked token ends the stream).
const eventAuthRecheck = 5 * time.Second

// handleEvents is GET /v1/events: a WebSocket of StreamEvent JSON messages.
// It needs the read permission; numbers are masked for roles without
// numbers.unmasked. The client sends nothing; the stream ends when the
// client closes, its credentials stop being valid, or it falls behind.
func (a *apiServer) handleEvents(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	hub := a.calls.events
	conn, err := websocket.Accept(w, r, nil) // same-origin only (the default)
	if err != nil {
		return // Accept wrote the error answer
	}
	defer conn.CloseNow()
	ctx := conn.CloseRead(r.Context())
	sub, live := hub.subscribe(0)
	defer hub.unsubscribe(sub)

	unmasked := p.Can(auth.PermNumbersUnmasked)
	send := func(ev StreamEvent) error {
		if ev.Call != nil && !unmasked {
			c := *ev.Call
			c.Number = redact.Phone(c.Number)
			ev.Call = &c
		}
		for i := range ev.Calls {
			if !unmasked {
				ev.Calls[i].Number = redact.Phone(ev.Calls[i].Number)
			}
		}
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, eventWriteTimeout)
		defer cancel()
		return conn.Write(wctx, websocket.MessageText, data)
	}
	counters := hub.counters()
	if err := send(StreamEvent{Type: EventHello, At: hub.now(), Calls: live, Counters: &counters}); err != nil {
		return
	}
	progress := campaignProgress{api: a, last: map[string]string{}}
	if err := progress.send(send, hub.now()); err != nil {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastAuth := time.Now()
	for {
		select {
		case ev := <-sub.ch:
			if err := send(ev); err != nil {
				return
			}
		case <-sub.gone:
			conn.Close(websocket.StatusTryAgainLater, "too slow: the event buffer overflowed; reconnect")
			return
		case <-tick.C:
			if time.Since(lastAuth) >= eventAuthRecheck {
				lastAuth = time.Now()
				if _, err := a.sec.authn.Authenticate(r); err != nil {
					conn.Close(websocket.StatusPolicyViolation, "credentials no longer valid")
					return
				}
			}
			c := hub.counters()
			if err := send(StreamEvent{Type: EventTick, At: hub.now(), Counters: &c}); err != nil {
				return
			}
			if err := progress.send(send, hub.now()); err != nil {
				return
			}
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), context.Canceled) {
				conn.Close(websocket.StatusGoingAway, "server stopping")
			}
			return
		}
	}
}

// figureTTL is how long a campaign's computed figures are reused; the
// figures read every attempt and call record of the campaign.
const figureTTL = 5 * time.Second

// figureCache shares campaign figures between streams.
type figureCache struct {
	mu sync.Mutex
	m  map[string]cachedFigures // guarded by mu
}

type cachedFigures struct {
	at  time.Time
	fig campaign.Figures
}

// figures returns k's report figures, computed at most once per figureTTL
// for all streams together.
func (a *apiServer) figures(k *cluster.Campaign, now time.Time) (campaign.Figures, bool) {
	fc := &a.calls.events.figs
	fc.mu.Lock()
	c, ok := fc.m[k.ID]
	fc.mu.Unlock()
	if ok && now.Sub(c.at) < figureTTL && now.Sub(c.at) >= 0 {
		return c.fig, true
	}
	atts, err := a.node.Attempts(k.ID)
	if err != nil {
		return campaign.Figures{}, false
	}
	rep := campaign.BuildReport(k, atts, func(id string) (cluster.CallRecord, bool) {
		rec, ok, _ := a.node.CallRecord(id)
		return rec, ok
	})
	fc.mu.Lock()
	if fc.m == nil || len(fc.m) > 10_000 {
		fc.m = map[string]cachedFigures{}
	}
	fc.m[k.ID] = cachedFigures{at: now, fig: rep.Total}
	fc.mu.Unlock()
	return rep.Total, true
}

// campaignProgress sends a campaign.progress event for each campaign whose
// state, counters or figures changed since the last one sent on this
// stream, and campaign.removed for one that disappeared. Figures are
// recomputed only for campaigns that are running or have calls up.
type campaignProgress struct {
	api  *apiServer
	last map[string]string // campaign ID → last sent JSON
}

func (cp *campaignProgress) send(send func(StreamEvent) error, now time.Time) error {
	ks, err := cp.api.node.Campaigns()
	if err != nil {
		return nil // state unreadable this second: try again next tick
	}
	seen := make(map[string]bool, len(ks))
	for i := range ks {
		k := &ks[i]
		seen[k.ID] = true
		busy := k.State == cluster.CampaignRunning || k.Counters.InProgress > 0
		if !busy && cp.last[k.ID] != "" && cp.lastState(k.ID) == string(k.State) {
			continue // idle and already sent
		}
		view := campaign.View(*k)
		ev := StreamEvent{Type: EventCampaign, At: now, Campaign: &view}
		if fig, ok := cp.api.figures(k, now); ok {
			ev.Report = &fig
		}
		key, _ := json.Marshal(struct {
			C apiv1.Campaign
			F *campaign.Figures
		}{view, ev.Report})
		if cp.last[k.ID] == string(k.State)+"\x00"+string(key) {
			continue
		}
		cp.last[k.ID] = string(k.State) + "\x00" + string(key)
		if err := send(ev); err != nil {
			return err
		}
	}
	for id := range cp.last {
		if !seen[id] {
			delete(cp.last, id)
			if err := send(StreamEvent{Type: EventCampaignGone, At: now, Campaign: &apiv1.Campaign{CampaignSpec: apiv1.CampaignSpec{ID: id}}}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (cp *campaignProgress) lastState(id string) string {
	s := cp.last[id]
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return s[:i]
		}
	}
	return ""
}
