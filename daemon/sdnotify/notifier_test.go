package sdnotify

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// listen creates a real unixgram socket, points NOTIFY_SOCKET at it and
// returns the connection systemd would read from.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdn") // short path: sun_path is 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return conn
}

func recv(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no datagram from notifier: %v", err)
	}
	return string(buf[:n])
}

// expectNothing asserts that no datagram is pending on conn.
func expectNothing(t *testing.T, conn *net.UnixConn) {
	t.Helper()
	buf := make([]byte, 4096)
	if err := conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n, err := conn.Read(buf); err == nil {
		t.Fatalf("unexpected datagram %q", buf[:n])
	}
}

func TestStateMessages(t *testing.T) {
	conn := listen(t)
	n := New(nil)
	if !n.Enabled() {
		t.Fatal("Enabled() = false with NOTIFY_SOCKET set")
	}
	n.Ready()
	if got := recv(t, conn); got != "READY=1" {
		t.Fatalf("Ready sent %q, want READY=1", got)
	}
	n.Reloading()
	got := recv(t, conn)
	lines := strings.Split(got, "\n")
	if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") || len(lines[1]) <= len("MONOTONIC_USEC=") {
		t.Fatalf("Reloading sent %q, want RELOADING=1 and MONOTONIC_USEC=<n>", got)
	}
	n.Stopping()
	if got := recv(t, conn); got != "STOPPING=1" {
		t.Fatalf("Stopping sent %q", got)
	}
	n.Status("draining 3 calls\nsecond line")
	if got := recv(t, conn); got != "STATUS=draining 3 calls second line" {
		t.Fatalf("Status sent %q", got)
	}
}

func TestNoSocketIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "1000000")
	n := New(nil)
	if n.Enabled() {
		t.Fatal("Enabled() = true without NOTIFY_SOCKET")
	}
	var sent atomic.Int32
	n.send = func(string) (bool, error) { sent.Add(1); return true, nil }
	n.Ready()
	n.Stopping()
	n.Status("x")
	done := make(chan struct{})
	go func() { n.RunWatchdog(context.Background(), func() bool { return true }); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunWatchdog did not return without NOTIFY_SOCKET")
	}
	if sent.Load() != 0 {
		t.Fatalf("%d messages sent without NOTIFY_SOCKET", sent.Load())
	}
}

func TestWatchdogInterval(t *testing.T) {
	listen(t)
	t.Setenv("WATCHDOG_PID", "")
	t.Setenv("WATCHDOG_USEC", "")
	if _, err := New(nil).WatchdogInterval(); !errors.Is(err, ErrNoWatchdog) {
		t.Fatalf("unset WATCHDOG_USEC: err = %v, want ErrNoWatchdog", err)
	}
	t.Setenv("WATCHDOG_USEC", "10000000")
	d, err := New(nil).WatchdogInterval()
	if err != nil || d != 10*time.Second {
		t.Fatalf("got %v, %v; want 10s", d, err)
	}
	t.Setenv("WATCHDOG_USEC", "ten")
	if _, err := New(nil).WatchdogInterval(); err == nil || errors.Is(err, ErrNoWatchdog) || !strings.Contains(err.Error(), "WATCHDOG_USEC") {
		t.Fatalf("bad WATCHDOG_USEC: err = %v, want parse error naming WATCHDOG_USEC", err)
	}
	t.Setenv("WATCHDOG_USEC", "10000000")
	t.Setenv("WATCHDOG_PID", "1") // another process's watchdog
	if _, err := New(nil).WatchdogInterval(); !errors.Is(err, ErrNoWatchdog) {
		t.Fatalf("foreign WATCHDOG_PID: err = %v, want ErrNoWatchdog", err)
	}
}

// fakeTicker is driven by the test; it records the period asked for.
type fakeTicker struct {
	c      chan time.Time
	period time.Duration
}

func (f *fakeTicker) C() <-chan time.Time { return f.c }
func (f *fakeTicker) Stop()               {}

func TestWatchdogPetsOnlyWhileHealthy(t *testing.T) {
	conn := listen(t)
	t.Setenv("WATCHDOG_USEC", "10000000") // WatchdogSec=10s
	t.Setenv("WATCHDOG_PID", "")
	n := New(nil)
	ft := &fakeTicker{c: make(chan time.Time)}
	n.newTicker = func(d time.Duration) ticker { ft.period = d; return ft }

	var healthy atomic.Bool
	healthy.Store(false)
	checked := make(chan bool, 16) // one entry per health evaluation
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.RunWatchdog(ctx, func() bool { h := healthy.Load(); checked <- h; return h })
	}()
	// Initial evaluation plus three ticks, all unhealthy: nothing may be sent.
	<-checked
	for i := 0; i < 3; i++ {
		ft.c <- time.Time{}
		<-checked
	}
	expectNothing(t, conn)
	if ft.period != 5*time.Second {
		t.Fatalf("pet period = %v, want WatchdogSec/2 = 5s", ft.period)
	}
	healthy.Store(true)
	ft.c <- time.Time{}
	<-checked
	if got := recv(t, conn); got != "WATCHDOG=1" {
		t.Fatalf("healthy tick sent %q, want WATCHDOG=1", got)
	}
	healthy.Store(false)
	ft.c <- time.Time{}
	<-checked
	expectNothing(t, conn)
	cancel()
	wg.Wait()
}

func TestWatchdogRealTimerStopsWithContext(t *testing.T) {
	conn := listen(t)
	t.Setenv("WATCHDOG_USEC", "40000") // 40 ms → pets every 20 ms
	t.Setenv("WATCHDOG_PID", "")
	n := New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.RunWatchdog(ctx, func() bool { return true }); close(done) }()
	for i := 0; i < 3; i++ {
		if got := recv(t, conn); got != "WATCHDOG=1" {
			t.Fatalf("got %q, want WATCHDOG=1", got)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunWatchdog did not stop after cancel")
	}
}

func TestSendFailureDoesNotPanic(t *testing.T) {
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	t.Setenv("NOTIFY_SOCKET", filepath.Join(dir, "missing"))
	n := New(nil)
	var calls atomic.Int32
	inner := n.send
	n.send = func(s string) (bool, error) { calls.Add(1); return inner(s) }
	n.Ready()
	n.Ready()
	if calls.Load() != 2 {
		t.Fatalf("send called %d times, want 2", calls.Load())
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.lastErr == "" {
		t.Fatal("send to a missing socket did not record an error")
	}
}
