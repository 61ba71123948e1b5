package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"callbox/daemon/apiv1"
	"callbox/daemon/config"
)

// freePort returns a port free on 127.0.0.1 for both UDP and TCP.
func freePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// box is one callboxd running in-process for a test.
type box struct {
	t      testing.TB
	cfg    *config.Config
	api    string
	cancel context.CancelFunc
	drain  chan struct{}
	done   chan error
}

// startBox runs daemon.Run with a loopback configuration whose only trunk
// points at trunkPort. mutate may adjust the configuration first.
func startBox(t testing.TB, trunkPort int, mutate func(*config.Config)) *box {
	t.Helper()
	sipPort := freePort(t)
	yaml := fmt.Sprintf(`
box: {id: test-box, data_dir: %q}
log: {level: info}
api: {listen: "127.0.0.1:0"}
sip: {listen_ip: 127.0.0.1, listen_port: %d, transports: [udp, tcp]}
media: {ip: 127.0.0.1, rtp_port_min: %d, rtp_port_max: %d}
cluster: {bind: "127.0.0.1:0"}
calls: {ring_timeout: 3s, dtmf_timeout: 3s, drain_timeout: 10s}
tts: {cache_dir: %q}
trunks:
  - {name: sipp, host: 127.0.0.1, port: %d, transport: udp, options_interval: 0s}
`, t.TempDir(), sipPort, 40000+(sipPort%200)*40, 40000+(sipPort%200)*40+38, ttsCacheDir(t), trunkPort)
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(cfg)
	}
	logw := &testLogWriter{t: t}
	return launchBox(t, cfg, logw, Options{}, logw.close)
}

// launchBox runs daemon.Run with cfg in a goroutine, logging to w, and
// waits until it is ready. opts may add Reload hooks; Logger, Drain and
// Ready are set here. The box is stopped and closeLog called at cleanup.
func launchBox(t testing.TB, cfg *config.Config, w io.Writer, opts Options, closeLog func()) *box {
	t.Helper()
	b := &box{t: t, cfg: cfg, drain: make(chan struct{}), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	ready := make(chan string, 1)
	opts.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts.Drain = b.drain
	opts.Ready = func(a string) { ready <- a }
	go func() { b.done <- Run(ctx, cfg, opts) }()
	select {
	case b.api = <-ready:
	case err := <-b.done:
		t.Fatalf("daemon stopped before ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("daemon not ready after 30s")
	}
	t.Cleanup(func() {
		b.stop()
		closeLog()
	})
	return b
}

// stop cancels Run and waits for it.
func (b *box) stop() {
	b.cancel()
	select {
	case err := <-b.done:
		if err != nil {
			b.t.Errorf("daemon.Run: %v", err)
		}
		b.done <- nil
	case <-time.After(20 * time.Second):
		b.t.Error("daemon did not stop within 20s")
	}
}

// call places a call and waits for its final record.
func (b *box) call(body apiv1.PlaceCall) (apiv1.CallRecord, int, string) {
	b.t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post("http://"+b.api+"/v1/calls?wait=true", "application/json", bytes.NewReader(data))
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var rec apiv1.CallRecord
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &rec); err != nil {
			b.t.Fatalf("decode record: %v: %s", err, raw)
		}
	}
	return rec, resp.StatusCode, string(raw)
}

// testLogWriter sends daemon logs to t.Log until the test ends.
type testLogWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

func (w *testLogWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// ttsCacheDir is shared by the package's tests so a prompt is synthesised
// once per test binary.
var ttsCacheOnce struct {
	sync.Once
	dir string
}

func ttsCacheDir(t testing.TB) string {
	ttsCacheOnce.Do(func() {
		d, err := os.MkdirTemp("", "callbox-tts-*")
		if err != nil {
			t.Fatal(err)
		}
		ttsCacheOnce.dir = d
	})
	return ttsCacheOnce.dir
}

// sipp is one SIPp process acting as the far end.
type sipp struct {
	waitFor time.Duration // how long wait waits
	cmd     *exec.Cmd
	out     bytes.Buffer
	done    chan error
	port    int
}

// startSIPp runs SIPp with a scenario from testdata/sipp as a UAS on a free
// port, for one call unless extra says "-m N". A later "-timeout" in extra
// overrides the default 40s.
func startSIPp(t testing.TB, scenario string, extra ...string) *sipp {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("sipp (Debian sip-tester) is not installed: run make deps")
	}
	port := freePort(t)
	mport := freePort(t)
	dir := t.TempDir()
	args := []string{"-sf", filepath.Join("testdata", "sipp", scenario), "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(mport), "-timeout", "40s", "-timeout_error",
		"-aa", "-trace_err", "-error_file", filepath.Join(dir, "err.log"), "-trace_msg", "-message_file", filepath.Join(dir, "msg.log")}
	if !slices.Contains(extra, "-m") {
		args = append(args, "-m", "1")
	}
	args = append(args, extra...)
	s := &sipp{port: port, done: make(chan error, 1), waitFor: 45 * time.Second}
	s.cmd = exec.Command("sipp", args...)
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	s.cmd.Stdin = nil
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		s.done <- nil
		if t.Failed() {
			msgs, _ := os.ReadFile(filepath.Join(dir, "msg.log"))
			errs, _ := os.ReadFile(filepath.Join(dir, "err.log"))
			t.Logf("sipp messages:\n%s\nsipp errors:\n%s", msgs, errs)
		}
	})
	time.Sleep(200 * time.Millisecond) // let SIPp bind
	return s
}

// wait waits for SIPp to finish its one call and fails the test if its
// scenario failed.
func (s *sipp) wait(t testing.TB) {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Errorf("sipp scenario failed: %v", err)
		}
	case <-time.After(s.waitFor):
		t.Error("sipp did not finish")
	}
}

// startSIPpUAC runs SIPp as a caller from 127.0.0.1:localPort (the trunk's
// address) to the box's SIP port, for one call to number 4000.
func startSIPpUAC(t testing.TB, scenario string, localPort, boxPort int) *sipp {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("sipp (Debian sip-tester) is not installed: run make deps")
	}
	dir := t.TempDir()
	mport := freePort(t)
	args := []string{fmt.Sprintf("127.0.0.1:%d", boxPort), "-sf", filepath.Join("testdata", "sipp", scenario),
		"-i", "127.0.0.1", "-p", strconv.Itoa(localPort), "-mi", "127.0.0.1", "-mp", strconv.Itoa(mport),
		"-s", "4000", "-m", "1", "-timeout", "40s", "-timeout_error", "-aa",
		"-trace_err", "-error_file", filepath.Join(dir, "err.log"), "-trace_msg", "-message_file", filepath.Join(dir, "msg.log")}
	s := &sipp{port: localPort, done: make(chan error, 1), waitFor: 45 * time.Second}
	s.cmd = exec.Command("sipp", args...)
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		s.done <- nil
		if t.Failed() {
			msgs, _ := os.ReadFile(filepath.Join(dir, "msg.log"))
			errs, _ := os.ReadFile(filepath.Join(dir, "err.log"))
			t.Logf("sipp messages:\n%s\nsipp errors:\n%s", msgs, errs)
		}
	})
	return s
}

// activeCalls reads active_calls from /healthz.
func (b *box) activeCalls() int {
	resp, err := http.Get("http://" + b.api + "/healthz")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var h struct {
		Active int `json:"active_calls"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&h)
	return h.Active
}

// listRecords is GET /v1/calls.
func listRecords(t testing.TB, b *box) []apiv1.CallRecord {
	t.Helper()
	resp, err := http.Get("http://" + b.api + "/v1/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var recs []apiv1.CallRecord
	if err := json.NewDecoder(resp.Body).Decode(&recs); err != nil {
		t.Fatal(err)
	}
	return recs
}
