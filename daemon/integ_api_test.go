package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
	"callbox/daemon/config"
	"callbox/daemon/metrics"
)

// TestIntegPermissions: cluster membership needs cluster.manage (admin);
// recording pause/resume needs operate (admin, operator). Denied is 403,
// allowed reaches the handler (404/409/400 here: nothing is live).
func TestIntegPermissions(t *testing.T) {
	const boot = "bootstrap-secret-for-tests"
	b := startBox(t, freePort(t), func(c *config.Config) { c.API.Token = boot })
	clients := roleTokens(t, b, boot)
	routes := []struct {
		method, path string
		body         any
		allow        string // admin operator auditor viewer
	}{
		{"POST", "/v1/cluster/tokens", map[string]any{"ttl": "bogus"}, "x..."},
		{"POST", "/v1/cluster/remove", map[string]any{}, "x..."},
		{"POST", "/v1/cluster/leave", nil, "...."}, // admin allowed, not exercised: it would leave
		{"POST", "/v1/calls/nope/recording/pause", nil, "xx.."},
		{"POST", "/v1/calls/nope/recording/resume", nil, "xx.."},
	}
	for _, rt := range routes {
		for i, role := range []string{"admin", "operator", "auditor", "viewer"} {
			if rt.path == "/v1/cluster/leave" && role == "admin" {
				continue
			}
			code, raw := clients[role].do(rt.method, rt.path, rt.body)
			allowed := rt.allow[i] == 'x'
			switch {
			case allowed && (code == http.StatusUnauthorized || code == http.StatusForbidden):
				t.Errorf("%s %s as %s: denied (%d %s), want allowed", rt.method, rt.path, role, code, raw)
			case !allowed && code != http.StatusForbidden:
				t.Errorf("%s %s as %s: %d %s, want 403", rt.method, rt.path, role, code, raw)
			}
		}
	}
	if code, raw := clients["operator"].do("POST", "/v1/calls/nope/recording/pause", nil); code != http.StatusNotFound {
		t.Errorf("pause of a call that is not live: %d %s, want 404", code, raw)
	}
}

// TestRecordingPauseAPI pauses and resumes a live call's recording through
// the API as an operator: the final record holds the interval, in wall
// time and in the recording's timeline, with who paused it.
func TestRecordingPauseAPI(t *testing.T) {
	requireEspeak(t)
	const boot = "bootstrap-secret-for-tests"
	s := startCampaignSim(t, "")
	b := startBox(t, campSimPort(t, s), func(c *config.Config) { c.API.Token = boot; c.Calls.DTMFTimeout = 4 * time.Second })
	op := roleTokens(t, b, boot)["operator"]
	var placed map[string]string
	op.must("POST", "/v1/calls", apiv1.PlaceCall{Number: "+8613900000009", Say: "Please hold on.", WaitDTMF: 4}, http.StatusAccepted, &placed)
	id := placed["id"]
	deadline := time.Now().Add(15 * time.Second)
	var rec apiv1.CallRecord
	time.Sleep(1500 * time.Millisecond) // rings 300 ms, then the audio flows for the prompt and a 4 s digit wait
	for {
		code, raw := op.do("POST", "/v1/calls/"+id+"/recording/pause", nil)
		if code == http.StatusOK {
			var ans struct {
				Recording string
				Pauses    []cluster.RecordingPause
			}
			_ = json.Unmarshal(raw, &ans)
			if ans.Recording != "paused" || len(ans.Pauses) != 1 {
				t.Fatalf("pause answer %s", raw)
			}
			break
		}
		if code != http.StatusConflict || time.Now().After(deadline) { // 409 until the media is set up
			t.Fatalf("pause: %d %s", code, raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(600 * time.Millisecond)
	op.must("POST", "/v1/calls/"+id+"/recording/pause", nil, http.StatusOK, nil) // idempotent
	op.must("POST", "/v1/calls/"+id+"/recording/resume", nil, http.StatusOK, nil)
	for time.Now().Before(deadline.Add(15*time.Second)) && rec.EndAt == nil {
		time.Sleep(200 * time.Millisecond)
		op.must("GET", "/v1/calls/"+id, nil, http.StatusOK, &rec)
	}
	if len(rec.RecordingPauses) != 1 {
		t.Fatalf("record pauses %+v, want one", rec.RecordingPauses)
	}
	p := rec.RecordingPauses[0]
	if p.By != "operator1" || p.End == nil || p.End.Sub(p.Start) < 500*time.Millisecond || p.EndOffsetMs-p.OffsetMs < 500 {
		t.Errorf("pause %+v: want operator1, at least 500 ms in wall time and in the recording", p)
	}
}

// TestRecGateWritesSilence: while paused the recorder gets silence of the
// same length on both channels, and the intervals follow the ticks.
func TestRecGateWritesSilence(t *testing.T) {
	var got [][2][]int16
	sink := stereoFunc(func(a, b []int16) error {
		got = append(got, [2][]int16{append([]int16(nil), a...), append([]int16(nil), b...)})
		return nil
	})
	g := newRecGate(sink)
	frame := make([]int16, 160)
	for i := range frame {
		frame[i] = 1000
	}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	_ = g.WriteStereo(frame, frame)
	if !g.set(true, "x", t0) || g.set(true, "x", t0) {
		t.Fatal("pause should change once")
	}
	_ = g.WriteStereo(frame, frame)
	_ = g.WriteStereo(frame, frame)
	open := g.intervals(t0.Add(time.Second))
	if len(open) != 1 || open[0].EndOffsetMs != 60 || open[0].OffsetMs != 20 {
		t.Fatalf("open interval %+v", open)
	}
	g.set(false, "x", t0.Add(40*time.Millisecond))
	_ = g.WriteStereo(frame, frame)
	if len(got) != 4 {
		t.Fatalf("%d frames", len(got))
	}
	for i, f := range got {
		paused := i == 1 || i == 2
		for ch := range 2 {
			if len(f[ch]) != 160 || (f[ch][5] == 0) != paused {
				t.Errorf("frame %d channel %d: len %d sample %d, paused %v", i, ch, len(f[ch]), f[ch][5], paused)
			}
		}
	}
	iv := g.intervals(t0.Add(time.Hour))
	if len(iv) != 1 || iv[0].End != t0.Add(40*time.Millisecond) || iv[0].EndOffsetMs != 60 {
		t.Errorf("closed interval %+v", iv)
	}
	if err := (cluster.PutCallRecord{Record: cluster.CallRecord{ID: "x", RecordingPauses: iv}}).Validate(); err != nil {
		t.Errorf("record with the interval does not validate: %v", err)
	}
}

type stereoFunc func(a, b []int16) error

func (f stereoFunc) WriteStereo(a, b []int16) error { return f(a, b) }

// fakeStore is a campaign.Store that accepts every command.
type fakeStore struct{}

func (fakeStore) Apply(context.Context, cluster.Command) (any, error) { return nil, nil }
func (fakeStore) Contact(string, string) (cluster.Contact, bool, error) {
	return cluster.Contact{}, false, nil
}
func (fakeStore) IsDNC(string, string) (bool, error) { return false, nil }

// TestImportAndASRMetrics: the import path reports its rows while it runs
// and removes the series at the end; a recognised turn feeds the ASR
// latency histogram, a failed one does not.
func TestImportAndASRMetrics(t *testing.T) {
	mx := metrics.New()
	scrape := func() string {
		rr := &strings.Builder{}
		fams, err := mx.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			for _, m := range f.GetMetric() {
				rr.WriteString(f.GetName())
				for _, l := range m.GetLabel() {
					rr.WriteString(" " + l.GetName() + "=" + l.GetValue())
				}
				if g := m.GetGauge(); g != nil {
					rr.WriteString(" " + formatFloat(g.GetValue()))
				}
				if h := m.GetHistogram(); h != nil {
					rr.WriteString(" count=" + formatFloat(float64(h.GetSampleCount())))
				}
				rr.WriteString("\n")
			}
		}
		return rr.String()
	}
	p := &importProgress{Store: fakeStore{}, m: mx, id: "imp-1", length: 1000}
	body := p.body(strings.NewReader(strings.Repeat("x", 250)))
	buf := make([]byte, 100)
	_, _ = body.Read(buf) // 100 of 1000 bytes read
	if _, err := p.Apply(context.Background(), cluster.ImportChunk{ImportID: "imp-1-p0", CampaignID: "c", Contacts: make([]cluster.Contact, 10)}); err != nil {
		t.Fatal(err)
	}
	got := scrape()
	if !strings.Contains(got, "callbox_import_rows import=imp-1 kind=done 10") || !strings.Contains(got, "callbox_import_rows import=imp-1 kind=total 100") {
		t.Fatalf("import series:\n%s", got)
	}
	p.finish()
	p.finish()
	if strings.Contains(scrape(), "callbox_import_rows") {
		t.Fatal("import series left after the import finished")
	}

	cfg, _ := config.Parse("t.yaml", []byte("trunks:\n  - {name: t1, host: 127.0.0.1}\n"))
	m := &callManager{cfg: cfg, sec: &security{metrics: mx}}
	m.observeASR(300*time.Millisecond, false)
	m.observeASR(time.Second, true)
	if got := scrape(); !strings.Contains(got, "callbox_asr_latency_seconds engine=pocketsphinx count=1") {
		t.Fatalf("asr series:\n%s", got)
	}
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
