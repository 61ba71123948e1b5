package daemon

// The supervisor's headset on live calls: POST /v1/calls/{id}/console
// attaches hw.Console to one call (listen, whisper, barge, off). The call's
// media feeds the headset through a tee on the recorder path (callTap), and
// the bot's prompts go through a gate that hands the outbound audio to the
// headset microphone in barge mode.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"callbox/daemon/config"
	"callbox/hw"
	"callbox/media"
)

// Sentinel errors of the console API. Each maps to one HTTP status.
var (
	// ErrNoAudioSupport: this callboxd was built without PortAudio (501).
	ErrNoAudioSupport = errors.New("audio support not built in: this callboxd was built without PortAudio (build with -tags portaudio)")
	// ErrConsoleDisabled: audio.enabled is false, or the headset failed to
	// open at start-up (503; the message says which).
	ErrConsoleDisabled = errors.New("supervisor headset not available")
	// ErrCallNotLive: the call is not up on this box (404).
	ErrCallNotLive = errors.New("call is not live on this box")
	// ErrNoMediaYet: the call has no media session yet (409).
	ErrNoMediaYet = errors.New("call has no media yet")
)

// ConsoleRequest is the body of POST /v1/calls/{id}/console.
type ConsoleRequest struct {
	Mode string `json:"mode"` // listen, whisper, barge or off
}

// ConsoleState is the answer: which call the headset is on, in which mode.
type ConsoleState struct {
	Call string `json:"call,omitempty"`
	Mode string `json:"mode"`
}

// headset is the part of *hw.Console the daemon uses (a fake in unit tests
// is possible; the real one is always used by the daemon).
type headset interface {
	Mode() hw.ConsoleMode
	SetMode(hw.ConsoleMode) error
	Monitor(callee, box []int16)
	ReadMic(pcm []int16) (int, error)
	Outbound(bot hw.FrameReader) hw.FrameReader
	Close() error
}

// consoleManager owns the box's one headset and which call it is on.
type consoleManager struct {
	log   *slog.Logger
	calls *callManager
	con   headset // nil when unavailable
	why   error   // why con is nil

	mu       sync.Mutex
	attached *callTap // guarded by mu
	callID   string   // guarded by mu
}

// openConsole opens the headset when audio.enabled is set. Failure never
// stops the box: the console API then answers with the reason.
func openConsole(cfg config.Audio, log *slog.Logger, calls *callManager) *consoleManager {
	cm := &consoleManager{log: log, calls: calls}
	if !cfg.Enabled {
		cm.why = fmt.Errorf("%w: audio.enabled is false in the configuration", ErrConsoleDisabled)
		return cm
	}
	con, err := hw.OpenConsole(cfg.Input, cfg.Output, log)
	switch {
	case errors.Is(err, hw.ErrNoAudioSupport):
		cm.why = ErrNoAudioSupport
		log.Error("audio.enabled is set but this build has no audio support; the supervisor headset is off", "err", err)
	case err != nil:
		cm.why = fmt.Errorf("%w: audio.input %q / audio.output %q: %v", ErrConsoleDisabled, cfg.Input, cfg.Output, err)
		log.Error("supervisor headset not opened", "err", err)
	default:
		cm.con = con
		log.Info("supervisor headset open", "input", cfg.Input, "output", cfg.Output)
	}
	return cm
}

// Close releases the headset. It is idempotent.
func (cm *consoleManager) Close() {
	if cm == nil || cm.con == nil {
		return
	}
	cm.mu.Lock()
	if cm.attached != nil {
		cm.attached.con.Store(nil)
		cm.attached, cm.callID = nil, ""
	}
	cm.mu.Unlock()
	if err := cm.con.Close(); err != nil {
		cm.log.Warn("closing the supervisor headset", "err", err)
	}
}

// Attach puts the headset on call id in mode (hw.ConsoleOff detaches it).
// A headset on another call moves to this one.
func (cm *consoleManager) Attach(id string, mode hw.ConsoleMode) (ConsoleState, error) {
	if cm == nil || cm.con == nil {
		if _, err := hw.Devices(); errors.Is(err, hw.ErrNoAudioSupport) {
			return ConsoleState{}, ErrNoAudioSupport // say so even when audio.enabled is false
		}
		why := ErrConsoleDisabled
		if cm != nil && cm.why != nil {
			why = cm.why
		}
		return ConsoleState{}, why
	}
	tap, err := cm.calls.tapOf(id)
	if err != nil {
		return ConsoleState{}, err
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if mode == hw.ConsoleOff {
		if err := cm.con.SetMode(hw.ConsoleOff); err != nil {
			return ConsoleState{}, err
		}
		if cm.attached == tap {
			tap.con.Store(nil)
			cm.attached, cm.callID = nil, ""
		}
		cm.log.Info("supervisor headset off", "call", id)
		return ConsoleState{Mode: hw.ConsoleOff.String()}, nil
	}
	if cm.attached != nil && cm.attached != tap {
		cm.attached.con.Store(nil)
		cm.log.Info("supervisor headset moved", "from", cm.callID, "to", id)
	}
	if err := cm.con.SetMode(mode); err != nil {
		return ConsoleState{}, err
	}
	cm.attached, cm.callID = tap, id
	tap.con.Store(&consoleRef{h: cm.con})
	if mode == hw.ConsoleBarge {
		tap.bargeWhenSilent(cm.con)
	}
	cm.log.Info("supervisor headset attached", "call", id, "mode", mode.String())
	return ConsoleState{Call: id, Mode: mode.String()}, nil
}

// consoleRef boxes the headset for atomic.Pointer.
type consoleRef struct{ h headset }

// callTap is one call's hook for the headset. It is the session's
// StereoSink: every tick it feeds the attached headset and passes the
// frames on to the recorder, so recording goes on unchanged.
type callTap struct {
	rec     media.StereoSink // nil when recording is off
	session *media.Session
	con     atomic.Pointer[consoleRef] // the attached headset, or nil

	ticks    atomic.Int64 // media ticks seen
	promptAt atomic.Int64 // tick of the last read of a gated bot prompt
}

// WriteStereo is called on the media clock with the session's tick lock
// held; hw.Console.Monitor never blocks.
func (t *callTap) WriteStereo(callee, box []int16) error {
	t.ticks.Add(1)
	if c := t.con.Load(); c != nil {
		c.h.Monitor(callee, box)
	}
	if t.rec != nil {
		return t.rec.WriteStereo(callee, box)
	}
	return nil
}

// bargeWhenSilent makes the headset microphone heard at once when the bot
// is not playing a prompt (a playing prompt is gated in ReadFrame). The
// microphone source ends when barge ends or the bot plays a new prompt.
func (t *callTap) bargeWhenSilent(h headset) {
	if t.ticks.Load()-t.promptAt.Load() <= 2 {
		return // a gated prompt is being read: it hands over to the microphone
	}
	ref := t.con.Load()
	t.session.Play(media.FrameSourceFunc(func(pcm []int16) (int, error) {
		if t.con.Load() != ref || h.Mode() != hw.ConsoleBarge {
			return 0, io.EOF
		}
		return h.ReadMic(pcm)
	}))
}

// gatedPrompt is a bot prompt on a call with a tap: it reads the bot's
// source through hw.Console.Outbound while a headset is attached, so that
// in barge mode the microphone replaces the bot (whose prompt pauses).
type gatedPrompt struct {
	tap *callTap
	bot media.FrameSource
	ref *consoleRef
	out hw.FrameReader
}

func (g *gatedPrompt) ReadFrame(pcm []int16) (int, error) {
	g.tap.promptAt.Store(g.tap.ticks.Load())
	ref := g.tap.con.Load()
	if ref == nil {
		return g.bot.ReadFrame(pcm)
	}
	if ref != g.ref {
		g.ref, g.out = ref, ref.h.Outbound(g.bot)
	}
	return g.out.ReadFrame(pcm)
}

// outbound wraps a bot prompt for the headset's barge mode. Every Play of
// bot audio on a call should go through it; without a tap (no headset
// configured) it returns src.
func (st *callState) outbound(src media.FrameSource) media.FrameSource {
	if st.tap == nil || src == nil {
		return src
	}
	return &gatedPrompt{tap: st.tap, bot: src}
}

// tapMedia puts a callTap between the session and its recorder when the
// box has a headset. It runs in the media factory, before the call is up.
func (m *callManager) tapMedia(st *callState, s *media.Session) {
	if m.console == nil || m.console.con == nil {
		return
	}
	tap := &callTap{session: s}
	if st.rec != nil {
		tap.rec = st.rec
	}
	s.SetRecorder(tap)
	m.mu.Lock()
	st.tap = tap
	m.mu.Unlock()
}

// tapOf returns the tap of live call id.
func (m *callManager) tapOf(id string) (*callTap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.active[id]
	if st == nil {
		return nil, fmt.Errorf("%w: %q", ErrCallNotLive, id)
	}
	if st.tap == nil {
		return nil, fmt.Errorf("%w: %q is still being set up", ErrNoMediaYet, id)
	}
	return st.tap, nil
}

// handleConsole is POST /v1/calls/{id}/console.
func (a *apiServer) handleConsole(w http.ResponseWriter, r *http.Request) {
	var body ConsoleRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error()+` (want {"mode": "listen|whisper|barge|off"})`)
		return
	}
	mode, err := hw.ParseConsoleMode(body.Mode)
	if err != nil {
		writeError(w, http.StatusBadRequest, "mode: "+err.Error())
		return
	}
	st, err := a.calls.console.Attach(r.PathValue("id"), mode)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, st)
	case errors.Is(err, ErrNoAudioSupport):
		writeError(w, http.StatusNotImplemented, err.Error())
	case errors.Is(err, ErrConsoleDisabled):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, ErrCallNotLive):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrNoMediaYet):
		writeError(w, http.StatusConflict, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "console: "+err.Error())
	}
}
