package daemon

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
	"callbox/daemon/config"
	"callbox/sim"
)

// clusterBox is the configuration of one member of an in-process cluster:
// lines is calls.max_active, trunkPort where its only trunk points.
type clusterBox struct {
	lines, trunkPort int
	keepalive        bool // OPTIONS every 200 ms, down after one failure
}

// startClusterBoxes runs len(spec) daemons in this process forming one
// cluster over mutual TLS on loopback (box0 inits the CA, the others join
// with one-time tokens from box0's API), Badger on disk, tuned raft and
// lease timings. It returns the boxes in order once every lease is valid.
func startClusterBoxes(t *testing.T, spec []clusterBox) []*box {
	t.Helper()
	var out []*box
	for i, s := range spec {
		id := fmt.Sprintf("box%d", i)
		dir := t.TempDir()
		sipPort := freePort(t)
		rtp := 40000 + (sipPort%200)*40
		opts := "options_interval: 0s"
		if s.keepalive {
			opts = "options_interval: 200ms, options_failures: 1"
		}
		y := fmt.Sprintf(`
box: {id: %s, data_dir: %q}
log: {level: info}
api: {listen: "127.0.0.1:0"}
sip: {listen_ip: 127.0.0.1, listen_port: %d, transports: [udp]}
media: {ip: 127.0.0.1, rtp_port_min: %d, rtp_port_max: %d}
cluster: {bind: "127.0.0.1:%d", bootstrap: %v, lease_ttl: 900ms, lease_grace: 300ms, heartbeat_timeout: 300ms, election_timeout: 300ms, callback_within: 30s}
calls: {ring_timeout: 3s, max_active: %d, drain_timeout: 5s}
tts: {cache_dir: %q}
trunks:
  - {name: t1, host: 127.0.0.1, port: %d, transport: udp, %s}
`, id, dir, sipPort, rtp, rtp+38, freePort(t), i == 0, s.lines, ttsCacheDir(t), s.trunkPort, opts)
		cfg, err := config.Parse(id+".yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		tlsDir := filepath.Join(dir, "cluster", "tls")
		if i == 0 {
			if _, err := cluster.InitCA(tlsDir, id, time.Now()); err != nil {
				t.Fatal(err)
			}
		} else {
			var tok struct {
				Token string `json:"token"`
			}
			if code := apiCall(t, out[0], "POST", "/v1/cluster/tokens", map[string]string{"ttl": "5m"}, &tok); code != 200 && code != 201 {
				t.Fatalf("token: HTTP %d", code)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := cluster.Join(ctx, tok.Token, id, tlsDir, true)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
		}
		logw := &testLogWriter{t: t}
		out = append(out, launchBox(t, cfg, logw, Options{}, logw.close))
	}
	waitUntil(t, 30*time.Second, "all leases valid", func() bool {
		var st cluster.Status
		if apiCall(t, out[0], "GET", "/v1/cluster/status", nil, &st) != 200 || len(st.Boxes) != len(spec) {
			return false
		}
		for _, b := range st.Boxes {
			if b.State != cluster.BoxActive || time.Until(b.LeaseUntil) <= 0 {
				return false
			}
		}
		return true
	})
	return out
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leaderBox is the box whose cluster status says it leads.
func leaderBox(t *testing.T, boxes []*box) *box {
	t.Helper()
	for _, b := range boxes {
		var st cluster.Status
		if apiCall(t, b, "GET", "/v1/cluster/status", nil, &st) == 200 && st.State == "Leader" {
			return b
		}
	}
	t.Fatal("no leader")
	return nil
}

// TestClusterSharesCampaignWork: a three-box cluster in one process runs a
// campaign against the simulator. The leader assigns contacts to boxes by
// free lines (box0 has 4, box1 2), the box whose trunk is down (box2) gets
// none, every contact is dialled exactly once, and each call record names
// the box that placed it and holds its recording.
func TestClusterSharesCampaignWork(t *testing.T) {
	if testing.Short() {
		t.Skip("three daemons and a simulator")
	}
	requireEspeak(t)
	personas := sim.DefaultPersonas()
	personas["hello"] = sim.Persona{Name: "hello", Kind: sim.KindAnswer, Say: []string{"Hello?"}}
	base := 47000 + (freePort(t)%40)*40
	s, err := sim.New(sim.Config{Port: -1, RTPPortMin: base, RTPPortMax: base + 39, Personas: personas, Default: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	simPort := campSimPort(t, s)
	boxes := startClusterBoxes(t, []clusterBox{{lines: 4, trunkPort: simPort}, {lines: 2, trunkPort: simPort},
		{lines: 4, trunkPort: freePort(t), keepalive: true}})
	waitUntil(t, 20*time.Second, "box2's trunk reported down", func() bool {
		var st cluster.Status
		apiCall(t, boxes[0], "GET", "/v1/cluster/status", nil, &st)
		for _, b := range st.Boxes {
			if b.ID == "box2" {
				return b.TrunksUp == 0
			}
		}
		return false
	})
	lead := leaderBox(t, boxes)

	spec := testSpec("share")
	spec.AMD = apiv1.AMD{}
	spec.Pacing = apiv1.Pacing{MaxConcurrent: 20, CPS: 20}
	if code := apiCall(t, lead, "POST", "/v1/campaigns", spec, nil); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	const n = 18
	csv := "phone,name\n"
	for i := range n {
		csv += fmt.Sprintf("139000001%02d,C%d\n", i, i)
	}
	if code := apiCall(t, lead, "POST", "/v1/campaigns/share/contacts", []byte(csv), nil); code != 200 {
		t.Fatalf("import: %d", code)
	}
	apiCall(t, lead, "POST", "/v1/campaigns/share/start", nil, nil)
	waitCampaignDone(t, lead, "share", 60*time.Second)

	var atts []cluster.Attempt
	apiCall(t, lead, "GET", "/v1/campaigns/share/attempts", nil, &atts)
	per := map[string]int{}
	for _, a := range atts {
		if a.State == cluster.AttemptFinished {
			per[a.Box]++
		}
		if a.Box == "box2" {
			t.Errorf("box2 (trunk down) was assigned %s (%s)", a.ID, a.State)
		}
	}
	far := map[string]int{}
	for _, l := range s.Calls() {
		far[l.Number]++
	}
	for num, c := range far {
		if c != 1 {
			t.Errorf("%s dialled %d times", num, c)
		}
	}
	if len(far) != n {
		t.Errorf("far end saw %d numbers, want %d", len(far), n)
	}
	t.Logf("finished attempts per box %v (lines box0 4, box1 2, box2 trunk down)", per)
	if per["box0"]+per["box1"] != n || per["box1"] == 0 || per["box0"] <= per["box1"] {
		t.Errorf("work per box %v: want all %d on box0 and box1, more on box0 (more free lines)", per, n)
	}
	// Each record names the box that placed the call and holds its recording.
	for _, a := range atts {
		if a.State != cluster.AttemptFinished {
			continue
		}
		var rec apiv1.CallRecord
		if code := apiCall(t, lead, "GET", "/v1/calls/"+a.ID, nil, &rec); code != 200 {
			t.Errorf("record %s: HTTP %d", a.ID, code)
			continue
		}
		if rec.Box != a.Box || (rec.RecordingPath != "" && rec.RecordingBox != a.Box) {
			t.Errorf("record %s: box %q recording box %q, attempt box %q", a.ID, rec.Box, rec.RecordingBox, a.Box)
		}
	}
}
