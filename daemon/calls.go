package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
	"callbox/daemon/config"
	"callbox/daemon/flow"
	"callbox/daemon/sipua"
	"callbox/daemon/speech"
	"callbox/media"
)

// Sentinel errors returned by PlaceCall. The API maps them to HTTP codes.
var (
	// ErrBadRequest wraps every validation problem in a call request.
	ErrBadRequest = errors.New("bad call request")
	// ErrDraining is returned while the box drains for shutdown.
	ErrDraining = errors.New("box is draining: no new calls")
	// ErrBusy is returned when calls.max_active calls are already up.
	ErrBusy = errors.New("box is at its active call limit")
)

// CallRequest asks the box to place one outbound call.
type CallRequest struct {
	Number      string
	Trunk       string // default: the first configured trunk
	CallerID    string
	Say         string // the prompt, spoken with Voice
	Voice       string // default: tts.voice
	WaitDTMF    int    // digits to collect after the prompt ('#' ends early)
	DTMFTimeout time.Duration
	RingTimeout time.Duration

	// Campaign calls (the dialler sets these): the IDs go into the call
	// record and AttemptID becomes the call ID, so after a crash the
	// attempt's record is found by the attempt's ID.
	CampaignID, ContactID, AttemptID, Variant string
	// AMD, when set, runs answering-machine detection after answer (see
	// dialler.go).
	AMD *AMDSettings
	// OnAnswer, when set, is called once a live answer is known; a
	// non-empty result replaces Say (the safe-harbour message).
	OnAnswer func() string
	// BeforeDial, when set, is called right before the INVITE leaves (the
	// dialler's fencing check); an error ends the call undialled with
	// disposition not-dialled and the error in the record.
	BeforeDial func(ctx context.Context) error
	// Answered, when set, is called once the answer is committed (the
	// dialler marks its attempt answered).
	Answered func(ctx context.Context, at time.Time)

	// Flow, when set, runs that dialogue flow after answer instead of Say
	// (see flowcall.go); Profile holds the contact's fields.
	Flow    string
	Profile map[string]string
	flow    *flow.Flow // loaded by validate
	// Resume and ResumeAt make the call a callback after a cut-off call,
	// resuming its flow (flow.RunOptions); OnProgress hears each
	// say/ask/menu node the flow reaches (the executor keeps the attempt's
	// resume point with it).
	Resume     bool
	ResumeAt   string
	OnProgress func(node string)
}

// callState is the daemon's side of one live call. It is created before the
// INVITE (outbound) or by the media factory (inbound) and removed when the
// final record is committed.
type callState struct {
	id        string
	direction string
	dtmf      chan media.DTMFEvent // written by media goroutines, read by the call goroutine
	rec       *media.Recorder      // owned by the call goroutine; nil when recording is off
	recPath   string
	session   *media.Session // set by the media factory
	tap       *callTap       // headset tee and barge gate (console.go); nil without a headset; set under mu
	gate      *recGate       // recording pause/resume (recpause.go); nil when not recording; set under mu
	cancel    context.CancelFunc
}

// callManager runs calls. It owns one goroutine per call.
type callManager struct {
	cfg   *config.Config
	log   *slog.Logger
	node  *cluster.Node
	ua    *sipua.UA
	tts   speech.Synthesizer
	asr   speech.Recognizer // flows' ASR hook
	clock *media.Clock
	ports *media.PortRange
	now   func() time.Time

	live    liveConfig      // reloadable configuration; read it through limits() (reload.go)
	console *consoleManager // the supervisor's headset (console.go)
	sec     *security       // recording encryption and metrics (security.go); nil: plaintext WAV, no metrics
	events  *eventHub       // live call events and counters for GET /v1/events (api_events.go)

	mu       sync.Mutex
	active   map[string]*callState // guarded by mu
	draining bool                  // guarded by mu
	totals   mediaTotals           // guarded by mu

	wg       sync.WaitGroup
	stopCtx  context.Context // cancelled on hard stop: every call hangs up now
	stopCall context.CancelFunc

	warm  flowWarmer // flows whose static prompts were rendered
	turns turnStats  // dialogue turn timings
}

func newCallManager(cfg *config.Config, log *slog.Logger, node *cluster.Node, tts speech.Synthesizer, clock *media.Clock, ports *media.PortRange) *callManager {
	ctx, cancel := context.WithCancel(context.Background())
	m := &callManager{
		cfg: cfg, log: log, node: node, tts: tts, clock: clock, ports: ports,
		now:     time.Now,
		active:  map[string]*callState{},
		stopCtx: ctx, stopCall: cancel,
	}
	m.events = newEventHub(nil, m.activeCount)
	return m
}

// newCallID returns a sortable, unique call id.
func newCallID(now time.Time) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// validate checks a request and fills its defaults.
func (m *callManager) validate(req *CallRequest) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
	}
	n := strings.TrimSpace(req.Number)
	if n == "" {
		return bad("number is required")
	}
	digits := strings.TrimPrefix(n, "+")
	if len(digits) < 3 || len(digits) > 20 {
		return bad("number %q must have 3 to 20 digits", sipua.MaskNumber(n))
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return bad("number %q may hold only digits and a leading +", sipua.MaskNumber(n))
		}
	}
	req.Number = n
	if req.Trunk == "" {
		if len(m.limits().Trunks) == 0 {
			return bad("no trunk is configured")
		}
		req.Trunk = m.limits().Trunks[0].Name
	} else if _, ok := m.limits().Trunk(req.Trunk); !ok {
		return bad("unknown trunk %q", req.Trunk)
	}
	if req.Flow != "" {
		if err := m.loadFlow(req); err != nil {
			return err
		}
	} else if strings.TrimSpace(req.Say) == "" {
		return bad("say (the text to speak) is required")
	}
	if len(req.Say) > 4000 {
		return bad("say is %d bytes; the limit is 4000", len(req.Say))
	}
	if req.WaitDTMF < 0 || req.WaitDTMF > 64 {
		return bad("wait_dtmf must be 0-64, got %d", req.WaitDTMF)
	}
	if req.Voice == "" {
		req.Voice = m.limits().TTS.Voice
	}
	if req.DTMFTimeout <= 0 {
		req.DTMFTimeout = m.limits().Calls.DTMFTimeout
	}
	if req.RingTimeout <= 0 {
		req.RingTimeout = m.limits().Calls.RingTimeout
	}
	return nil
}

// PlaceCall validates req, commits the call's first record and starts the
// call in its own goroutine. The call outlives ctx (the API request): it is
// bounded by calls.max_duration and by a hard stop of the daemon.
func (m *callManager) PlaceCall(ctx context.Context, req CallRequest) (string, <-chan struct{}, error) {
	if err := m.validate(&req); err != nil {
		return "", nil, err
	}
	now := m.now()
	st := &callState{id: newCallID(now), direction: "outbound", dtmf: make(chan media.DTMFEvent, 64)}
	if req.AttemptID != "" {
		st.id = req.AttemptID
	}
	m.mu.Lock()
	switch {
	case m.draining:
		m.mu.Unlock()
		return "", nil, ErrDraining
	case len(m.active) >= m.limits().Calls.MaxActive:
		m.mu.Unlock()
		return "", nil, ErrBusy
	}
	m.active[st.id] = st
	// Added under mu, where draining was checked: Close sets draining under
	// mu before its Wait, so a call either sees draining or is waited for
	// (an Add racing Wait at zero would let Close return under a live call).
	m.wg.Add(1)
	m.mu.Unlock()

	rec := cluster.CallRecord{
		ID: st.id, Box: m.cfg.Box.ID, Trunk: req.Trunk, Number: req.Number,
		Direction: "outbound", CallerID: req.CallerID, InviteAt: now, Prompt: req.Say,
		CampaignID: req.CampaignID, ContactID: req.ContactID, AttemptID: req.AttemptID, Variant: req.Variant,
	}
	if err := m.commit(ctx, rec); err != nil {
		m.forget(st.id)
		m.wg.Done()
		return "", nil, fmt.Errorf("commit call record: %w", err)
	}

	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.limits().Calls.MaxDuration)
	m.mu.Lock()
	st.cancel = cancel // read by hangupCall under mu
	m.mu.Unlock()
	stop := context.AfterFunc(m.stopCtx, cancel)
	done := make(chan struct{})
	go func() {
		defer m.wg.Done() // added above
		defer close(done)
		defer stop()
		defer cancel()
		m.runOutbound(callCtx, st, req, rec)
	}()
	return st.id, done, nil
}

// dispNotDialled is the record's disposition of a call that BeforeDial
// refused (campaign.DispNotDialled).
const dispNotDialled = "not-dialled"

// hangupCall ends live call id now: a call not yet answered is cancelled,
// an answered one hung up with BYE. It reports whether the call was live.
func (m *callManager) hangupCall(id string) bool {
	m.mu.Lock()
	st := m.active[id]
	var cancel context.CancelFunc
	if st != nil {
		cancel = st.cancel
	}
	m.mu.Unlock()
	if cancel == nil {
		return false
	}
	cancel()
	return true
}

func (m *callManager) forget(id string) {
	m.mu.Lock()
	delete(m.active, id)
	m.mu.Unlock()
}

func (m *callManager) state(id string) *callState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active[id]
}

// commit writes a call record through Raft.
func (m *callManager) commit(ctx context.Context, rec cluster.CallRecord) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := m.node.Apply(ctx, cluster.PutCallRecord{Record: rec})
	m.observeCommit(rec, time.Since(start), err) // metrics (metrics_hooks.go)
	m.events.observe(rec)                        // GET /v1/events (api_events.go)
	return err
}

// runOutbound is one outbound call from TTS to final record.
func (m *callManager) runOutbound(ctx context.Context, st *callState, req CallRequest, rec cluster.CallRecord) {
	log := m.log.With("call", st.id, "number", sipua.MaskNumber(req.Number), "trunk", req.Trunk)
	defer m.forget(st.id)
	defer func() {
		if err := m.commit(ctx, rec); err != nil {
			log.Error("final call record not committed", "err", err)
		}
	}()

	// Synthesise before dialling so an answered callee never hears dead air.
	pcm, err := m.synthPrompt(ctx, req)
	if err != nil {
		rec.Disposition, rec.Error, rec.EndAt = string(sipua.Failed), "tts: "+err.Error(), m.now()
		log.Error("prompt synthesis failed; call not dialled", "err", err)
		return
	}

	if req.BeforeDial != nil {
		if err := req.BeforeDial(ctx); err != nil {
			rec.Disposition, rec.Error, rec.EndAt = dispNotDialled, "not dialled: "+err.Error(), m.now()
			log.Warn("call not dialled: the fencing check refused it", "err", err)
			return
		}
	}
	call, err := m.ua.Dial(ctx, sipua.DialRequest{
		Trunk: req.Trunk, Number: req.Number, CallerID: req.CallerID,
		RingTimeout: req.RingTimeout, CallID: st.id,
		OnRinging: func(_ int, at time.Time) { m.events.ringing(st.id, at) }, // GET /v1/events (api_events.go)
	})
	defer m.closeMedia(st, &rec)
	if err != nil {
		d, code := sipua.Classify(err)
		rec.Disposition, rec.SIPCode, rec.EndAt = string(d), code, m.now()
		var de *sipua.DialError
		if errors.As(err, &de) {
			rec.SIPReason = de.Reason
			m.fillTimes(&rec, de.Info)
		}
		if d == sipua.Failed || d == sipua.Unreachable {
			rec.Error = err.Error()
		}
		log.Info("call not answered", "disposition", d, "sip_code", code)
		return
	}
	rec.Disposition, rec.SIPCode = string(sipua.Answered), 200
	log.Info("call answered")
	m.events.observe(rec)
	if req.CampaignID != "" {
		var stop bool
		if pcm, stop = m.campaignAnswered(ctx, call, st, req, &rec, pcm); stop {
			m.finishCall(ctx, call, &rec)
			return
		}
	}
	if req.flow != nil && len(pcm) == 0 { // a campaign's AMD or safe-harbour message replaces the flow
		m.runFlow(ctx, call, st, req, &rec)
		m.finishCall(ctx, call, &rec)
		return
	}
	digits := m.converse(ctx, call, st, media.NewPCMSource(pcm), req.WaitDTMF, req.DTMFTimeout)
	rec.DTMF = digits
	m.finishCall(ctx, call, &rec)
}

// converse plays the prompt and collects up to want digits ('#' ends early)
// until the timeout after the prompt, or the callee hangs up.
func (m *callManager) converse(ctx context.Context, call *sipua.Call, st *callState, prompt media.FrameSource, want int, timeout time.Duration) string {
	played := call.Media().Play(st.outbound(prompt))
	var digits strings.Builder
	var timer <-chan time.Time
	for {
		select {
		case <-played:
			played = nil
			if want == 0 || digits.Len() >= want {
				return digits.String()
			}
			timer = time.After(timeout)
		case ev := <-st.dtmf:
			if want == 0 {
				continue
			}
			if ev.Digit == '#' {
				return digits.String()
			}
			digits.WriteRune(ev.Digit)
			if digits.Len() >= want {
				return digits.String()
			}
			if played == nil {
				timer = time.After(timeout) // inter-digit timeout restarts
			}
		case <-timer:
			return digits.String()
		case <-call.Done():
			return digits.String()
		case <-ctx.Done():
			return digits.String()
		}
	}
}

// finishCall hangs up (unless the callee did) and fills the end of rec.
func (m *callManager) finishCall(ctx context.Context, call *sipua.Call, rec *cluster.CallRecord) {
	select {
	case <-call.Done():
	default:
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := call.Hangup(hctx); err != nil {
			m.log.Warn("BYE failed", "call", rec.ID, "err", err)
		}
		cancel()
	}
	endAt, by, cause := call.End()
	if endAt.IsZero() {
		endAt = m.now()
	}
	rec.EndAt, rec.HangupBy = endAt, by
	if cause != "" && by != "callee" && ctx.Err() != nil {
		rec.Error = cause
	}
	m.fillTimes(rec, call.Info())
}

// fillTimes copies the SIP layer's timestamps into rec.
func (m *callManager) fillTimes(rec *cluster.CallRecord, info sipua.CallInfo) {
	rec.SIPCallID = info.SIPCallID
	if !info.RingAt.IsZero() {
		rec.RingAt = info.RingAt
	}
	rec.EarlyMediaAt, rec.AnswerAt = info.EarlyMediaAt, info.AnswerAt
	if !info.InviteAt.IsZero() {
		rec.InviteAt = info.InviteAt
	}
}

// closeMedia stops the call's media and recorder and fills the RTP summary.
func (m *callManager) closeMedia(st *callState, rec *cluster.CallRecord) {
	if st.session != nil {
		_ = st.session.Close() // stop the media first: the stats are then final
		s := st.session.Stats()
		m.mu.Lock()
		m.totals.add(s)
		m.mu.Unlock()
		rec.Codec = s.Codec.Name
		var loss float64
		if s.Expected > 0 && s.Lost > 0 {
			loss = float64(s.Lost) / float64(s.Expected)
		}
		rec.RTP = cluster.RTPSummary{
			PacketsSent: int64(s.PacketsSent), PacketsReceived: int64(s.PacketsReceived), PacketsLost: s.Lost,
			LossFraction: loss, JitterMs: s.JitterMs,
			RemoteLossFraction: s.RemoteFractionLost, RemoteJitterMs: s.RemoteJitterMs,
		}
	}
	if st.rec != nil {
		if err := st.rec.Close(); err != nil {
			m.log.Error("recording not finished", "call", st.id, "err", err)
			rec.Error = strings.TrimPrefix(rec.Error+"; recording: "+err.Error(), "; ")
		} else if rec.AnswerAt.IsZero() && rec.EarlyMediaAt.IsZero() {
			_ = os.Remove(st.recPath) // nothing was heard: keep no empty file
		} else {
			rec.RecordingPath, rec.RecordingBox = st.recPath, m.cfg.Box.ID
			if st.gate != nil {
				rec.RecordingPauses = st.gate.intervals(m.now())
			}
		}
	}
}

// newMedia is sipua's media factory: it builds the RTP session for a call
// leg, attaches the recorder and routes DTMF to the call's state.
func (m *callManager) newMedia(info sipua.CallInfo) (*media.Session, error) {
	st := m.state(info.ID)
	if st == nil {
		if info.Direction != "inbound" {
			return nil, fmt.Errorf("no call state for %s", info.ID)
		}
		st = &callState{id: info.ID, direction: "inbound", dtmf: make(chan media.DTMFEvent, 64)}
		m.mu.Lock()
		if m.draining {
			m.mu.Unlock()
			return nil, ErrDraining
		}
		m.active[st.id] = st
		m.mu.Unlock()
	}
	s, err := media.NewSession(media.SessionConfig{IP: mediaIP(m.cfg), Ports: m.ports, Clock: m.clock, Logger: m.log})
	if err != nil {
		if info.Direction == "inbound" {
			m.forget(st.id)
		}
		return nil, err
	}
	s.OnDTMF(func(ev media.DTMFEvent) {
		select {
		case st.dtmf <- ev:
		default: // a caller hammering keys cannot block the media path
		}
		m.events.dtmf(st.id)
	})
	if m.cfg.Media.Record {
		path := filepath.Join(m.cfg.Box.DataDir, "recordings", m.now().UTC().Format("2006/01/02"), info.ID+m.recordingExt())
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			s.Close()
			return nil, fmt.Errorf("recording directory: %w", err)
		}
		r, err := media.CreateRecorderWith(path, m.recorderOptions()) // encrypted .cbrec (security.go)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("recording: %w", err)
		}
		gate := newRecGate(r)
		s.SetRecorder(gate)
		m.mu.Lock()
		st.gate = gate
		m.mu.Unlock()
		st.rec, st.recPath = r, path
	}
	m.tapMedia(st, s)
	if st.tap != nil && st.gate != nil {
		st.tap.rec = st.gate // the headset hears everything; the file pauses (the session has not started yet)
	}
	st.session = s
	return s, nil
}

// onInbound answers a callback from a trunk: prompt, digits, record.
func (m *callManager) onInbound(call *sipua.Call, prompt []int16) {
	info := call.Info()
	st := m.state(info.ID)
	if st == nil {
		m.log.Error("inbound call without state", "call", info.ID)
		_ = call.Hangup(context.Background())
		return
	}
	ctx, cancel := context.WithTimeout(m.stopCtx, m.limits().Calls.MaxDuration)
	defer cancel()
	defer m.forget(st.id)
	rec := cluster.CallRecord{
		ID: info.ID, Box: m.cfg.Box.ID, Trunk: info.Trunk, Number: info.Number, CallerID: info.CallerID,
		Direction: "inbound", InviteAt: info.InviteAt, Disposition: string(sipua.Answered), SIPCode: 200,
		Prompt: m.limits().Inbound.Prompt,
	}
	m.log.Info("inbound call answered", "call", info.ID, "from", sipua.MaskNumber(info.Number), "trunk", info.Trunk)
	if err := m.commit(ctx, rec); err != nil {
		m.log.Error("inbound call record not committed", "call", info.ID, "err", err)
	}
	rec.DTMF = m.converse(ctx, call, st, media.NewPCMSource(prompt), m.limits().Inbound.MaxDigits, m.limits().Inbound.DTMFTimeout)
	m.finishCall(ctx, call, &rec)
	m.closeMedia(st, &rec)
	if err := m.commit(ctx, rec); err != nil {
		m.log.Error("final inbound call record not committed", "call", info.ID, "err", err)
	}
}

// mediaTotals sums the RTP statistics of finished call legs.
type mediaTotals struct {
	legs, sent, received, expected uint64
	lost                           int64
	sendInterval                   media.DeviationHistogram
}

func (t *mediaTotals) add(s media.SessionStats) {
	t.legs++
	t.sent += s.PacketsSent
	t.received += s.PacketsReceived
	t.expected += s.Expected
	t.lost += s.Lost
	t.sendInterval.Merge(s.SendInterval)
}

// mediaStats reports the media plane for GET /v1/stats/media.
func (m *callManager) mediaStats() apiv1.MediaStats {
	m.mu.Lock()
	t, active := m.totals, len(m.active)
	m.mu.Unlock()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	cs := m.clock.Stats()
	out := apiv1.MediaStats{
		ActiveCalls: active, Legs: t.legs, PacketsSent: t.sent, PacketsReceived: t.received,
		PacketsExpected: t.expected, PacketsLost: t.lost,
		SendIntervalP50Ms: ms(t.sendInterval.Quantile(0.5)), SendIntervalP99Ms: ms(t.sendInterval.Quantile(0.99)),
		SendIntervalMaxMs: ms(t.sendInterval.Max), SendIntervals: t.sendInterval.Total,
		ClockTicks: cs.Ticks, ClockSkipped: cs.Skipped, ClockMaxLateMs: ms(cs.MaxLateness), ClockMaxWorkMs: ms(cs.MaxWork),
	}
	if t.expected > 0 && t.lost > 0 {
		out.LossFraction = float64(t.lost) / float64(t.expected)
	}
	return out
}

// activeCount is the number of calls up or being set up.
func (m *callManager) activeCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.active)
}

// drain stops new calls and waits up to bound for active ones to finish;
// calls still up then are hung up.
func (m *callManager) drain(ctx context.Context, bound time.Duration) {
	m.mu.Lock()
	m.draining = true
	m.mu.Unlock()
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for m.activeCount() > 0 {
		select {
		case <-tick.C:
		case <-deadline.C:
			m.log.Warn("drain bound reached; hanging up remaining calls", "active", m.activeCount())
			return
		case <-ctx.Done():
			return
		}
	}
}

// Close hangs up every call now and waits for their goroutines.
func (m *callManager) Close() {
	m.mu.Lock()
	m.draining = true
	m.mu.Unlock()
	m.stopCall()
	m.wg.Wait()
}

func mediaIP(cfg *config.Config) net.IP {
	return net.ParseIP(cfg.Media.IP)
}
