package daemon

// This file holds the call manager's hooks into the metrics registry and
// the recording store.

import (
	"context"
	"time"

	"callbox/cluster"
	"callbox/daemon/metrics"
	"callbox/daemon/recstore"
	"callbox/daemon/speech"
	"callbox/media"
)

// recordingExt is the extension of new recordings.
func (m *callManager) recordingExt() string {
	if m.sec == nil {
		return ".wav"
	}
	return recstore.Ext
}

// recorderOptions encrypts recordings when security is wired.
func (m *callManager) recorderOptions() media.RecorderOptions {
	if m.sec == nil {
		return media.RecorderOptions{}
	}
	return m.sec.recorderOptions()
}

func (m *callManager) metrics() *metrics.Metrics {
	if m.sec == nil {
		return nil
	}
	return m.sec.metrics
}

// observeCommit feeds Raft apply latency and, for a call's final record,
// the call metrics.
func (m *callManager) observeCommit(rec cluster.CallRecord, took time.Duration, err error) {
	mx := m.metrics()
	if mx == nil {
		return
	}
	mx.RaftApply(took)
	if err != nil || rec.EndAt.IsZero() {
		return
	}
	var setup time.Duration
	if !rec.AnswerAt.IsZero() && !rec.InviteAt.IsZero() {
		setup = rec.AnswerAt.Sub(rec.InviteAt)
	}
	mx.CallEnded(rec.Direction, rec.Disposition, setup)
	if rec.RTP.PacketsReceived > 0 {
		mx.RTP(rec.RTP.LossFraction, rec.RTP.JitterMs)
	}
	if rec.AMD != "" {
		mx.AMDVerdict(rec.AMD)
	}
	if rec.RecordingPath != "" {
		mx.Recording(true)
	}
}

// timedSynth measures every synthesis for callbox_tts_latency_seconds.
type timedSynth struct {
	speech.Synthesizer
	m      *metrics.Metrics
	engine string
}

func (t timedSynth) Synthesize(ctx context.Context, text string, v speech.Voice) ([]int16, error) {
	start := time.Now()
	pcm, err := t.Synthesizer.Synthesize(ctx, text, v)
	if err == nil {
		t.m.TTSLatency(t.engine, time.Since(start))
	}
	return pcm, err
}
