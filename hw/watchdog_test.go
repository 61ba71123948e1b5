package hw

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

type manualTicker struct{ c chan time.Time }

func (m *manualTicker) C() <-chan time.Time { return m.c }
func (m *manualTicker) Stop()               {}

// startRun runs w.Run with a manual ticker and a health flag; every health
// evaluation is reported on the returned channel so the test can step it.
func startRun(t *testing.T, w *Watchdog, healthy *atomic.Bool) (tick chan time.Time, checked chan bool, stop func() error) {
	t.Helper()
	mt := &manualTicker{c: make(chan time.Time)}
	w.newTicker = func(time.Duration) watchdogTicker { return mt }
	checked = make(chan bool, 16)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var runErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		runErr = w.Run(ctx, func() bool { h := healthy.Load(); checked <- h; return h })
	}()
	return mt.c, checked, func() error { cancel(); wg.Wait(); return runErr }
}

func TestWatchdogRegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := OpenWatchdog(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var healthy atomic.Bool
	healthy.Store(true)
	tick, checked, stop := startRun(t, w, &healthy)
	<-checked // initial pet
	tick <- time.Time{}
	<-checked // second pet
	healthy.Store(false)
	for i := 0; i < 3; i++ { // unhealthy: no pets
		tick <- time.Time{}
		<-checked
	}
	healthy.Store(true)
	tick <- time.Time{}
	<-checked // third pet
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := w.Pets(); got != 3 {
		t.Fatalf("Pets() = %d, want 3", got)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "...V" {
		t.Fatalf("device received %q, want three pets then magic close %q", got, "...V")
	}
	if err := w.Run(context.Background(), func() bool { return true }); !errors.Is(err, ErrWatchdogClosed) {
		t.Fatalf("Run after Close: %v, want ErrWatchdogClosed", err)
	}
}

func TestWatchdogFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watchdog.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// The reader plays the kernel driver's part.
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w, err := OpenWatchdog(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var healthy atomic.Bool // starts unhealthy
	tick, checked, stop := startRun(t, w, &healthy)
	<-checked
	tick <- time.Time{}
	<-checked
	healthy.Store(true)
	tick <- time.Time{}
	<-checked
	// Close while Run is still going: Close must stop Run and wait for it.
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	buf := make([]byte, 16)
	n, err := r.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != ".V" {
		t.Fatalf("device received %q, want one pet then 'V'", buf[:n])
	}
}

func TestWatchdogRealTicker(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := OpenWatchdog(path, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background(), func() bool { return true }) }()
	deadline := time.Now().Add(10 * time.Second)
	for w.Pets() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no pets from the real ticker")
		}
		time.Sleep(time.Millisecond)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	got, _ := os.ReadFile(path)
	if len(got) < 4 || got[len(got)-1] != 'V' {
		t.Fatalf("device received %q, want pets ending in 'V'", got)
	}
}

func TestOpenWatchdogErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenWatchdog(filepath.Join(dir, "nope"), time.Second); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing device: err = %v, want not-exist naming the path", err)
	}
	path := filepath.Join(dir, "wd")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenWatchdog(path, 0); !errors.Is(err, ErrWatchdogInterval) {
		t.Fatalf("zero interval: err = %v, want ErrWatchdogInterval", err)
	}
}

func TestWatchdogWriteFailureStopsRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watchdog.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	w, err := OpenWatchdog(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // the "driver" vanishes: writes get EPIPE
	err = w.Run(context.Background(), func() bool { return true })
	if err == nil || !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Run = %v, want EPIPE naming the device", err)
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after broken pipe reported success")
	}
}
