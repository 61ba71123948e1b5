package daemon

// This file holds the call manager's hooks into the metrics registry and
// the recording store.

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"callbox/cluster"
	"callbox/daemon/campaign"
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

// observeCommit feeds, for a call's final record, the call metrics (Raft
// apply latency of every command comes from the node's apply observer).
func (m *callManager) observeCommit(rec cluster.CallRecord, took time.Duration, err error) {
	mx := m.metrics()
	if mx == nil {
		return
	}
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

// observeASR feeds callbox_asr_latency_seconds after each recognised
// caller turn (from the endpoint to the final result); failed or timed-out
// recognitions are not latencies and are left out.
func (m *callManager) observeASR(took time.Duration, failed bool) {
	if failed {
		return
	}
	m.metrics().ASRLatency(m.cfg.ASR.Engine, took)
}

// importProgress reports a running contact import to callbox_import_rows:
// rows staged so far and the file's estimated total (from the bytes read
// and the body's length), then removes the series when the import ends.
type importProgress struct {
	campaign.Store
	m        *metrics.Metrics
	id       string
	length   int64 // request body length; <= 0 unknown
	read     atomic.Int64
	rows     atomic.Int64
	finished atomic.Bool
}

// Apply passes the command on and, for each staged chunk, updates the
// progress series.
func (p *importProgress) Apply(ctx context.Context, c cluster.Command) (any, error) {
	res, err := p.Store.Apply(ctx, c)
	staged := -1
	switch ch := c.(type) {
	case cluster.StageContacts:
		staged = ch.Count
	case cluster.ImportChunk:
		staged = len(ch.Contacts)
	}
	if staged >= 0 && err == nil {
		done := p.rows.Add(int64(staged))
		total := done
		if read := p.read.Load(); p.length > 0 && read > 0 && read < p.length {
			total = done * p.length / read
		}
		p.m.ImportProgress(p.id, done, max(total, done))
	}
	return res, err
}

// body counts the bytes the importer reads.
func (p *importProgress) body(r io.Reader) io.Reader {
	return readerFunc(func(b []byte) (int, error) {
		n, err := r.Read(b)
		p.read.Add(int64(n))
		return n, err
	})
}

// done counts the finished import in callbox_imports_total and
// callbox_import_rows_total.
func (p *importProgress) done(rep campaign.ImportReport, err error) {
	result := "ok"
	switch {
	case errors.Is(err, campaign.ErrRejected):
		result = "rejected"
	case err != nil:
		result = "failed"
	}
	p.m.ImportDone(result, rep.Imported, rep.Invalid)
}

// finish removes the import's series. Idempotent.
func (p *importProgress) finish() {
	if p.finished.CompareAndSwap(false, true) {
		p.m.ImportFinished(p.id)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }

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
