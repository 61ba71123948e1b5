package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
	"callbox/daemon/campaign"
	"callbox/daemon/config"
	"callbox/sim"
)

// apiCall sends a JSON (or raw, for []byte) body and decodes the answer.
func apiCall(t testing.TB, b *box, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(v)
	default:
		data, _ := json.Marshal(v)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, "http://"+b.api+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode
}

// noonZone is a fixed-offset zone where it is about noon now, so the
// calling window is open whenever the test runs.
func noonZone() string {
	off := 12 - time.Now().UTC().Hour()
	if off > 14 {
		off -= 24
	}
	if off < -12 {
		off += 24
	}
	if off == 0 {
		return "Etc/GMT"
	}
	return fmt.Sprintf("Etc/GMT%+d", -off) // Etc/GMT-8 is UTC+8
}

func startCampaignSim(t *testing.T, logFile string) *sim.Server {
	t.Helper()
	personas := sim.DefaultPersonas()
	personas["hello"] = sim.Persona{Name: "hello", Kind: sim.KindVoicemail, RingFor: 300 * time.Millisecond, Greeting: "Hello?"}
	personas["vm"] = sim.Persona{Name: "vm", Kind: sim.KindVoicemail, RingFor: 300 * time.Millisecond,
		Greeting: "Hi, you have reached the voicemail of John. I cannot take your call right now, please leave a message after the tone.", Beep: true}
	personas["busy"] = sim.Persona{Name: "busy", Kind: sim.KindBusy, RingFor: 200 * time.Millisecond, Code: 486}
	// One draw for both ends: two calls to time.Now could land in
	// different buckets and give a range whose end is below its start.
	base := 46000 + (time.Now().Nanosecond()/1000%40)*20
	s, err := sim.New(sim.Config{Port: -1, RTPPortMin: base, Personas: personas,
		RTPPortMax: base + 19, MaxRing: time.Second, LogFile: logFile,
		Rules: []sim.Rule{{Prefix: "+8613900000001", Persona: "hello"}, {Prefix: "+8613900000002", Persona: "busy"},
			{Prefix: "+8613900000003", Persona: "noanswer"}, {Prefix: "+8613900000004", Persona: "vm"}, {Prefix: "", Persona: "hello"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func campSimPort(t testing.TB, s *sim.Server) int {
	addr := s.Addr()
	p, err := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	if err != nil {
		t.Fatal(addr)
	}
	return p
}

func testSpec(id string) apiv1.CampaignSpec {
	return apiv1.CampaignSpec{
		ID: id, Prompt: "Hello {name}, this is a test.", TimezonePolicy: "campaign", Timezone: noonZone(),
		MaxAttempts: 2, Pacing: apiv1.Pacing{MaxConcurrent: 3, CPS: 5},
		Retry: map[string]apiv1.RetryRule{"busy": {Action: "retry", Delay: "2s"}, "no-answer": {Action: "stop"}, "machine": {Action: "stop"}},
		AMD:   apiv1.AMD{Enabled: true, Action: "hangup"},
	}
}

func waitCampaignDone(t *testing.T, b *box, id string, bound time.Duration) apiv1.Campaign {
	t.Helper()
	deadline := time.Now().Add(bound)
	var c apiv1.Campaign
	for time.Now().Before(deadline) {
		apiCall(t, b, "GET", "/v1/campaigns/"+id, nil, &c)
		if c.Counters.Pending == 0 && c.Counters.InProgress == 0 && c.Counters.Contacts > 0 {
			if !c.Exhausted {
				t.Fatalf("campaign %s: every contact final but exhausted is false: %+v", id, c.Counters)
			}
			return c
		}
		if c.Exhausted {
			t.Fatalf("campaign %s: exhausted with contacts left: %+v", id, c.Counters)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("campaign %s not done after %s: %+v", id, bound, c.Counters)
	return c
}

func TestCampaignAgainstSimulator(t *testing.T) {
	requireEspeak(t)
	s := startCampaignSim(t, "")
	b := startBox(t, campSimPort(t, s), func(c *config.Config) { c.Calls.RingTimeout = 5 * time.Second })
	var view apiv1.Campaign
	if code := apiCall(t, b, "POST", "/v1/campaigns", testSpec("c1"), &view); code != http.StatusCreated {
		t.Fatalf("create: %d %+v", code, view)
	}
	var bad map[string]any
	if code := apiCall(t, b, "POST", "/v1/campaigns", apiv1.CampaignSpec{ID: "x", Prompt: "p", Windows: []apiv1.Window{{Start: "9", End: "10:00"}}}, &bad); code != 400 ||
		!strings.Contains(fmt.Sprint(bad["error"]), "windows[0]") {
		t.Fatalf("bad window: %d %v", code, bad)
	}
	csv := "phone,name\n13900000001,Ann\n13900000002,Bob\n13900000003,Cai\n13900000004,Dan\n13900000005,Eve\n"
	var rep campaign.ImportReport
	if code := apiCall(t, b, "POST", "/v1/campaigns/c1/contacts?mode=valid-rows", []byte(csv), &rep); code != 200 || rep.Imported != 5 {
		t.Fatalf("import: %d %+v", code, rep)
	}
	if code := apiCall(t, b, "POST", "/v1/dnc", apiv1.DNC{Phone: "13900000005", Reason: "asked"}, nil); code != 200 {
		t.Fatalf("dnc: %d", code)
	}
	apiCall(t, b, "POST", "/v1/campaigns/c1/start", nil, &view)
	if view.State != "running" {
		t.Fatalf("start: %+v", view)
	}
	done := waitCampaignDone(t, b, "c1", 60*time.Second)
	var atts []cluster.Attempt
	apiCall(t, b, "GET", "/v1/campaigns/c1/attempts", nil, &atts)
	byContact := map[string][]cluster.Attempt{}
	for _, a := range atts {
		byContact[a.ContactID] = append(byContact[a.ContactID], a)
	}
	id := func(n string) string { return campaign.ContactID("+86" + n) }
	want := map[string][]string{
		id("13900000001"): {"answered"}, id("13900000002"): {"busy", "busy"},
		id("13900000003"): {"no-answer"}, id("13900000004"): {campaign.DispMachine},
	}
	for cid, disps := range want {
		got := byContact[cid]
		if len(got) != len(disps) {
			t.Errorf("contact %s: %d attempts %+v, want %v", cid, len(got), got, disps)
			continue
		}
		for i, d := range disps {
			if got[i].Disposition != d {
				t.Errorf("contact %s attempt %d: %s, want %s", cid, i, got[i].Disposition, d)
			}
		}
	}
	if bb := byContact[id("13900000002")]; len(bb) == 2 && bb[1].ClaimedAt.Sub(bb[0].FinishedAt) < 2*time.Second {
		t.Errorf("busy retry after %s, rule says 2s", bb[1].ClaimedAt.Sub(bb[0].FinishedAt))
	}
	if len(byContact[id("13900000005")]) != 0 {
		t.Error("a DNC number was dialled")
	}
	far := map[string]int{}
	for _, l := range s.Calls() {
		far[l.Number]++
	}
	if far["+8613900000005"] != 0 || far["+8613900000002"] != 2 || len(far) != 4 {
		t.Errorf("far-end calls per number: %v", far)
	}
	// AMD verdicts in the records
	for _, c := range []struct{ n, amd string }{{"13900000001", "human"}, {"13900000004", "machine"}} {
		a := byContact[id(c.n)][0]
		var rec apiv1.CallRecord
		apiCall(t, b, "GET", "/v1/calls/"+a.ID, nil, &rec)
		if rec.AMD != c.amd || rec.AMDDecisionMs <= 0 || rec.AttemptID != a.ID || rec.CampaignID != "c1" {
			t.Errorf("%s: record AMD %q after %d ms, attempt %q", c.n, rec.AMD, rec.AMDDecisionMs, rec.AttemptID)
		}
		if c.amd == "human" && rec.AMDDecisionMs > 1500 {
			t.Logf("human verdict took %d ms (target 1500)", rec.AMDDecisionMs)
		}
	}
	var r campaign.Report
	apiCall(t, b, "GET", "/v1/campaigns/c1/report", nil, &r)
	if r.Total.Attempts != 5 || r.Total.Answered != 2 || r.Total.Machines != 1 {
		t.Errorf("report total %+v", r.Total)
	}
	t.Logf("counters %+v", done.Counters)
}
