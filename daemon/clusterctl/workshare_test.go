package clusterctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
	"callbox/sim"
)

// api calls a box's HTTP API with a JSON (or []byte) body and decodes the
// JSON answer into out.
func api(t *testing.T, p *proc, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(v)
	default:
		b, _ := json.Marshal(v)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+p.api+path, rd)
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode
}

// wsNoonZone is a fixed-offset zone where it is about noon now, so the
// calling window is open whenever the test runs.
func wsNoonZone() string {
	off := 12 - time.Now().UTC().Hour()
	if off > 14 {
		off -= 24
	}
	if off < -12 {
		off += 24
	}
	if off >= 0 {
		return fmt.Sprintf("Etc/GMT-%d", off)
	}
	return fmt.Sprintf("Etc/GMT+%d", -off)
}

// TestKillLeaderMidCampaign runs a campaign over three callboxd processes
// (mutual TLS, loopback) against the simulator and kill -9s the leader
// while it has calls up. It checks and reports:
//   - failover: from the kill to the first INVITE a surviving box sends
//     for the campaign (bar 3 s with the tuned timings);
//   - the killed box's never-answered attempts are requeued and dialled
//     once by another box;
//   - its answered calls are called back by another box within
//     callback_within, the flow resuming at the menu after the "cut off"
//     line;
//   - calls up on the surviving boxes at the kill are not dropped (bar 0).
func TestKillLeaderMidCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three callboxd processes")
	}
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng not installed")
	}
	killLeaderRound(t)
}

// TestKillLeaderFailoverSoak repeats the kill -9 round on fresh clusters
// (CALLBOX_SOAK=1; CALLBOX_FAILOVER_ROUNDS, default 5) and reports the
// failover distribution.
func TestKillLeaderFailoverSoak(t *testing.T) {
	if os.Getenv("CALLBOX_SOAK") == "" {
		t.Skip("set CALLBOX_SOAK=1")
	}
	rounds := 5
	if v, err := strconv.Atoi(os.Getenv("CALLBOX_FAILOVER_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	var all []time.Duration
	for i := range rounds {
		t.Run(fmt.Sprint(i), func(t *testing.T) { all = append(all, killLeaderRound(t)) })
	}
	slices.Sort(all)
	if len(all) > 0 {
		t.Logf("failover over %d rounds: min %v median %v max %v", len(all), all[0], all[len(all)/2], all[len(all)-1])
	}
}

// killLeaderRound is one round of TestKillLeaderMidCampaign; it returns
// the failover time.
func killLeaderRound(t *testing.T) time.Duration {
	personas := sim.DefaultPersonas()
	personas["silent"] = sim.Persona{Name: "silent", Kind: sim.KindAnswer, Silent: true}
	personas["slow"] = sim.Persona{Name: "slow", Kind: sim.KindAnswer, Silent: true, RingFor: 6 * time.Second}
	base := 48000 + (freePort(t)%40)*40
	s, err := sim.New(sim.Config{Port: -1, RTPPortMin: base, RTPPortMax: base + 39, Personas: personas, Default: "silent",
		Rules: []sim.Rule{{Prefix: "+8613900000101", Persona: "slow"}, {Prefix: "+8613900000104", Persona: "slow"},
			{Prefix: "+8613900000107", Persona: "slow"}, {Prefix: "+8613900000110", Persona: "slow"},
			{Prefix: "+8613900000113", Persona: "slow"}, {Prefix: "+8613900000116", Persona: "slow"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	addr := s.Addr()
	simPort, _ := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	flows, _ := filepath.Abs("testdata/flows")
	m := formClusterWith(t, 3, &multi{trunkPort: simPort,
		timings: "lease_ttl: 3s, lease_grace: 1s, heartbeat_timeout: 300ms, election_timeout: 300ms, callback_within: 30s",
		extra:   fmt.Sprintf("flows: {dir: %q}\ncalls: {max_active: 6, ring_timeout: 10s}", flows)})
	lead, _ := m.leader()
	if lead == nil {
		t.Fatal("no leader")
	}
	spec := apiv1.CampaignSpec{ID: "ws", Flow: "resume-test", TimezonePolicy: "campaign", Timezone: wsNoonZone(),
		MaxAttempts: 3, Pacing: apiv1.Pacing{MaxConcurrent: 30, CPS: 1}}
	if code := api(t, lead, "POST", "/v1/campaigns", spec, nil); code != http.StatusCreated {
		t.Fatalf("create campaign: HTTP %d", code)
	}
	csv := "phone,name\n"
	const n = 24
	for i := range n {
		csv += fmt.Sprintf("139000001%02d,C%d\n", i, i)
	}
	if code := api(t, lead, "POST", "/v1/campaigns/ws/contacts", []byte(csv), nil); code != 200 {
		t.Fatalf("import: HTTP %d", code)
	}
	api(t, lead, "POST", "/v1/campaigns/ws/start", nil, nil)

	// Wait until the leader has an answered call at the menu and a call
	// ringing, then kill it.
	m.waitFor(40*time.Second, "an answered and a ringing call on the leader", func() bool {
		var atts []cluster.Attempt
		api(t, lead, "GET", "/v1/campaigns/ws/attempts", nil, &atts)
		menu, ringing := false, false
		for _, a := range atts {
			if a.Box == lead.id && a.State == cluster.AttemptClaimed {
				menu = menu || a.ResumeNode == "menu"
				ringing = ringing || (a.AnsweredAt.IsZero() && time.Since(a.ClaimedAt) > time.Second)
			}
		}
		return menu && ringing
	})
	var survivors []*proc
	for _, p := range m.boxes {
		if p != lead {
			survivors = append(survivors, p)
		}
	}
	killAt := time.Now()
	lead.cmd.Process.Kill()
	<-lead.done
	done := func() bool {
		for _, p := range survivors {
			var c apiv1.Campaign
			if api(t, p, "GET", "/v1/campaigns/ws", nil, &c) == 200 {
				return c.Counters.Pending == 0 && c.Counters.InProgress == 0
			}
		}
		return false
	}
	m.waitFor(90*time.Second, "the campaign to finish on the survivors", done)

	var atts []cluster.Attempt
	api(t, survivors[0], "GET", "/v1/campaigns/ws/attempts", nil, &atts)
	bySIP := map[string]string{}
	for _, p := range m.boxes {
		bySIP[strconv.Itoa(p.sipPort())] = p.id
	}
	claimed := map[string]time.Time{}
	for _, a := range atts {
		claimed[a.ID] = a.ClaimedAt
	}
	calls := s.Calls()
	slices.SortFunc(calls, func(a, b sim.CallLog) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
	var first time.Time
	for _, c := range calls {
		// the first INVITE from a survivor for a claim the new leader made
		from := bySIP[c.Source[strings.LastIndexByte(c.Source, ':')+1:]]
		if from != lead.id && claimed[c.CallID].After(killAt) {
			first = c.ReceivedAt
			break
		}
	}
	if first.IsZero() {
		t.Fatal("no INVITE from a surviving box after the kill")
	}
	failover := first.Sub(killAt)

	// The killed box's attempts: each contact got exactly one later attempt
	// on a survivor; answered ones are callbacks that resumed.
	byContact := map[string][]cluster.Attempt{}
	for _, a := range atts {
		byContact[a.ContactID] = append(byContact[a.ContactID], a)
	}
	requeued, callbacks := 0, 0
	var worstCallback time.Duration
	for _, a := range atts {
		if a.Box != lead.id || a.State != cluster.AttemptInterrupted {
			continue
		}
		var later []cluster.Attempt
		for _, b := range byContact[a.ContactID] {
			if b.ClaimedAt.After(a.ClaimedAt) {
				later = append(later, b)
			}
		}
		if len(later) != 1 || later[0].Box == lead.id {
			t.Errorf("interrupted attempt %s (answered %v): later attempts %+v, want one on a survivor", a.ID, !a.AnsweredAt.IsZero(), later)
			continue
		}
		if a.AnsweredAt.IsZero() {
			requeued++
			continue
		}
		callbacks++
		if d := later[0].ClaimedAt.Sub(a.FinishedAt); d > worstCallback {
			worstCallback = d
		}
		var rec apiv1.CallRecord
		api(t, survivors[0], "GET", "/v1/calls/"+later[0].ID, nil, &rec)
		said := ""
		for _, tr := range rec.Transcript {
			said += tr.Text + " | "
		}
		want := a.ResumeNode
		if want == "" {
			want = "hi" // cut off before the first node: the flow's start
		}
		if rec.Dialogue == nil || rec.Dialogue.Tags["resumed_at"] != want || !strings.Contains(said, "cut off") {
			t.Errorf("callback %s of %s did not resume at %q: dialogue %+v transcript %s", later[0].ID, a.ID, want, rec.Dialogue, said)
		}
	}
	if callbacks == 0 || requeued == 0 {
		t.Errorf("killed box: %d answered calls called back, %d ringing ones requeued; want both", callbacks, requeued)
	}
	// Calls up on the survivors at the kill ran their flow to the end.
	dropped, spanning := 0, 0
	for _, a := range atts {
		if a.Box == lead.id || !a.ClaimedAt.Before(killAt) || a.FinishedAt.Before(killAt) || a.AnsweredAt.IsZero() {
			continue
		}
		spanning++
		var rec apiv1.CallRecord
		api(t, survivors[0], "GET", "/v1/calls/"+a.ID, nil, &rec)
		if rec.Dialogue == nil || rec.Dialogue.ResumeNode != "" {
			dropped++
		}
	}
	t.Logf("kill -9 of leader %s: dialling resumed on survivors after %v; %d unanswered attempts requeued, %d callbacks (worst %v after expiry); %d survivor calls up at the kill, %d dropped",
		lead.id, failover, requeued, callbacks, worstCallback, spanning, dropped)
	if failover > 3*time.Second {
		t.Errorf("dialling resumed %v after the kill, bar 3s", failover)
	}
	if dropped > 0 {
		t.Errorf("%d calls on surviving boxes dropped by the failover", dropped)
	}
	if worstCallback > 30*time.Second {
		t.Errorf("callback %v after the box expired, callback_within 30s", worstCallback)
	}
	far := map[string]int{}
	for _, c := range calls {
		far[c.Number]++
	}
	if len(far) != n {
		t.Errorf("far end saw %d numbers, want %d", len(far), n)
	}
	return failover
}
