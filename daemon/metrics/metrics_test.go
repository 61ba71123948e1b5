package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestSeries(t *testing.T) {
	m := New()
	active := 3
	m.WatchActive(func() int { return active })
	m.WatchRaft(func() string { return "Leader" })
	m.CallEnded("outbound", "answered", 1500*time.Millisecond)
	m.CallEnded("outbound", "busy", 0)
	m.RTP(0.01, 12)
	m.ASRLatency("pocketsphinx", 300*time.Millisecond)
	m.TTSLatency("espeak", 50*time.Millisecond)
	m.AMDVerdict("machine")
	m.RaftApply(2 * time.Millisecond)
	m.ImportProgress("imp1", 50, 200)
	m.ImportDone("ok", 48, 2)
	m.Recording(true)
	m.AuditWrite(errors.New("x"))
	m.Login("failed")
	out := scrape(t, m)
	for _, want := range []string{
		`callbox_calls_total{direction="outbound",disposition="answered"} 1`,
		`callbox_calls_total{direction="outbound",disposition="busy"} 1`,
		`callbox_active_calls 3`,
		`callbox_call_setup_seconds_count 1`,
		`callbox_call_setup_seconds_sum 1.5`,
		`callbox_rtp_loss_ratio_count 1`,
		`callbox_rtp_jitter_seconds_sum 0.012`,
		`callbox_asr_latency_seconds_count{engine="pocketsphinx"} 1`,
		`callbox_tts_latency_seconds_count{engine="espeak"} 1`,
		`callbox_amd_verdicts_total{verdict="machine"} 1`,
		`callbox_raft_state{state="Leader"} 1`,
		`callbox_raft_state{state="Follower"} 0`,
		`callbox_raft_apply_seconds_count 1`,
		`callbox_import_rows{import="imp1",kind="done"} 50`,
		`callbox_imports_total{result="ok"} 1`,
		`callbox_import_rows_total{result="imported"} 48`,
		`callbox_import_rows_total{result="invalid"} 2`,
		`callbox_recordings_total{result="complete"} 1`,
		`callbox_audit_entries_total{result="error"} 1`,
		`callbox_logins_total{result="failed"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	m.ImportFinished("imp1")
	if strings.Contains(scrape(t, m), `import="imp1"`) {
		t.Error("finished import still exported")
	}
}

func TestNilIsSafe(t *testing.T) {
	var m *Metrics
	m.CallEnded("outbound", "answered", time.Second)
	m.WatchActive(func() int { return 1 })
	m.RTP(0, 0)
	m.ImportProgress("x", 1, 2)
	if m.Registry() != nil {
		t.Fatal("nil registry expected")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("nil handler status %d", rec.Code)
	}
}
