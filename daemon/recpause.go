package daemon

// This file holds recording pause and resume: the gate between a call's
// media session and its recorder that writes silence on both channels
// while paused (so the file keeps the call's timing), the paused intervals
// in the call record, and POST /v1/calls/{id}/recording/pause|resume.

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"callbox/cluster"
	"callbox/daemon/auth"
	"callbox/media"
)

// ErrNotRecorded means the call has no recording to pause or resume
// (media.record is off, or the call is still being set up).
var ErrNotRecorded = errors.New("call is not being recorded")

// silentFrame is what a paused recording writes on each channel.
var silentFrame [media.FrameSamples]int16

// recGate sits between a session and its recorder (a media.StereoSink).
// WriteStereo runs on the media clock; pause and resume come from the API
// or the flow.
type recGate struct {
	next   media.StereoSink
	paused atomic.Bool
	frames atomic.Int64 // ticks written, the recording's timeline

	mu     sync.Mutex
	pauses []cluster.RecordingPause // guarded by mu; the last one is open while paused
}

func newRecGate(next media.StereoSink) *recGate { return &recGate{next: next} }

// WriteStereo passes the frames on, or silence of the same length while
// paused.
func (g *recGate) WriteStereo(callee, box []int16) error {
	g.frames.Add(1)
	if g.paused.Load() {
		callee, box = silence(len(callee)), silence(len(box))
	}
	return g.next.WriteStereo(callee, box)
}

func silence(n int) []int16 {
	if n <= len(silentFrame) {
		return silentFrame[:n]
	}
	return make([]int16, n)
}

// offsetMs is the recording's position now.
func (g *recGate) offsetMs() int64 { return g.frames.Load() * media.FrameDuration }

// set pauses or resumes at now on behalf of by. It reports false when the
// recording already was in that state.
func (g *recGate) set(paused bool, by string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused.Load() == paused {
		return false
	}
	if paused {
		if len(g.pauses) >= cluster.MaxRecordingPauses {
			// Keep the record valid: the last interval absorbs further pauses.
			last := &g.pauses[len(g.pauses)-1]
			last.End, last.EndOffsetMs = time.Time{}, 0
		} else {
			g.pauses = append(g.pauses, cluster.RecordingPause{Start: now, OffsetMs: g.offsetMs(), By: by})
		}
		g.paused.Store(true)
		return true
	}
	g.paused.Store(false)
	last := &g.pauses[len(g.pauses)-1]
	last.End, last.EndOffsetMs = now, max(g.offsetMs(), last.OffsetMs)
	return true
}

// intervals returns the pauses, an open one closed at now (the call ended
// paused).
func (g *recGate) intervals(now time.Time) []cluster.RecordingPause {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := append([]cluster.RecordingPause(nil), g.pauses...)
	if g.paused.Load() && len(out) > 0 {
		last := &out[len(out)-1]
		last.End, last.EndOffsetMs = now, max(g.offsetMs(), last.OffsetMs)
		if last.End.Before(last.Start) {
			last.End = last.Start
		}
	}
	return out
}

// setRecording pauses or resumes live call id's recording. It reports
// whether the state changed; errors wrap ErrCallNotLive or ErrNotRecorded.
func (m *callManager) setRecording(id string, paused bool, by string) error {
	_, err := m.setRecordingState(id, paused, by)
	return err
}

func (m *callManager) setRecordingState(id string, paused bool, by string) (bool, error) {
	m.mu.Lock()
	st := m.active[id]
	var g *recGate
	if st != nil {
		g = st.gate
	}
	m.mu.Unlock()
	if st == nil {
		return false, fmt.Errorf("%w: %q", ErrCallNotLive, id)
	}
	if g == nil {
		return false, fmt.Errorf("%w: %q", ErrNotRecorded, id)
	}
	changed := g.set(paused, by, m.now())
	if changed {
		state := "resumed"
		if paused {
			state = "paused"
		}
		m.log.Info("recording "+state, "call", id, "by", by, "offset_ms", g.offsetMs())
	}
	return changed, nil
}

// handleRecordingControl is POST /v1/calls/{id}/recording/pause and
// /resume (operators): the answer names the state and the intervals so far.
func (a *apiServer) handleRecordingControl(w http.ResponseWriter, r *http.Request) {
	id, action := r.PathValue("id"), r.PathValue("action")
	var paused bool
	switch action {
	case "pause":
		paused = true
	case "resume":
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown recording action %q (want pause or resume)", action))
		return
	}
	by := principal(r).User
	if by == "" {
		by = "operator"
	}
	changed, err := a.calls.setRecordingState(id, paused, by)
	switch {
	case errors.Is(err, ErrCallNotLive):
		writeError(w, http.StatusNotFound, err.Error())
		return
	case errors.Is(err, ErrNotRecorded):
		writeError(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	state := "recording"
	if paused {
		state = "paused"
	}
	var g *recGate
	a.calls.mu.Lock()
	if st := a.calls.active[id]; st != nil {
		g = st.gate
	}
	a.calls.mu.Unlock()
	pauses := []cluster.RecordingPause{}
	if g != nil {
		pauses = g.intervals(a.calls.now())
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "recording": state, "changed": changed, "pauses": pauses})
}

// recordingControlPerm is the permission pause and resume need.
const recordingControlPerm = auth.PermOperate
