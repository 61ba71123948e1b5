package sipua

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"callbox/media"
)

// sippProc is one SIPp process run by a test.
type sippProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
	err  error // set before done is closed
	port int
}

func needSipp(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("sipp not installed")
	}
}

var portMu sync.Mutex

// freePort returns a port free for UDP and TCP on ip.
func freePort(t *testing.T, ip string) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for i := 0; i < 50; i++ {
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		p := u.LocalAddr().(*net.UDPAddr).Port
		tl, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.ParseIP(ip), Port: p})
		// Media ports: SIPp also uses p+1 / p+2 for RTCP and video.
		u2, err2 := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: p + 2})
		u.Close()
		if tl != nil {
			tl.Close()
		}
		if u2 != nil {
			u2.Close()
		}
		if err == nil && err2 == nil && p%2 == 0 {
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// startSipp runs sipp with scenario file name (in testdata/sipp) bound to
// ip:port, plus extra args. SIPp always exits: -m limits calls and
// -timeout bounds the run.
func startSipp(t *testing.T, ip, scenario string, port int, extra ...string) *sippProc {
	t.Helper()
	needSipp(t)
	dir := t.TempDir()
	args := []string{
		"-sf", filepath.Join("testdata", "sipp", scenario),
		"-i", ip, "-p", strconv.Itoa(port),
		"-m", "1", "-timeout", "20s", "-timeout_error", "-nostdin",
		"-trace_err", "-error_file", filepath.Join(dir, "err.log"),
		"-trace_msg", "-message_file", filepath.Join(dir, "msg.log"),
	}
	args = append(args, extra...)
	p := &sippProc{t: t, out: &bytes.Buffer{}, done: make(chan struct{}), port: port}
	p.cmd = exec.Command("sipp", args...)
	p.cmd.Dir, _ = os.Getwd()
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start sipp: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			for _, f := range []string{"err.log", "msg.log"} {
				if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
					t.Logf("sipp %s %s:\n%s", scenario, f, tail(b, 6000))
				}
			}
		}
	})
	return p
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// wait waits for SIPp to exit and fails the test unless it exited 0
// (every call of the scenario succeeded).
func (p *sippProc) wait(timeout time.Duration) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("sipp did not finish within %v", timeout)
	}
	if p.err != nil {
		p.t.Fatalf("sipp failed: %v", p.err)
	}
}

// waitTCP waits until something accepts TCP on 127.0.0.1:port.
func waitTCP(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listening on tcp port %d", port)
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("SIPUA_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// mediaFactory builds real media sessions on a shared clock.
func mediaFactory(t *testing.T, log *slog.Logger) func(CallInfo) (*media.Session, error) {
	t.Helper()
	clk := media.NewClock(20*time.Millisecond, 1)
	clk.Start()
	t.Cleanup(func() { clk.Close() })
	base := 20000 + 2*rand.IntN(10000)
	pr, err := media.NewPortRange(net.ParseIP("127.0.0.1"), base, base+400)
	if err != nil {
		t.Fatal(err)
	}
	return func(info CallInfo) (*media.Session, error) {
		return media.NewSession(media.SessionConfig{IP: net.ParseIP("127.0.0.1"), Ports: pr, Clock: clk, Logger: log})
	}
}

// newTestUA starts a UA on 127.0.0.1 with the given trunks.
func newTestUA(t *testing.T, transports []string, trunks []TrunkConfig, onInbound func(*Call)) *UA {
	t.Helper()
	log := testLogger(t)
	u, err := New(Config{ListenIP: "127.0.0.1", Transports: transports, Trunks: trunks},
		Deps{Logger: log, NewMedia: mediaFactory(t, log), OnInbound: onInbound})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := u.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := u.Close(); err != nil {
			t.Logf("Close: %v", err)
		}
	})
	return u
}

func ipTrunk(port int, transport string) TrunkConfig {
	return TrunkConfig{Name: "carrier", Host: "127.0.0.1", Port: port, Transport: transport, MaxCalls: 1}
}

// eventually polls cond every 20 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func wantDialError(t *testing.T, err error, d Disposition, code int) *DialError {
	t.Helper()
	var de *DialError
	if !errors.As(err, &de) {
		t.Fatalf("want *DialError %s/%d, got %v", d, code, err)
	}
	if de.Disposition != d || de.Code != code {
		t.Fatalf("want %s/%d, got %s/%d (%v)", d, code, de.Disposition, de.Code, err)
	}
	gd, gc := Classify(err)
	if gd != d || gc != code {
		t.Fatalf("Classify = %s/%d, want %s/%d", gd, gc, d, code)
	}
	return de
}
