package sim

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rtpBase hands each test server its own RTP range so parallel servers
// never share a port.
var rtpBase atomic.Int32

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startSim runs a simulator on a free SIP port with cfg's rules and
// personas; Close is registered as cleanup.
func startSim(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Port == 0 {
		cfg.Port = -1
	}
	if cfg.RTPPortMin == 0 {
		n := rtpBase.Add(1)
		cfg.RTPPortMin = 47000 + int(n%40)*200
		cfg.RTPPortMax = cfg.RTPPortMin + 199
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func needBinary(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed: %v", name, err)
	}
}

// freeUDPPort returns a UDP port free right now on 127.0.0.1.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// runSIPp runs one SIPp UAC call of scenario against addr, dialling number.
// keys are -key name value pairs; keys starting with '-' are passed as
// SIPp options.
func runSIPp(ctx context.Context, t *testing.T, scenario, addr, number string, keys map[string]string) (string, error) {
	t.Helper()
	sf, err := filepath.Abs(filepath.Join("testdata", scenario))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{addr, "-sf", sf, "-m", "1", "-l", "1", "-timeout", "25s", "-timeout_error",
		"-i", "127.0.0.1", "-mp", strconv.Itoa(freeUDPPort(t)), "-s", number, "-nostdin", "-trace_err"}
	for k, v := range keys {
		if strings.HasPrefix(k, "-") { // a SIPp option such as -d (pause length)
			args = append(args, k, v)
			continue
		}
		args = append(args, "-key", k, v)
	}
	cmd := exec.CommandContext(ctx, "sipp", args...)
	cmd.Dir = t.TempDir()
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		if logs, _ := filepath.Glob(filepath.Join(cmd.Dir, "*errors.log")); len(logs) > 0 {
			b, _ := os.ReadFile(logs[0])
			out = append(out, b...)
		}
	}
	return string(out), err
}

// waitCall waits for the first n calls to end and returns them.
func waitCalls(t *testing.T, s *Server, n int) []CallLog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.WaitCalls(ctx, n); err != nil {
		t.Fatalf("WaitCalls: %v; calls %+v", err, s.Calls())
	}
	return s.Calls()
}
