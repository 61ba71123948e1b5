package daemon

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"callbox/daemon/apiv1"
	"callbox/daemon/campaign"
	"callbox/daemon/config"
	"callbox/sim"
)

// scrapeMetrics reads GET /metrics into a map from "name{labels}" (labels
// as the exposition prints them) to value.
func scrapeMetrics(t *testing.T, b *box) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + b.api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, raw)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// sumFamily adds every series of name whose labels contain all of with.
func sumFamily(m map[string]float64, name string, with ...string) (float64, int) {
	var sum float64
	n := 0
	for k, v := range m {
		base, labels, _ := strings.Cut(k, "{")
		if base != name {
			continue
		}
		ok := true
		for _, w := range with {
			ok = ok && strings.Contains(labels, w)
		}
		if ok {
			sum += v
			n++
		}
	}
	return sum, n
}

// TestMetricsFamiliesAfterCallsAndCampaign places a real call (SIPp
// answers, echoes RTP and presses 1) and runs a small campaign against the
// simulator (a callee who answers the reminder flow by voice, a voicemail
// with a beep for AMD, an invalid CSV row), then scrapes /metrics and
// checks every family issue #6 names: calls by disposition, active calls,
// setup time, RTP loss and jitter, ASR and TTS latency, AMD verdicts, Raft
// state and apply latency, import progress.
func TestMetricsFamiliesAfterCallsAndCampaign(t *testing.T) {
	requireEspeak(t)
	far := startSIPp(t, "uas-answer-dtmf.xml", "-rtp_echo")
	base := 44000 + (freePort(t)%40)*24
	s, err := sim.New(sim.Config{Port: -1, RTPPortMin: base, RTPPortMax: base + 22, MaxRing: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	b := startBox(t, far.port, func(c *config.Config) {
		st := c.Trunks[0]
		st.Name, st.Port = "sim", campSimPort(t, s)
		c.Trunks = append(c.Trunks, st)
		c.Calls.RingTimeout = 8 * time.Second
		c.Calls.MaxDuration = 60 * time.Second
	})

	rec, code, raw := b.call(apiv1.PlaceCall{Number: "+8613800000001", Trunk: "sipp", Say: "Press one to confirm.", WaitDTMF: 1})
	if code != http.StatusOK || rec.Disposition != "answered" {
		t.Fatalf("SIPp call: %d %s", code, raw)
	}
	far.wait(t)

	flowPath, _ := filepath.Abs(filepath.Join("..", "flows", "reminder-appointment.en.yaml"))
	spec := apiv1.CampaignSpec{ID: "mx", Flow: flowPath, Trunks: []string{"sim"}, TimezonePolicy: "campaign", Timezone: noonZone(),
		MaxAttempts: 1, Pacing: apiv1.Pacing{MaxConcurrent: 2, CPS: 5}, AMD: apiv1.AMD{Enabled: true, Action: "hangup"}}
	var view apiv1.Campaign
	if code := apiCall(t, b, "POST", "/v1/campaigns", spec, &view); code != http.StatusCreated {
		t.Fatalf("create campaign: %d %+v", code, view)
	}
	csv := "phone,name,appt_date,appt_time,branch_name\n" +
		"13800000001,Ann,2026-12-01,10:30,Central\n" + // persona yes: answers by voice (ASR)
		"13800000009,Vic,2026-12-01,11:00,Central\n" + // persona voicemail: greeting and beep (AMD machine)
		"12345,Bad,2026-12-01,12:00,Central\n"
	var rep campaign.ImportReport
	if code := apiCall(t, b, "POST", "/v1/campaigns/mx/contacts?mode=valid-rows", []byte(csv), &rep); code != 200 || rep.Imported != 2 || rep.Invalid != 1 {
		t.Fatalf("import: %d %+v", code, rep)
	}
	apiCall(t, b, "POST", "/v1/campaigns/mx/start", nil, &view)
	waitCampaignDone(t, b, "mx", 90*time.Second)

	// The campaign's series holds both dialled contacts (the invalid row was
	// never dialled); a step that is no duration is refused by name.
	var series campaign.Series
	if code := apiCall(t, b, "GET", "/v1/campaigns/mx/series?step=1m", nil, &series); code != 200 || series.StepSec != 60 || len(series.Points) == 0 {
		t.Errorf("series: %d %+v", code, series)
	}
	finished := 0
	for _, p := range series.Points {
		finished += p.Finished
	}
	if finished != 2 {
		t.Errorf("series counts %d finished attempts, want 2: %+v", finished, series.Points)
	}
	var bad map[string]string
	for _, q := range []string{"step=fast", "step=500ms", "step=1.5s", "since=yesterday", "step=1s&since=2020-01-01T00:00:00Z"} {
		if code := apiCall(t, b, "GET", "/v1/campaigns/mx/series?"+q, nil, &bad); code != 400 || bad["error"] == "" {
			t.Errorf("series?%s: %d %v", q, code, bad)
		}
	}
	if code := apiCall(t, b, "GET", "/v1/campaigns/nope/series", nil, &bad); code != 404 {
		t.Errorf("series of an unknown campaign: %d", code)
	}

	m := scrapeMetrics(t, b)
	type check struct {
		what string
		ok   bool
	}
	get := func(name string, with ...string) float64 { v, _ := sumFamily(m, name, with...); return v }
	_, raftStates := sumFamily(m, "callbox_raft_state")
	setupCount, setupSum := get("callbox_call_setup_seconds_count"), get("callbox_call_setup_seconds_sum")
	jitterCount := get("callbox_rtp_jitter_seconds_count")
	for _, c := range []check{
		{"calls by disposition: answered ≥ 2 (SIPp + the yes callee)", get("callbox_calls_total", `disposition="answered"`, `direction="outbound"`) >= 2},
		{"calls: 3 finished in all", get("callbox_calls_total") == 3},
		{"active calls 0 after the run", m["callbox_active_calls"] == 0},
		{"setup time histogram: ≥ 2 answered, sum within (0, 60 s) each", setupCount >= 2 && setupSum > 0 && setupSum < 60*setupCount},
		{"setup time +Inf bucket = count", m[`callbox_call_setup_seconds_bucket{le="+Inf"}`] == setupCount},
		{"RTP loss histogram observed", get("callbox_rtp_loss_ratio_count") >= 2},
		{"RTP loss ≤ 1 per call (loopback: near 0)", get("callbox_rtp_loss_ratio_sum") <= 0.5*get("callbox_rtp_loss_ratio_count")},
		{"RTP jitter observed, < 100 ms per call on loopback", jitterCount >= 2 && get("callbox_rtp_jitter_seconds_sum") < 0.1*jitterCount},
		{"ASR latency (pocketsphinx) observed, < 10 s each", get("callbox_asr_latency_seconds_count", `engine="pocketsphinx"`) >= 1 &&
			get("callbox_asr_latency_seconds_sum") < 10*get("callbox_asr_latency_seconds_count")},
		{"TTS latency (espeak) observed", get("callbox_tts_latency_seconds_count", `engine="espeak"`) >= 2},
		{"AMD verdict machine for the voicemail", get("callbox_amd_verdicts_total", `verdict="machine"`) >= 1},
		{"AMD verdicts for both campaign calls", get("callbox_amd_verdicts_total") >= 2},
		{"raft state: Leader 1, one series per state", m[`callbox_raft_state{state="Leader"}`] == 1 && raftStates == 4},
		{"raft apply latency observed", get("callbox_raft_apply_seconds_count") >= 6 && get("callbox_raft_apply_seconds_sum") > 0},
		{"imports: one ok", m[`callbox_imports_total{result="ok"}`] == 1},
		{"import rows: 2 imported, 1 invalid", m[`callbox_import_rows_total{result="imported"}`] == 2 && m[`callbox_import_rows_total{result="invalid"}`] == 1},
		{"recordings complete", get("callbox_recordings_total", `result="complete"`) >= 2},
	} {
		if !c.ok {
			t.Errorf("/metrics: %s", c.what)
		}
	}
	if t.Failed() {
		for k, v := range m {
			if strings.HasPrefix(k, "callbox_") && !strings.Contains(k, "_bucket") {
				t.Logf("%s %g", k, v)
			}
		}
	}
}
