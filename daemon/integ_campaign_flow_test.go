package daemon

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
	"callbox/daemon/campaign"
	"callbox/daemon/config"
	"callbox/sim"
)

// TestCampaignRunsItsFlow runs a campaign whose calls run a dialogue flow
// (daemon/testdata/flows/campaign-test.en.yaml) against the simulator:
// DTMF 1 converts, 9 opts out (the number goes on the global DNC list),
// busy retries, a contact without the name the flow needs is refused
// without a call. The report counts the conversion and the opt-out, and
// the attempts carry the dialogue's result and intent level.
func TestCampaignRunsItsFlow(t *testing.T) {
	requireEspeak(t)
	personas := sim.DefaultPersonas()
	personas["press1"] = sim.Persona{Name: "press1", Kind: sim.KindAnswer, DTMF: "1"}
	personas["press9"] = sim.Persona{Name: "press9", Kind: sim.KindAnswer, DTMF: "9"}
	personas["busy"] = sim.Persona{Name: "busy", Kind: sim.KindBusy, RingFor: 200 * time.Millisecond, Code: 486}
	base := 45000 + (freePort(t)%50)*40
	s, err := sim.New(sim.Config{Port: -1, RTPPortMin: base, RTPPortMax: base + 38, Personas: personas, MaxRing: time.Second,
		Rules: []sim.Rule{{Prefix: "+8613900000001", Persona: "press1"}, {Prefix: "+8613900000002", Persona: "busy"},
			{Prefix: "+8613900000003", Persona: "press9"}, {Prefix: "", Persona: "press1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	b := startBox(t, campSimPort(t, s), func(c *config.Config) {
		abs, _ := filepath.Abs("testdata/flows")
		c.Flows.Dir = abs
		c.Calls.RingTimeout = 5 * time.Second
		c.Calls.MaxDuration = 60 * time.Second
	})

	spec := apiv1.CampaignSpec{
		ID: "cf", Flow: "campaign-test.en", TimezonePolicy: "campaign", Timezone: noonZone(),
		MaxAttempts: 2, Pacing: apiv1.Pacing{MaxConcurrent: 3, CPS: 5},
		Retry: map[string]apiv1.RetryRule{"busy": {Action: "retry", Delay: "1s"}},
	}
	var view apiv1.Campaign
	if code := apiCall(t, b, "POST", "/v1/campaigns", spec, &view); code != http.StatusCreated {
		t.Fatalf("create: %d %+v", code, view)
	}
	csv := "phone,name\n13900000001,Ann\n13900000002,Bob\n13900000003,Cai\n13900000004,\n"
	var rep campaign.ImportReport
	if code := apiCall(t, b, "POST", "/v1/campaigns/cf/contacts?mode=valid-rows", []byte(csv), &rep); code != 200 || rep.Imported != 4 {
		t.Fatalf("import: %d %+v", code, rep)
	}
	apiCall(t, b, "POST", "/v1/campaigns/cf/start", nil, &view)
	waitCampaignDone(t, b, "cf", 90*time.Second)

	var atts []cluster.Attempt
	apiCall(t, b, "GET", "/v1/campaigns/cf/attempts", nil, &atts)
	by := map[string][]cluster.Attempt{}
	for _, a := range atts {
		by[a.ContactID] = append(by[a.ContactID], a)
	}
	id := func(n string) string { return campaign.ContactID("+86" + n) }
	check := func(n string, disps ...string) []cluster.Attempt {
		t.Helper()
		got := by[id(n)]
		if len(got) != len(disps) {
			t.Errorf("%s: %d attempts %+v, want %v", n, len(got), got, disps)
			return got
		}
		for i, d := range disps {
			if got[i].Disposition != d {
				t.Errorf("%s attempt %d: disposition %q, want %q (%+v)", n, i, got[i].Disposition, d, got[i])
			}
		}
		return got
	}
	if a := check("13900000001", "answered"); len(a) == 1 && (a[0].Result != "converted" || a[0].IntentLevel != "A" || a[0].AnsweredAt.IsZero()) {
		t.Errorf("converted attempt: result %q intent %q answered %v", a[0].Result, a[0].IntentLevel, a[0].AnsweredAt)
	}
	check("13900000002", "busy", "busy")
	if a := check("13900000003", campaign.DispOptOut); len(a) == 1 && (a[0].Result != "opt_out" || a[0].Outcome != cluster.OutcomeDNC) {
		t.Errorf("opt-out attempt: result %q outcome %q", a[0].Result, a[0].Outcome)
	}
	check("13900000004", campaign.DispInvalid)

	far := map[string]int{}
	for _, l := range s.Calls() {
		far[l.Number]++
	}
	if far["+8613900000004"] != 0 || far["+8613900000001"] != 1 || far["+8613900000003"] != 1 {
		t.Errorf("far-end calls per number: %v", far)
	}
	var dnc apiv1.DNC
	apiCall(t, b, "GET", "/v1/dnc?phone=%2B8613900000003", nil, &dnc)
	if !dnc.Listed {
		t.Errorf("opted-out number not on the global DNC list: %+v", dnc)
	}

	// The converted call's record: the flow's result, and the recording
	// paused around the card step (silence on both channels).
	var rec apiv1.CallRecord
	if a := by[id("13900000001")]; len(a) == 1 {
		apiCall(t, b, "GET", "/v1/calls/"+a[0].ID, nil, &rec)
		if rec.Outcome != "converted" || rec.Intent != "A" || rec.Flow == "" || rec.CampaignID != "cf" {
			t.Errorf("record: outcome %q intent %q flow %q campaign %q", rec.Outcome, rec.Intent, rec.Flow, rec.CampaignID)
		}
		if len(rec.RecordingPauses) != 1 || rec.RecordingPauses[0].End == nil ||
			rec.RecordingPauses[0].EndOffsetMs <= rec.RecordingPauses[0].OffsetMs || rec.RecordingPauses[0].By != "flow" {
			t.Errorf("recording pauses %+v, want one closed interval by the flow", rec.RecordingPauses)
		}
	}

	var r campaign.Report
	apiCall(t, b, "GET", "/v1/campaigns/cf/report", nil, &r)
	if r.Total.Conversions != 1 || r.Total.OptOuts != 1 || r.Total.Answered != 2 || r.Total.ConversionRate != 0.5 {
		t.Errorf("report total %+v", r.Total)
	}
	t.Logf("report %+v dispositions %v", r.Total, r.Dispositions)
}

// TestCampaignWithMissingFlowPauses: a campaign whose flow file does not
// exist is paused with the reason, and nothing is dialled or consumed.
func TestCampaignWithMissingFlowPauses(t *testing.T) {
	requireEspeak(t)
	s := startCampaignSim(t, "")
	b := startBox(t, campSimPort(t, s), func(c *config.Config) { c.Flows.Dir = t.TempDir() })
	spec := apiv1.CampaignSpec{ID: "nf", Flow: "no-such-flow", TimezonePolicy: "campaign", Timezone: noonZone()}
	if code := apiCall(t, b, "POST", "/v1/campaigns", spec, nil); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	if code := apiCall(t, b, "POST", "/v1/campaigns/nf/contacts", []byte("phone,name\n13900000001,Ann\n"), nil); code != 200 {
		t.Fatalf("import: %d", code)
	}
	var view apiv1.Campaign
	apiCall(t, b, "POST", "/v1/campaigns/nf/start", nil, &view)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && view.State != "paused" {
		time.Sleep(100 * time.Millisecond)
		apiCall(t, b, "GET", "/v1/campaigns/nf", nil, &view)
	}
	if view.State != "paused" {
		t.Fatalf("campaign with a missing flow is %s, want paused", view.State)
	}
	if len(s.Calls()) != 0 || view.Counters.Attempts != 0 || view.Counters.Pending != 1 {
		t.Errorf("calls %d, counters %+v: want nothing dialled or consumed", len(s.Calls()), view.Counters)
	}
}
