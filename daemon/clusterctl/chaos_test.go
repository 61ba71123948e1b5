package clusterctl

// This file holds the chaos harness: a three-box cluster of real callboxd
// processes (mutual TLS, one network namespace each when the machine
// allows) runs a campaign against the callee simulator while a seeded
// schedule kills, freezes and partitions boxes; then chaoscheck judges the
// far end's log against the cluster's attempts.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
	"callbox/daemon/campaign"
	"callbox/daemon/clusterctl/chaoscheck"
	"callbox/sim"
)

// chaosParams sizes one run.
type chaosParams struct {
	contacts int // answering contacts
	busy     int // contacts that answer 486 every time (retried)
	faults   int
	bound    time.Duration // for the campaign to finish after the last fault
}

type chaosBox struct {
	i                   int
	id, ip, api, cfg    string
	sipPort, raftPort   int
	rtpMin, rtpMax      int
	logPath             string
	cmd                 *exec.Cmd
	done                chan struct{}
	stopped, terminated bool
}

type chaosRun struct {
	t         *testing.T
	seed      uint64
	rng       *rand.Rand
	nw        *chaosNet
	daemon    string
	ctl       string
	boxes     []*chaosBox
	sim       *sim.Server
	simLog    string
	faults    []string
	cuts      []leaderCut // partitions of the leader, for the deposed-leader check
	contacts  []chaoscheck.Contact
	http      *http.Client
	startedAt time.Time
}

const (
	chaosCampaign = "chaos"
	// chaosToken is every box's bootstrap admin token: the harness reaches
	// the boxes over the bridge, not loopback, so setup mode does not apply.
	chaosToken = "chaos-harness-0123456789abcdef0123456789abcdef"
)

// bearer adds the admin token to every request.
type bearer struct{ next http.RoundTripper }

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+chaosToken)
	return b.next.RoundTrip(req)
}

func (r *chaosRun) logf(format string, a ...any) {
	r.t.Logf("[seed %d +%5.1fs] %s", r.seed, time.Since(r.startedAt).Seconds(), fmt.Sprintf(format, a...))
}

// newChaosRun builds the network, the simulator and the box configs.
func newChaosRun(t *testing.T, seed uint64) *chaosRun {
	d, c := binaries(t)
	r := &chaosRun{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 0xc4a05)), daemon: d, ctl: c,
		http: &http.Client{Timeout: 2 * time.Second, Transport: bearer{http.DefaultTransport}}, startedAt: time.Now()}
	nw, why := newChaosNet(t, 3)
	r.nw = nw
	simIP := "127.0.0.1"
	if nw != nil {
		simIP = nw.HostIP()
	} else {
		r.logf("no network namespaces (%s): boxes share 127.0.0.1 and partitions are skipped", why)
	}
	// A failing run keeps its far-end log, box logs and data for the
	// report; a passing one is removed.
	dir, err := os.MkdirTemp("", fmt.Sprintf("callbox-chaos-seed%d-", seed))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d: run kept in %s", seed, dir)
			return
		}
		os.RemoveAll(dir)
	})
	r.simLog = filepath.Join(dir, "far-end.jsonl")
	personas := sim.DefaultPersonas()
	personas["hello"] = sim.Persona{Name: "hello", Kind: sim.KindVoicemail, RingFor: 300 * time.Millisecond, Greeting: "Hello?"}
	personas["busy"] = sim.Persona{Name: "busy", Kind: sim.KindBusy, RingFor: 200 * time.Millisecond, Code: 486}
	rtp := 46000 + int(seed%20)*100
	var s *sim.Server
	s, err = sim.New(sim.Config{ListenIP: simIP, Port: -1, RTPPortMin: rtp, RTPPortMax: rtp + 99,
		Personas: personas, Default: "hello", Rules: []sim.Rule{{Prefix: "+8613900008", Persona: "busy"}},
		MaxRing: time.Second, MaxCallDuration: 8 * time.Second, LogFile: r.simLog,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r.sim = s
	simPort := s.Addr()[strings.LastIndexByte(s.Addr(), ':')+1:]
	for i := 0; i < 3; i++ {
		r.boxes = append(r.boxes, r.config(i, dir, simIP, simPort))
	}
	return r
}

func (r *chaosRun) config(i int, dir, simIP, simPort string) *chaosBox {
	b := &chaosBox{i: i, id: fmt.Sprintf("box%d", i), ip: "127.0.0.1"}
	apiPort := 8080
	if r.nw != nil { // own namespace: fixed ports
		b.ip, b.sipPort, b.raftPort, b.rtpMin = r.nw.IP(i), 5060, 7000, 20000
	} else {
		apiPort, b.sipPort, b.raftPort = freePort(r.t), freePort(r.t), freePort(r.t)
		b.rtpMin = 30000 + (b.sipPort%300)*30
	}
	b.rtpMax = b.rtpMin + 98
	b.api = fmt.Sprintf("%s:%d", b.ip, apiPort)
	bdir := filepath.Join(dir, b.id)
	if err := os.MkdirAll(bdir, 0o700); err != nil {
		r.t.Fatal(err)
	}
	y := fmt.Sprintf(`
box: {id: %s, data_dir: %q}
log: {level: info}
api: {listen: %q, token: %q, tls: {mode: off}}
sip: {listen_ip: %s, listen_port: %d, transports: [udp]}
media: {ip: %s, rtp_port_min: %d, rtp_port_max: %d}
cluster: {bind: "%s:%d", bootstrap: %v, lease_ttl: 900ms, lease_grace: 300ms, heartbeat_timeout: 300ms, election_timeout: 300ms, callback_within: 30s}
calls: {ring_timeout: 3s, drain_timeout: 2s}
tts: {cache_dir: %q}
trunks:
  - {name: sim, host: %s, port: %s, transport: udp, options_interval: 0s}
`, b.id, bdir, b.api, chaosToken, b.ip, b.sipPort, b.ip, b.rtpMin, b.rtpMax, b.ip, b.raftPort, i == 0,
		filepath.Join(bdir, "tts"), simIP, simPort)
	b.cfg = filepath.Join(bdir, "callboxd.yaml")
	if err := os.WriteFile(b.cfg, []byte(y), 0o600); err != nil {
		r.t.Fatal(err)
	}
	b.logPath = filepath.Join(bdir, "callboxd.log")
	r.t.Cleanup(func() {
		if r.t.Failed() {
			data, _ := os.ReadFile(b.logPath)
			lines := strings.Split(string(data), "\n")
			if len(lines) > 30 {
				lines = lines[len(lines)-30:]
			}
			r.t.Logf("--- %s log tail (%s) ---\n%s", b.id, b.logPath, strings.Join(lines, "\n"))
		}
	})
	return b
}

func (r *chaosRun) ctlRun(args ...string) string {
	r.t.Helper()
	out, err := exec.Command(r.ctl, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		r.t.Fatalf("callboxctl %v: %v: %s", args, err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// start runs box b and waits until it is healthy.
func (r *chaosRun) start(b *chaosBox) {
	r.t.Helper()
	if r.nw != nil {
		b.cmd = r.nw.Command(b.i, r.daemon, "-config", b.cfg)
	} else {
		b.cmd = exec.Command(r.daemon, "-config", b.cfg)
	}
	lf, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	defer lf.Close()
	b.cmd.Stdout, b.cmd.Stderr = lf, lf
	if err := b.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	b.done, b.stopped, b.terminated = make(chan struct{}), false, false
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(b.cmd, b.done)
	r.t.Cleanup(func() { r.kill(b) })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := r.http.Get("http://" + b.api + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-b.done:
			r.t.Fatalf("%s exited before ready (log %s)", b.id, b.logPath)
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s not healthy after 60s", b.id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL (after SIGCONT, so a frozen box dies too) and waits.
func (r *chaosRun) kill(b *chaosBox) {
	if b.cmd == nil || b.cmd.Process == nil || b.terminated {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGCONT)
	_ = b.cmd.Process.Kill()
	<-b.done
	b.terminated = true
}

func (r *chaosRun) status(b *chaosBox) (cluster.Status, error) {
	var st cluster.Status
	err := r.get(b, "/v1/cluster/status", &st)
	return st, err
}

func (r *chaosRun) get(b *chaosBox, path string, out any) error {
	resp, err := r.http.Get("http://" + b.api + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s on %s: HTTP %d: %.200s", path, b.id, resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

func (r *chaosRun) post(b *chaosBox, path string, body []byte, want int) {
	r.t.Helper()
	resp, err := r.http.Post("http://"+b.api+path, "application/json", bytes.NewReader(body))
	if err != nil {
		r.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		r.t.Fatalf("POST %s on %s: HTTP %d, want %d: %s", path, b.id, resp.StatusCode, want, raw)
	}
}

func (r *chaosRun) waitFor(d time.Duration, what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// form inits box0 and joins the others with one-time tokens (mutual TLS
// from then on).
func (r *chaosRun) form() {
	b0 := r.boxes[0]
	r.ctlRun("cluster", "init", "--config", b0.cfg)
	r.start(b0)
	for _, b := range r.boxes[1:] {
		tok := r.ctlRun("--api", "http://"+b0.api, "--token", chaosToken, "cluster", "token", "create", "--ttl", "5m")
		r.ctlRun("cluster", "join", tok, "--config", b.cfg)
		r.start(b)
	}
	r.waitFor(30*time.Second, "three members with valid leases", func() bool {
		st, err := r.status(b0)
		if err != nil || len(st.Members) != 3 || len(st.Boxes) != 3 {
			return false
		}
		for _, x := range st.Boxes {
			if x.State != cluster.BoxActive || time.Until(x.LeaseUntil) <= 0 {
				return false
			}
		}
		return true
	})
	r.logf("cluster formed (%s)", map[bool]string{true: "network namespaces", false: "loopback"}[r.nw != nil])
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
	return fmt.Sprintf("Etc/GMT%+d", -off)
}

// startCampaign creates the campaign, imports the contacts and starts it.
func (r *chaosRun) startCampaign(p chaosParams) {
	b0 := r.boxes[0]
	spec := apiv1.CampaignSpec{ID: chaosCampaign, Prompt: "Hello {name}, this is a test.", TimezonePolicy: "campaign",
		Timezone: noonZone(), MaxAttempts: 4, Pacing: apiv1.Pacing{MaxConcurrent: 3, CPS: 3},
		Retry: map[string]apiv1.RetryRule{"busy": {Action: "retry", Delay: "1s"}}}
	body, _ := json.Marshal(spec)
	r.post(b0, "/v1/campaigns", body, http.StatusCreated)
	var csv strings.Builder
	csv.WriteString("phone\n")
	add := func(phone string) {
		csv.WriteString(phone + "\n")
		r.contacts = append(r.contacts, chaoscheck.Contact{ID: campaign.ContactID(phone), Phone: phone})
	}
	for i := 0; i < p.contacts; i++ {
		add(fmt.Sprintf("+8613900009%03d", i))
	}
	for i := 0; i < p.busy; i++ {
		add(fmt.Sprintf("+8613900008%03d", i))
	}
	r.post(b0, "/v1/campaigns/"+chaosCampaign+"/contacts", []byte(csv.String()), http.StatusOK)
	r.post(b0, "/v1/campaigns/"+chaosCampaign+"/start", nil, http.StatusOK)
	r.logf("campaign started: %d contacts (%d busy)", p.contacts+p.busy, p.busy)
}

// progress reads the campaign's counters from any box that answers.
func (r *chaosRun) progress() (apiv1.Counters, bool) {
	for _, b := range r.boxes {
		if b.terminated || b.stopped {
			continue
		}
		var c apiv1.Campaign
		if err := r.get(b, "/v1/campaigns/"+chaosCampaign, &c); err == nil {
			return c.Counters, true
		}
	}
	return apiv1.Counters{}, false
}

func (r *chaosRun) finished() bool {
	c, ok := r.progress()
	return ok && c.Contacts > 0 && c.Pending == 0 && c.InProgress == 0
}

// leader returns the box that reports itself leader with the highest
// term (a partitioned old leader may still believe it leads).
func (r *chaosRun) leader() *chaosBox {
	var best *chaosBox
	bestTerm := -1
	for _, b := range r.boxes {
		if b.terminated || b.stopped {
			continue
		}
		st, err := r.status(b)
		if err != nil || st.State != "Leader" {
			continue
		}
		if t, _ := strconv.Atoi(st.Term); t > bestTerm {
			best, bestTerm = b, t
		}
	}
	return best
}

// pause sleeps a seeded duration in [lo, hi).
func (r *chaosRun) pause(lo, hi time.Duration) time.Duration {
	d := lo + time.Duration(r.rng.Int64N(int64(hi-lo)))
	time.Sleep(d)
	return d
}

// fault applies one seeded fault to a box (the leader 60% of the time)
// and undoes it before returning, so at most one box is ever faulty and a
// majority always remains.
func (r *chaosRun) fault() {
	target := r.boxes[r.rng.IntN(len(r.boxes))]
	isLeader := false
	if r.rng.IntN(10) < 6 {
		if l := r.leader(); l != nil {
			target, isLeader = l, true
		}
	}
	kinds := []string{"kill", "kill", "stop", "stop"}
	if r.nw != nil {
		kinds = append(kinds, "partition", "partition")
	}
	kind := kinds[r.rng.IntN(len(kinds))]
	who := target.id
	if isLeader {
		who += "(leader)"
	}
	who = time.Now().Format("15:04:05.000") + " " + who // to match the far-end log
	switch kind {
	case "kill":
		r.kill(target)
		down := r.pause(200*time.Millisecond, 1500*time.Millisecond)
		r.start(target)
		r.faults = append(r.faults, fmt.Sprintf("%s kill -9, down %v", who, down.Round(time.Millisecond)))
	case "stop":
		_ = target.cmd.Process.Signal(syscall.SIGSTOP)
		target.stopped = true
		held := r.pause(1500*time.Millisecond, 4*time.Second) // lease 900ms + grace 300ms: lost
		_ = target.cmd.Process.Signal(syscall.SIGCONT)
		target.stopped = false
		r.faults = append(r.faults, fmt.Sprintf("%s SIGSTOP for %v", who, held.Round(time.Millisecond)))
	case "partition":
		from := time.Now()
		if err := r.nw.Partition(target.i); err != nil {
			r.t.Fatal(err)
		}
		held := r.pause(1500*time.Millisecond, 4*time.Second)
		if isLeader {
			r.cuts = append(r.cuts, leaderCut{box: target.id, ip: target.ip, from: from, to: time.Now()})
		}
		if err := r.nw.Heal(target.i); err != nil {
			r.t.Fatal(err)
		}
		r.faults = append(r.faults, fmt.Sprintf("%s partition for %v", who, held.Round(time.Millisecond)))
	}
	r.logf("fault %d: %s", len(r.faults), r.faults[len(r.faults)-1])
}

// runChaos runs one seeded campaign under faults and returns the
// checker's report.
func runChaos(t *testing.T, seed uint64, p chaosParams) *chaoscheck.Report {
	r := newChaosRun(t, seed)
	r.form()
	r.startCampaign(p)
	for len(r.faults) < p.faults && !r.finished() {
		r.pause(300*time.Millisecond, 2*time.Second)
		r.fault()
	}
	deadline := time.Now().Add(p.bound)
	for !r.finished() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	counters, _ := r.progress()
	if !r.finished() { // judge anyway: the checker names the stuck contacts
		t.Errorf("seed %d: campaign not finished %v after the last fault: %+v", seed, p.bound, counters)
	} else {
		r.logf("campaign finished: %+v", counters)
	}
	var atts []cluster.Attempt
	for _, b := range r.boxes { // a linearisable read: through the leader
		if l := r.leader(); l != nil {
			b = l
		}
		var err error
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		atts, err = chaoscheck.FetchAttempts(ctx, r.http, "http://"+b.api, "", chaosCampaign)
		cancel()
		if err == nil {
			break
		}
		r.logf("attempts from %s: %v", b.id, err)
	}
	for _, b := range r.boxes { // a box that died on its own crashed
		select {
		case <-b.done:
			if !b.terminated {
				t.Errorf("seed %d: %s exited on its own (%v); log %s", seed, b.id, b.cmd.ProcessState, b.logPath)
			}
		default:
		}
	}
	// Stop the boxes, then the simulator: Close ends every call still up
	// at the far end, so every INVITE received has its line.
	for _, b := range r.boxes {
		r.kill(b)
	}
	if err := r.sim.Close(); err != nil {
		t.Errorf("simulator close: %v", err)
	}
	calls, bad, err := chaoscheck.ReadFarEndFiles(r.simLog)
	if err != nil {
		t.Fatal(err)
	}
	rep := chaoscheck.Check(chaoscheck.Input{Contacts: r.contacts, Calls: calls, Malformed: bad, Attempts: atts})
	lateCuts := 0
	for _, c := range r.cuts {
		if msg := deposedLeaderDials(c, calls); msg != "" {
			t.Errorf("seed %d: %s", seed, msg)
			lateCuts++
		}
	}
	r.logf("deposed-leader check: %d partitions of the leader, %d with an INVITE from the cut leader after the others dialled again", len(r.cuts), lateCuts)
	t.Logf("CHAOS seed=%d faults=%d [%s] contacts=%d dialled=%d duplicated=%d lost=%d interrupted=%d reconciled=%d unreconciled=%d overlaps=%d",
		seed, len(r.faults), strings.Join(r.faults, "; "), rep.Contacts, rep.Dialled, rep.Duplicated, rep.Lost,
		rep.Interrupted, rep.Reconciled, rep.Unreconciled, rep.Overlaps)
	for _, c := range rep.PerContact {
		for _, o := range c.Overlaps {
			t.Logf("  handover %s: %s", c.ContactID, o)
		}
	}
	if err := rep.Err(); err != nil {
		t.Errorf("seed %d: %v\nfar-end log: %s", seed, err, r.simLog)
	}
	return rep
}

// TestChaosCampaign is the short seeded version (make test): one seed, a
// few faults, a dozen contacts.
func TestChaosCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three callboxd processes")
	}
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng not installed")
	}
	runChaos(t, 1, chaosParams{contacts: 10, busy: 2, faults: 4, bound: 60 * time.Second})
}

// TestChaosCampaignSoak runs many seeds (CALLBOX_SOAK=1; seeds from
// CALLBOX_CHAOS_SEEDS, "1-20" or "3,7,9", default 1-10) with more faults
// and contacts, and sums the figures.
func TestChaosCampaignSoak(t *testing.T) {
	if os.Getenv("CALLBOX_SOAK") == "" {
		t.Skip("set CALLBOX_SOAK=1")
	}
	seeds, err := parseSeeds(os.Getenv("CALLBOX_CHAOS_SEEDS"))
	if err != nil {
		t.Fatal(err)
	}
	var sum chaoscheck.Report
	failed := 0
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			defer func() { // also when runChaos stops the subtest with Fatal
				if t.Failed() {
					failed++
				}
			}()
			rep := runChaos(t, seed, chaosParams{contacts: 24, busy: 3, faults: 10, bound: 90 * time.Second})
			sum.Contacts += rep.Contacts
			sum.Attempts += rep.Attempts
			sum.Dialled += rep.Dialled
			sum.Duplicated += rep.Duplicated
			sum.Lost += rep.Lost
			sum.Interrupted += rep.Interrupted
			sum.Reconciled += rep.Reconciled
			sum.Unreconciled += rep.Unreconciled
			sum.Overlaps += rep.Overlaps
		})
	}
	t.Logf("CHAOS SOAK %d seeds, %d failed: %s", len(seeds), failed, sum.Summary())
}

// parseSeeds reads "1-20", "3,7,9" or a mix; empty means 1-10.
func parseSeeds(s string) ([]uint64, error) {
	if strings.TrimSpace(s) == "" {
		s = "1-10"
	}
	var out []uint64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("CALLBOX_CHAOS_SEEDS %q: %q is not a seed or a range like 1-20", s, part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 64); err != nil || b < a || b-a > 10000 {
				return nil, fmt.Errorf("CALLBOX_CHAOS_SEEDS %q: bad range %q", s, part)
			}
		}
		for x := a; x <= b; x++ {
			out = append(out, x)
		}
	}
	return out, nil
}

// leaderCut is a partition of the box that led when it was cut off.
type leaderCut struct {
	box, ip  string
	from, to time.Time
}

// deposedLeaderDials checks, from the far end's log, that a leader cut off
// by a partition sends no INVITE once the rest of the cluster dials again:
// the other side's first INVITE after the cut follows a claim the new
// leader committed, so the cut box's INVITEs from then until the heal
// would be dials by a deposed leader after the new leader's first commit.
// It returns "" when there were none.
func deposedLeaderDials(c leaderCut, calls []sim.CallLog) string {
	var firstOther time.Time
	for _, l := range calls {
		host, _, _ := net.SplitHostPort(l.Source)
		if host != c.ip && l.ReceivedAt.After(c.from) && l.ReceivedAt.Before(c.to) &&
			(firstOther.IsZero() || l.ReceivedAt.Before(firstOther)) {
			firstOther = l.ReceivedAt
		}
	}
	if firstOther.IsZero() {
		return ""
	}
	var late []string
	for _, l := range calls {
		host, _, _ := net.SplitHostPort(l.Source)
		if host == c.ip && l.ReceivedAt.After(firstOther) && l.ReceivedAt.Before(c.to) {
			late = append(late, fmt.Sprintf("%s at %s", l.CallID, l.ReceivedAt.Format("15:04:05.000")))
		}
	}
	if len(late) == 0 {
		return ""
	}
	return fmt.Sprintf("deposed leader %s (cut %s–%s) sent %d INVITE(s) after the others dialled again at %s: %s",
		c.box, c.from.Format("15:04:05.000"), c.to.Format("15:04:05.000"), len(late), firstOther.Format("15:04:05.000"), strings.Join(late, ", "))
}

// The deposed-leader check must catch a cut leader's INVITE sent after the
// others resumed dialling, and pass one sent before.
func TestDeposedLeaderDialsCheck(t *testing.T) {
	base := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return base.Add(time.Duration(s * float64(time.Second))) }
	cut := leaderCut{box: "box0", ip: "10.0.0.10", from: at(0), to: at(5)}
	calls := []sim.CallLog{
		{CallID: "old-before", Source: "10.0.0.10:5060", ReceivedAt: at(0.2)}, // in flight at the cut
		{CallID: "new-first", Source: "10.0.0.11:5060", ReceivedAt: at(1.5)},
	}
	if msg := deposedLeaderDials(cut, calls); msg != "" {
		t.Fatalf("clean cut flagged: %s", msg)
	}
	calls = append(calls, sim.CallLog{CallID: "old-late", Source: "10.0.0.10:5060", ReceivedAt: at(2)})
	if msg := deposedLeaderDials(cut, calls); !strings.Contains(msg, "old-late") {
		t.Fatalf("late INVITE by the deposed leader not flagged: %q", msg)
	}
}
