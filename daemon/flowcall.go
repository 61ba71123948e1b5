package daemon

// This file holds calls that run a dialogue flow: loading and validating
// the flow when the call is requested (and warming the TTS cache with its
// static prompts), running it through voice.CallIO after answer, blind and
// warm transfer, opt-out to the do-not-call list, and the outcome and
// transcript in the call record.

import (
	"context"
	"errors"
	"fmt"
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
	"callbox/daemon/voice"
	"callbox/media"
)

// Transfer errors.
var (
	// ErrUnknownQueue means a transfer target "queue:NAME" has no entry
	// in flows.queues.
	ErrUnknownQueue = errors.New("transfer target queue is not configured in flows.queues")
	// ErrBadTarget means a transfer target cannot be dialled or referred.
	ErrBadTarget = errors.New("transfer target is not a number, queue or SIP URI")
)

// synthPrompt renders a single-prompt call's text before dialling; flow
// calls speak through their CallIO instead.
func (m *callManager) synthPrompt(ctx context.Context, req CallRequest) ([]int16, error) {
	if req.flow != nil {
		return nil, nil
	}
	return m.tts.Synthesize(ctx, req.Say, speech.Voice{Name: req.Voice, Rate: m.limits().TTS.Rate})
}

// transferTimeout bounds a blind transfer's wait for the final NOTIFY.
const transferTimeout = 30 * time.Second

// newRecognizer builds the configured ASR engine.
func newRecognizer(cfg *config.Config) speech.Recognizer {
	a := cfg.ASR
	switch a.Engine {
	case "vosk":
		return &speech.Vosk{URL: a.URL}
	case "funasr":
		return &speech.FunASR{URL: a.URL}
	case "openai":
		return &speech.OpenAIASR{BaseURL: a.URL, APIKey: a.APIKey, Model: a.Model, Timeout: a.Timeout}
	default:
		return &speech.Pocketsphinx{Binary: a.Binary, Timeout: a.Timeout + 2*time.Second, Mandarin: a.MandarinPhrases}
	}
}

// flowPath resolves a request's flow: a path (absolute, or containing a
// separator) as given, else a name under flows.dir with or without .yaml.
func flowPath(cfg *config.Config, name string) (string, error) {
	if strings.ContainsAny(name, `/\`) || filepath.IsAbs(name) {
		return name, nil
	}
	if name == "." || name == ".." {
		return "", fmt.Errorf("flow name %q is not a file", name)
	}
	for _, cand := range []string{name, name + ".yaml", name + ".yml"} {
		p := filepath.Join(cfg.Flows.Dir, cand)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("flow %q: no file %s, %s.yaml or %s.yml in flows.dir %s", name, name, name, name, cfg.Flows.Dir)
}

// checkFlow loads flow name as a call would, without a profile: the
// dialler pauses a campaign whose flow is missing or invalid instead of
// failing each of its contacts.
func (m *callManager) checkFlow(name string) error {
	path, err := m.resolveFlowPath(name) // api_flows.go: store:NAME[@N] too
	if err != nil {
		return err
	}
	_, err = flow.Load(path)
	return err
}

// flowWarmer remembers which flow versions had their static prompts
// rendered, so each is warmed once.
type flowWarmer struct {
	mu     sync.Mutex
	warmed map[string]bool // guarded by mu; path + mtime
}

// loadFlow validates req.Flow and req.Profile and attaches the flow. Every
// problem wraps ErrBadRequest and names file:line:problem.
func (m *callManager) loadFlow(req *CallRequest) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
	}
	path, err := m.resolveFlowPath(req.Flow) // api_flows.go: store:NAME[@N] too
	if err != nil {
		return bad("%v", err)
	}
	f, err := flow.Load(path)
	if err != nil {
		return bad("%v", err)
	}
	profile := make(map[string]string, len(req.Profile)+1)
	for k, v := range req.Profile {
		profile[k] = v
	}
	if _, ok := profile["phone"]; !ok {
		profile["phone"] = req.Number
	}
	if err := f.CheckProfile(profile); err != nil {
		return bad("%v", err)
	}
	req.Profile, req.flow = profile, f
	m.warmFlow(path, f, m.flowVoice(f, req.Voice))
	return nil
}

// flowVoice is the TTS voice of a flow's prompts.
func (m *callManager) flowVoice(f *flow.Flow, reqVoice string) speech.Voice {
	lim := m.limits() // tts.voice and tts.rate reload (SIGHUP)
	v := speech.Voice{Name: reqVoice, Rate: lim.TTS.Rate}
	if v.Name == "" {
		if f.Language == flow.LangZH {
			v.Name = speech.VoiceFor("zh").Name
		} else {
			v.Name = lim.TTS.Voice
		}
	}
	return v
}

// staticPrompts lists the flow's prompts that need no contact field.
func staticPrompts(f *flow.Flow) []string {
	ts := []*flow.Template{f.Disclosure, f.Goodbye, f.OptOutText, f.TransferText}
	for _, n := range f.Nodes {
		ts = append(ts, n.Text, n.Prompt, n.NoInput, n.NoMatch)
	}
	lookup := func(name string) (string, bool) {
		if name == "org" && f.Org != "" {
			return f.Org, true
		}
		return "", false
	}
	var out []string
	seen := map[string]bool{}
	for _, t := range ts {
		if t == nil {
			continue
		}
		s, err := t.Render(f.Language, lookup)
		if err != nil || strings.TrimSpace(s) == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

// warmFlow renders the flow's static prompts into the TTS cache in the
// background, once per file version.
func (m *callManager) warmFlow(path string, f *flow.Flow, v speech.Voice) {
	key := path
	if st, err := os.Stat(path); err == nil {
		key += "@" + st.ModTime().UTC().Format(time.RFC3339Nano)
	}
	key += "#" + v.Name
	m.warm.mu.Lock()
	if m.warm.warmed == nil {
		m.warm.warmed = map[string]bool{}
	}
	done := m.warm.warmed[key]
	m.warm.warmed[key] = true
	m.warm.mu.Unlock()
	if done {
		return
	}
	texts := staticPrompts(f)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for _, t := range texts {
			ctx, cancel := context.WithTimeout(m.stopCtx, 30*time.Second)
			_, err := m.tts.Synthesize(ctx, t, v)
			cancel()
			if err != nil {
				m.log.Warn("flow prompt not pre-rendered", "flow", f.Name, "err", err)
				if m.stopCtx.Err() != nil {
					return
				}
			}
		}
		m.log.Info("flow prompts rendered", "flow", f.Name, "prompts", len(texts))
	}()
}

// runFlow runs req's flow on an answered call and fills rec with its
// outcome and transcript.
func (m *callManager) runFlow(ctx context.Context, call *sipua.Call, st *callState, req CallRequest, rec *cluster.CallRecord) {
	log := m.log.With("call", st.id, "number", sipua.MaskNumber(req.Number), "flow", req.flow.Name)
	f := req.flow
	rec.Flow = f.File
	lim := m.limits()
	io, err := voice.New(voice.Config{
		Session: call.Media(), TTS: m.tts, Voice: m.flowVoice(f, req.Voice), ASR: m.asr, Lang: f.Language,
		DTMF: st.dtmf, Done: call.Done(),
		Phrases: f.Matcher().Phrases,
		Hangup:  call.Hangup,
		Transfer: func(ctx context.Context, mode, target, summary string) error {
			return m.transfer(ctx, call, req, mode, target, summary, rec)
		},
		BargeInMinSpeech: lim.Flows.BargeInMinSpeech,
		EndSilence:       lim.Flows.EndSilence,
		ASRTimeout:       lim.ASR.Timeout,
		OnRecognized:     m.observeASR,
		SetRecording:     func(paused bool) error { return m.setRecording(st.id, paused, "flow") },
		Log:              log,
	})
	if err != nil {
		rec.Error = err.Error()
		log.Error("flow not started", "err", err)
		return
	}
	defer io.Close()
	out, err := f.Run(ctx, io, req.Profile, flow.RunOptions{CallID: st.id, Logger: m.log, Resume: req.Resume, ResumeAt: req.ResumeAt, OnProgress: req.OnProgress})
	if out.OptOut {
		m.optOut(ctx, req.Number, st.id, rec)
	}
	if err != nil && !errors.Is(err, voice.ErrCallEnded) && !errors.Is(err, context.Canceled) {
		rec.Error = strings.TrimPrefix(rec.Error+"; flow: "+err.Error(), "; ")
	}
	fillDialogue(rec, out)
	for _, k := range []string{"transfer_mode", "transfer_target"} { // set by transfer
		if v, ok := rec.Tags[k]; ok {
			if rec.Dialogue.Tags == nil {
				rec.Dialogue.Tags = map[string]string{}
			}
			rec.Dialogue.Tags[k] = v
		}
	}
	m.noteTimings(io.Timings())
	for _, t := range io.Timings() {
		if t.SpeechEnd.IsZero() || t.FirstRTP.IsZero() {
			continue
		}
		log.Info("dialogue turn latency", "node", t.Node, "total", t.FirstRTP.Sub(t.SpeechEnd),
			"endpoint", t.Endpoint.Sub(t.SpeechEnd), "asr", t.ASRDone.Sub(t.Endpoint), "intent", t.SayStart.Sub(t.ListenDone),
			"tts", t.TTSDone.Sub(t.SayStart), "tts_cached", t.TTSCached, "media", t.FirstRTP.Sub(t.TTSDone))
	}
	if n := io.DroppedFrames(); n > 0 {
		log.Warn("caller audio frames dropped by a slow listener", "frames", n)
	}
}

// fillDialogue copies a flow outcome into the call record.
func fillDialogue(rec *cluster.CallRecord, out flow.Outcome) {
	rec.Outcome, rec.Intent = out.Disposition, out.IntentLevel
	rec.Dialogue = &cluster.FlowOutcome{
		Disposition: out.Disposition, IntentLevel: out.IntentLevel, Tags: out.Tags, Slots: out.Slots,
		OptOut: out.OptOut, Transferred: out.Transferred, EmotionScores: out.EmotionScores,
		FailedTurns: out.FailedTurns, ResumeNode: out.ResumeNode,
	}
	if len(out.Transcript) > cluster.MaxTranscriptTurns {
		out.Transcript = out.Transcript[len(out.Transcript)-cluster.MaxTranscriptTurns:]
	}
	rec.Transcript = make([]cluster.TranscriptTurn, 0, len(out.Transcript))
	for _, t := range out.Transcript {
		rec.Transcript = append(rec.Transcript, cluster.TranscriptTurn{
			Who: t.Who, Node: t.Node, Text: t.Text, Digits: t.Digits, Intent: t.Intent, Confidence: t.Confidence,
			Emotion: t.Emotion, BargedIn: t.BargedIn, NoInput: t.NoInput, Start: t.Start, End: t.End,
		})
	}
}

// optOut lists the number on the global do-not-call list now.
func (m *callManager) optOut(ctx context.Context, number, callID string, rec *cluster.CallRecord) {
	if !strings.HasPrefix(number, "+") {
		rec.Error = strings.TrimPrefix(rec.Error+"; opt-out: number is not E.164, not listed", "; ")
		m.log.Error("opt-out number is not E.164; not put on the DNC list", "call", callID, "number", sipua.MaskNumber(number))
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := m.node.Apply(actx, cluster.AddDNC{Scope: cluster.ScopeGlobal, Phone: number, Reason: "opt-out in call " + callID, At: m.now()})
	if err != nil {
		rec.Error = strings.TrimPrefix(rec.Error+"; opt-out: "+err.Error(), "; ")
		m.log.Error("opt-out not put on the DNC list", "call", callID, "number", sipua.MaskNumber(number), "err", err)
		return
	}
	m.log.Info("number put on the do-not-call list", "call", callID, "number", sipua.MaskNumber(number))
}

// resolveTarget turns a flow's transfer target into a number to dial on
// the trunk and a SIP URI to refer to.
func (m *callManager) resolveTarget(trunkName, target string) (number, uri string, err error) {
	t := strings.TrimSpace(target)
	if q, ok := strings.CutPrefix(t, "queue:"); ok || !strings.Contains(t, ":") {
		v, found := m.limits().Flows.Queues[q]
		if !found {
			return "", "", fmt.Errorf("%w: %q", ErrUnknownQueue, q)
		}
		t = strings.TrimSpace(v)
	}
	tr, _ := m.limits().Trunk(trunkName)
	switch {
	case strings.HasPrefix(t, "sip:") || strings.HasPrefix(t, "sips:"):
		user := strings.TrimPrefix(strings.TrimPrefix(t, "sips:"), "sip:")
		user, _, _ = strings.Cut(user, "@")
		return user, t, nil
	case strings.HasPrefix(t, "tel:"):
		t = strings.TrimPrefix(t, "tel:")
	}
	digits := strings.TrimPrefix(t, "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return "", "", fmt.Errorf("%w: %q", ErrBadTarget, target)
	}
	return t, fmt.Sprintf("sip:%s@%s:%d", t, tr.Host, tr.Port), nil
}

// transfer is the flow's transfer hook: blind (REFER) or warm (dial the
// agent, speak the summary, bridge the legs until either hangs up).
func (m *callManager) transfer(ctx context.Context, call *sipua.Call, req CallRequest, mode, target, summary string, rec *cluster.CallRecord) error {
	number, uri, err := m.resolveTarget(req.Trunk, target)
	if err != nil {
		return err
	}
	if rec.Tags == nil {
		rec.Tags = map[string]string{}
	}
	rec.Tags["transfer_mode"] = mode
	if mode != flow.TransferWarm {
		rec.Tags["transfer_target"] = uri
		rctx, cancel := context.WithTimeout(ctx, transferTimeout)
		defer cancel()
		return call.Refer(rctx, uri)
	}
	rec.Tags["transfer_target"] = number
	id := call.ID() + "-agent"
	st := &callState{id: id, direction: "outbound", dtmf: make(chan media.DTMFEvent, 64)}
	m.mu.Lock()
	m.active[id] = st
	m.mu.Unlock()
	defer m.forget(id)
	var agentRec cluster.CallRecord
	defer func() {
		m.closeMedia(st, &agentRec)
		if agentRec.RecordingPath != "" {
			if rec.Tags == nil {
				rec.Tags = map[string]string{}
			}
			rec.Tags["agent_recording"] = agentRec.RecordingPath
		}
	}()
	var pcm []int16
	if strings.TrimSpace(summary) != "" {
		if pcm, err = m.tts.Synthesize(ctx, summary, m.flowVoice(req.flow, req.Voice)); err != nil {
			return fmt.Errorf("summary: %w", err)
		}
	}
	// The callee hears a soft hold tone-free silence while the agent rings.
	agent, err := m.ua.Dial(ctx, sipua.DialRequest{Trunk: req.Trunk, Number: number, CallerID: req.CallerID, RingTimeout: req.RingTimeout, CallID: id})
	if err != nil {
		return fmt.Errorf("agent leg: %w", err)
	}
	if len(pcm) > 0 {
		select {
		case <-agent.Media().Play(media.NewPCMSource(pcm)):
		case <-agent.Done():
			return errors.New("agent hung up during the summary")
		case <-call.Done():
			_ = agent.Hangup(context.WithoutCancel(ctx))
			return voice.ErrCallEnded
		case <-ctx.Done():
			_ = agent.Hangup(context.WithoutCancel(ctx))
			return ctx.Err()
		}
	}
	m.log.Info("warm transfer: legs bridged", "call", call.ID(), "agent", sipua.MaskNumber(number))
	sipua.Bridge(ctx, call, agent)
	return nil
}

// turnStats accumulates dialogue turn timings for GET /v1/stats/media's
// neighbours and the benchmark.
type turnStats struct {
	mu    sync.Mutex
	turns []voice.TurnTiming // guarded by mu; the last maxTurnStats
}

const maxTurnStats = 1000

// onTurnTimings, when set (by tests, before any box starts), receives each
// flow call's turn timings (BenchmarkTurnLatency).
var onTurnTimings func([]voice.TurnTiming)

func (m *callManager) noteTimings(ts []voice.TurnTiming) {
	if onTurnTimings != nil {
		onTurnTimings(ts)
	}
	m.turns.mu.Lock()
	defer m.turns.mu.Unlock()
	m.turns.turns = append(m.turns.turns, ts...)
	if n := len(m.turns.turns); n > maxTurnStats {
		m.turns.turns = append([]voice.TurnTiming(nil), m.turns.turns[n-maxTurnStats:]...)
	}
}

// dialogueView is the API form of a record's flow fields.
func dialogueView(r cluster.CallRecord, out *apiv1.CallRecord) {
	out.Flow = r.Flow
	if d := r.Dialogue; d != nil {
		out.Dialogue = &apiv1.Dialogue{
			Disposition: d.Disposition, IntentLevel: d.IntentLevel, Tags: d.Tags, Slots: d.Slots,
			OptOut: d.OptOut, Transferred: d.Transferred, EmotionScores: d.EmotionScores,
			FailedTurns: d.FailedTurns, ResumeNode: d.ResumeNode,
		}
	}
	for _, t := range r.Transcript {
		out.Transcript = append(out.Transcript, apiv1.TranscriptTurn{
			Who: t.Who, Node: t.Node, Text: t.Text, Digits: t.Digits, Intent: t.Intent, Confidence: t.Confidence,
			Emotion: t.Emotion, BargedIn: t.BargedIn, NoInput: t.NoInput, Start: t.Start, End: t.End,
		})
	}
}
