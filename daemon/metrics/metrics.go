// Package metrics owns callboxd's Prometheus metrics (prefix callbox_) and
// the small API the rest of the daemon calls to feed them. Every method is
// safe on a nil *Metrics (it does nothing), so code under test can run
// without a registry. Label values come from fixed sets (dispositions,
// engines, verdicts, raft states), never from numbers or call ids.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the daemon's registry and its series.
type Metrics struct {
	reg *prometheus.Registry

	calls       *prometheus.CounterVec // direction, disposition
	setup       prometheus.Histogram
	rtpLoss     prometheus.Histogram
	rtpJitter   prometheus.Histogram
	asr         *prometheus.HistogramVec // engine
	tts         *prometheus.HistogramVec // engine
	amd         *prometheus.CounterVec   // verdict
	raftApply   prometheus.Histogram
	importRows  *prometheus.GaugeVec   // import, kind (done|total)
	imports     *prometheus.CounterVec // result (ok|rejected|failed)
	importedRow *prometheus.CounterVec // result (imported|invalid)
	recordings  *prometheus.CounterVec
	auditWrites *prometheus.CounterVec
	logins      *prometheus.CounterVec
}

// New makes a registry with the callbox_ series plus the Go and process
// collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callbox_calls_total", Help: "Finished calls by direction and disposition.",
	}, []string{"direction", "disposition"})
	m.setup = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "callbox_call_setup_seconds", Help: "Time from INVITE to answer of answered calls.",
		Buckets: []float64{0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60},
	})
	m.rtpLoss = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "callbox_rtp_loss_ratio", Help: "Per-call fraction of inbound RTP packets lost.",
		Buckets: []float64{0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5},
	})
	m.rtpJitter = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "callbox_rtp_jitter_seconds", Help: "Per-call inbound RTP interarrival jitter (RFC 3550) at call end.",
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16},
	})
	lat := []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8}
	m.asr = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "callbox_asr_latency_seconds", Help: "Time from end of caller speech to the recognition result.", Buckets: lat,
	}, []string{"engine"})
	m.tts = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "callbox_tts_latency_seconds", Help: "Time to synthesise a prompt (cache hits included).", Buckets: lat,
	}, []string{"engine"})
	m.amd = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callbox_amd_verdicts_total", Help: "Answering machine detection verdicts.",
	}, []string{"verdict"})
	m.raftApply = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "callbox_raft_apply_seconds", Help: "Time to commit a command through Raft.",
		Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1},
	})
	m.importRows = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "callbox_import_rows", Help: "Contact import progress: rows done and total, per running import.",
	}, []string{"import", "kind"})
	m.imports = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callbox_imports_total", Help: "Finished contact imports, by result (ok, rejected, failed).",
	}, []string{"result"})
	m.importedRow = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callbox_import_rows_total", Help: "Rows of finished contact imports, by result (imported, invalid).",
	}, []string{"result"})
	m.recordings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callbox_recordings_total", Help: "Recordings finished, by result (complete, failed).",
	}, []string{"result"})
	m.auditWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callbox_audit_entries_total", Help: "Audit log appends, by result (ok, error).",
	}, []string{"result"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callbox_logins_total", Help: "Dashboard logins, by result (ok, failed, refused).",
	}, []string{"result"})
	m.reg.MustRegister(m.calls, m.setup, m.rtpLoss, m.rtpJitter, m.asr, m.tts, m.amd, m.raftApply, m.importRows, m.imports, m.importedRow, m.recordings, m.auditWrites, m.logins,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchActive exports callbox_active_calls, read from active at every
// scrape. Call it once.
func (m *Metrics) WatchActive(active func() int) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "callbox_active_calls", Help: "Calls being set up or up on this box.",
	}, func() float64 { return float64(active()) }))
}

// WatchRaft exports callbox_raft_state{state}: 1 for the state state()
// returns at scrape time (one of RaftStates), 0 for the others. Call it
// once.
func (m *Metrics) WatchRaft(state func() string) {
	if m == nil {
		return
	}
	for _, s := range RaftStates {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callbox_raft_state", Help: "1 for this node's current Raft state, 0 for the others.",
			ConstLabels: prometheus.Labels{"state": s},
		}, func() float64 {
			if state() == s {
				return 1
			}
			return 0
		}))
	}
}

// RaftStates are the label values of callbox_raft_state.
var RaftStates = []string{"Follower", "Candidate", "Leader", "Shutdown"}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the underlying registry (for tests and extra collectors).
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// CallEnded counts a finished call. setup is INVITE to answer (zero when
// the call was not answered: not observed).
func (m *Metrics) CallEnded(direction, disposition string, setup time.Duration) {
	if m == nil {
		return
	}
	if disposition == "" {
		disposition = "unknown"
	}
	m.calls.WithLabelValues(direction, disposition).Inc()
	if setup > 0 {
		m.setup.Observe(setup.Seconds())
	}
}

// RTP records one call leg's loss fraction and jitter.
func (m *Metrics) RTP(lossFraction, jitterMs float64) {
	if m == nil {
		return
	}
	m.rtpLoss.Observe(lossFraction)
	m.rtpJitter.Observe(jitterMs / 1000)
}

// ASRLatency records a recognition's latency.
func (m *Metrics) ASRLatency(engine string, d time.Duration) {
	if m != nil {
		m.asr.WithLabelValues(engine).Observe(d.Seconds())
	}
}

// TTSLatency records a synthesis's latency.
func (m *Metrics) TTSLatency(engine string, d time.Duration) {
	if m != nil {
		m.tts.WithLabelValues(engine).Observe(d.Seconds())
	}
}

// AMDVerdict counts an answering machine detection result (human,
// machine, unknown...).
func (m *Metrics) AMDVerdict(verdict string) {
	if m != nil {
		m.amd.WithLabelValues(verdict).Inc()
	}
}

// RaftApply records one command's commit latency.
func (m *Metrics) RaftApply(d time.Duration) {
	if m != nil {
		m.raftApply.Observe(d.Seconds())
	}
}

// ImportProgress sets a running import's rows done and total.
func (m *Metrics) ImportProgress(importID string, done, total int64) {
	if m == nil {
		return
	}
	m.importRows.WithLabelValues(importID, "done").Set(float64(done))
	m.importRows.WithLabelValues(importID, "total").Set(float64(total))
}

// ImportFinished removes a finished import's series.
func (m *Metrics) ImportFinished(importID string) {
	if m == nil {
		return
	}
	m.importRows.DeleteLabelValues(importID, "done")
	m.importRows.DeleteLabelValues(importID, "total")
}

// ImportDone counts a finished import: result is ok, rejected (the file
// had bad rows and the mode refused it) or failed (unreadable, too large,
// not committed), with its imported and invalid rows. The per-import
// callbox_import_rows gauge shows an import while it runs; these counters
// keep the totals after it is gone.
func (m *Metrics) ImportDone(result string, imported, invalid int) {
	if m == nil {
		return
	}
	m.imports.WithLabelValues(result).Inc()
	m.importedRow.WithLabelValues("imported").Add(float64(max(imported, 0)))
	m.importedRow.WithLabelValues("invalid").Add(float64(max(invalid, 0)))
}

// Recording counts a finished recording (complete or failed).
func (m *Metrics) Recording(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.recordings.WithLabelValues("complete").Inc()
	} else {
		m.recordings.WithLabelValues("failed").Inc()
	}
}

// AuditWrite counts an audit append.
func (m *Metrics) AuditWrite(err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.auditWrites.WithLabelValues("error").Inc()
	} else {
		m.auditWrites.WithLabelValues("ok").Inc()
	}
}

// Login counts a login attempt: ok, failed (bad credentials) or refused
// (slowed down or locked).
func (m *Metrics) Login(result string) {
	if m != nil {
		m.logins.WithLabelValues(result).Inc()
	}
}
