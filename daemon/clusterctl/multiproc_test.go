package clusterctl

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"callbox/cluster"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds callboxd and callboxctl once per test binary.
func binaries(t *testing.T) (daemon, ctl string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "callbox-bin-")
		if buildErr != nil {
			return
		}
		for _, p := range []string{"callboxd", "callboxctl"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, p), "callbox/cmd/"+p)
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v\n%s", p, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "callboxd"), filepath.Join(binDir, "callboxctl")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type proc struct {
	sip                int
	id, cfg, api, raft string
	logf               *os.File
	cmd                *exec.Cmd
	done               chan struct{}
}

type multi struct {
	t      *testing.T
	daemon string
	ctl    string
	boxes  []*proc

	// Optional, for work-sharing tests: where every box's trunk points
	// (0: a free port, no peer), the cluster timings (YAML flow mapping
	// body) and extra top-level YAML (flows dir, calls limits).
	trunkPort int
	timings   string
	extra     string
}

// defaultTimings are the tuned raft and lease timings of these tests.
const defaultTimings = "lease_ttl: 900ms, lease_grace: 300ms, heartbeat_timeout: 300ms, election_timeout: 300ms, callback_within: 30s"

// sipPort is the box's SIP port (the simulator sees INVITEs from it).
func (p *proc) sipPort() int { return p.sip }

func (m *multi) config(i int) *proc {
	t := m.t
	dir := t.TempDir()
	id := fmt.Sprintf("box%d", i)
	p := &proc{id: id, api: fmt.Sprintf("127.0.0.1:%d", freePort(t)), raft: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	sip := freePort(t)
	p.sip = sip
	trunk, timings := m.trunkPort, m.timings
	if trunk == 0 {
		trunk = freePort(t)
	}
	if timings == "" {
		timings = defaultTimings
	}
	rtp := 30000 + (sip%300)*30
	y := fmt.Sprintf(`
box: {id: %s, data_dir: %q}
log: {level: info}
api: {listen: %q}
sip: {listen_ip: 127.0.0.1, listen_port: %d, transports: [udp]}
media: {ip: 127.0.0.1, rtp_port_min: %d, rtp_port_max: %d}
cluster: {bind: %q, bootstrap: %v, %s}
tts: {cache_dir: %q}
trunks:
  - {name: t1, host: 127.0.0.1, port: %d, transport: udp, options_interval: 0s}
%s
`, id, dir, p.api, sip, rtp, rtp+28, p.raft, i == 0, timings, filepath.Join(dir, "tts"), trunk, m.extra)
	p.cfg = filepath.Join(dir, "callboxd.yaml")
	if err := os.WriteFile(p.cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	lf, err := os.Create(filepath.Join(dir, "callboxd.log"))
	if err != nil {
		t.Fatal(err)
	}
	p.logf = lf
	t.Cleanup(func() {
		if m.t.Failed() {
			b, _ := os.ReadFile(lf.Name())
			lines := strings.Split(string(b), "\n")
			if len(lines) > 40 {
				lines = lines[len(lines)-40:]
			}
			m.t.Logf("--- %s log tail ---\n%s", id, strings.Join(lines, "\n"))
		}
		lf.Close()
	})
	return p
}

func (m *multi) ctlRun(args ...string) string {
	m.t.Helper()
	out, err := exec.Command(m.ctl, args...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			m.t.Fatalf("callboxctl %v: %v: %s", args, err, ee.Stderr)
		}
		m.t.Fatalf("callboxctl %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

func (m *multi) start(p *proc) {
	m.t.Helper()
	p.cmd = exec.Command(m.daemon, "-config", p.cfg)
	p.cmd.Stdout, p.cmd.Stderr = p.logf, p.logf
	if err := p.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(p.cmd, p.done)
	m.t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get("http://" + p.api + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-p.done:
			m.t.Fatalf("%s exited before ready", p.id)
		default:
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("%s not healthy after 60s", p.id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGCONT)
		p.cmd.Process.Kill()
		<-p.done
	}
}

func status(p *proc) (cluster.Status, error) {
	var st cluster.Status
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + p.api + "/v1/cluster/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return st, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func (m *multi) waitFor(d time.Duration, what string, cond func() bool) {
	m.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			m.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// formCluster inits box0 and joins the others with one-time tokens.
func formCluster(t *testing.T, n int) *multi {
	return formClusterWith(t, n, &multi{})
}

// formClusterWith is formCluster with m's optional settings.
func formClusterWith(t *testing.T, n int, m *multi) *multi {
	d, c := binaries(t)
	m.t, m.daemon, m.ctl = t, d, c
	for i := 0; i < n; i++ {
		m.boxes = append(m.boxes, m.config(i))
	}
	m.ctlRun("cluster", "init", "--config", m.boxes[0].cfg)
	m.start(m.boxes[0])
	for _, p := range m.boxes[1:] {
		tok := m.ctlRun("--api", "http://"+m.boxes[0].api, "cluster", "token", "create", "--ttl", "5m")
		m.ctlRun("cluster", "join", tok, "--config", p.cfg)
		m.start(p)
	}
	m.waitFor(30*time.Second, "all members with valid leases", func() bool {
		st, err := status(m.boxes[0])
		if err != nil || len(st.Members) != n || len(st.Boxes) != n {
			return false
		}
		for _, b := range st.Boxes {
			if b.State != cluster.BoxActive || time.Until(b.LeaseUntil) <= 0 {
				return false
			}
		}
		return true
	})
	return m
}

func (m *multi) leader() (*proc, cluster.Status) {
	for _, p := range m.boxes {
		if st, err := status(p); err == nil && st.State == "Leader" {
			return p, st
		}
	}
	return nil, cluster.Status{}
}

// failover kills the leader with SIGKILL and returns how long until a
// survivor reports another leader that has committed past the index seen
// at the kill (lease renewals commit every lease_ttl/3).
func (m *multi) failover() (time.Duration, *proc) {
	m.t.Helper()
	var old *proc
	var st cluster.Status
	m.waitFor(20*time.Second, "a leader", func() bool { old, st = m.leader(); return old != nil })
	idx := st.AppliedIndex
	start := time.Now()
	old.cmd.Process.Kill()
	<-old.done
	var took time.Duration
	m.waitFor(20*time.Second, "a new leader committing", func() bool {
		for _, p := range m.boxes {
			if p == old {
				continue
			}
			s, err := status(p)
			if err == nil && s.State == "Leader" && s.LeaderID != old.id && s.AppliedIndex > idx+1 {
				took = time.Since(start)
				return true
			}
		}
		return false
	})
	return took, old
}

func TestMultiProcessClusterTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three callboxd processes")
	}
	m := formCluster(t, 3)
	st, _ := status(m.boxes[1])
	t.Logf("formed: leader %s, members %d, index %d", st.LeaderID, len(st.Members), st.AppliedIndex)

	// SIGSTOP a follower past its lease: the leader expires it; SIGCONT: it
	// renews into a new epoch.
	var follower *proc
	lead, _ := m.leader()
	for _, p := range m.boxes {
		if p != lead {
			follower = p
		}
	}
	follower.cmd.Process.Signal(syscall.SIGSTOP)
	m.waitFor(15*time.Second, "the stopped box's lease to expire", func() bool {
		s, err := status(lead)
		if err != nil {
			return false
		}
		for _, b := range s.Boxes {
			if b.ID == follower.id {
				return b.State == cluster.BoxExpired
			}
		}
		return false
	})
	follower.cmd.Process.Signal(syscall.SIGCONT)
	m.waitFor(15*time.Second, "the continued box to renew", func() bool {
		s, err := status(lead)
		if err != nil {
			return false
		}
		for _, b := range s.Boxes {
			if b.ID == follower.id {
				return b.State == cluster.BoxActive && b.Epoch >= 2
			}
		}
		return false
	})

	// kill -9 of the leader: a new leader commits within the bar.
	took, old := m.failover()
	t.Logf("failover after kill -9: %v (heartbeat/election 300ms, lease 900ms)", took)
	if took > 3*time.Second {
		t.Errorf("failover took %v, bar 3s", took)
	}
	// The killed box restarts with its state and rejoins as a follower.
	m.start(old)
	m.waitFor(20*time.Second, "the restarted box to rejoin", func() bool {
		s, err := status(old)
		return err == nil && s.State == "Follower" && s.LeaderID != "" && len(s.Members) == 3
	})
	// A box leaves gracefully; the rest keep a 2-member cluster.
	m.ctlRun("--api", "http://"+old.api, "cluster", "leave")
	m.waitFor(10*time.Second, "membership of two", func() bool {
		p, s := m.leader()
		return p != nil && len(s.Members) == 2
	})
}

// TestMultiProcessFailoverSoak repeats kill -9 / restart of the leader
// (CALLBOX_SOAK=1) and reports the failover distribution.
func TestMultiProcessFailoverSoak(t *testing.T) {
	if os.Getenv("CALLBOX_SOAK") == "" {
		t.Skip("set CALLBOX_SOAK=1")
	}
	m := formCluster(t, 3)
	rng := rand.New(rand.NewSource(1))
	var worst time.Duration
	for i := 0; i < 20; i++ {
		took, old := m.failover()
		if took > worst {
			worst = took
		}
		t.Logf("round %d: failover %v", i, took)
		time.Sleep(time.Duration(rng.Intn(1000)) * time.Millisecond)
		m.start(old)
	}
	t.Logf("worst failover %v", worst)
	if worst > 3*time.Second {
		t.Errorf("worst failover %v, bar 3s", worst)
	}
}
