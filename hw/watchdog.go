package hw

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// Sentinel errors of the watchdog.
var (
	// ErrWatchdogClosed is returned by Run when the Watchdog was already
	// closed before Run started.
	ErrWatchdogClosed = errors.New("hw: watchdog closed")
	// ErrWatchdogInterval is returned by OpenWatchdog for a non-positive pet
	// interval, or one not shorter than the device's own timeout.
	ErrWatchdogInterval = errors.New("hw: invalid watchdog pet interval")
)

// petByte is written to keep the board alive. It must not be 'V', which
// arms the magic close.
const petByte = '.'

// magicClose is the byte that, written right before close, tells the Linux
// watchdog driver this is a deliberate stop and not a crash.
const magicClose = 'V'

// Watchdog keeps a hardware watchdog device (normally /dev/watchdog) alive
// while the daemon is healthy. If the daemon wedges, stops reporting healthy
// or dies without Close, the board resets after the device timeout.
//
// Only one process can hold /dev/watchdog. When systemd's own
// RuntimeWatchdogSec= is set in /etc/systemd/system.conf, systemd holds the
// device and callboxd must not open it (see firmware-notes/watchdog.md).
type Watchdog struct {
	path     string
	interval time.Duration
	// newTicker makes the pacing ticker; tests replace it.
	newTicker func(d time.Duration) watchdogTicker

	mu      sync.Mutex
	f       *os.File // guarded by mu; nil after Close
	pets    uint64   // guarded by mu; successful keep-alives written
	closing chan struct{}
	running sync.WaitGroup // Run calls in progress; Close waits for them
	once    sync.Once
	err     error // result of Close, set once
}

type watchdogTicker interface {
	C() <-chan time.Time
	Stop()
}

type stdTicker struct{ t *time.Ticker }

func (s stdTicker) C() <-chan time.Time { return s.t.C }
func (s stdTicker) Stop()               { s.t.Stop() }

// OpenWatchdog opens the watchdog device at path for writing. interval is
// how often Run pets it; it must be well below the device timeout (half of
// it is usual). When the device reports its timeout (WDIOC_GETTIMEOUT) and
// interval is not shorter, OpenWatchdog fails with ErrWatchdogInterval.
//
// Opening the device starts the countdown on most drivers: call Run promptly.
func OpenWatchdog(path string, interval time.Duration) (*Watchdog, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("%w: %v for %s (must be > 0)", ErrWatchdogInterval, interval, path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		if errors.Is(err, syscall.EBUSY) {
			return nil, fmt.Errorf("hw: open watchdog %s: device busy (another process, e.g. systemd with RuntimeWatchdogSec=, already holds it): %w", path, err)
		}
		return nil, fmt.Errorf("hw: open watchdog %s: %w", path, err)
	}
	if timeout, ok := deviceTimeout(f); ok && interval >= timeout {
		// Magic-close so that failing here does not reboot the box.
		_, _ = f.Write([]byte{magicClose})
		_ = f.Close()
		return nil, fmt.Errorf("%w: %v is not shorter than the device timeout %v of %s", ErrWatchdogInterval, interval, timeout, path)
	}
	return &Watchdog{
		path:      path,
		interval:  interval,
		newTicker: func(d time.Duration) watchdogTicker { return stdTicker{time.NewTicker(d)} },
		f:         f,
		closing:   make(chan struct{}),
	}, nil
}

// Path returns the device path.
func (w *Watchdog) Path() string { return w.path }

// Pets returns how many keep-alives have been written so far.
func (w *Watchdog) Pets() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pets
}

// Run pets the device once at start and then every interval, but only when
// healthy() returns true; while it returns false nothing is written and the
// board resets when the device timeout expires. healthy must be quick and
// must not block.
//
// Run blocks until ctx is done or Close is called (then it returns nil), or
// a write to the device fails (then it returns that error and stops petting:
// the caller should log it; the board will reset). The caller owns the
// goroutine Run runs in. Run does not close the device: call Close.
func (w *Watchdog) Run(ctx context.Context, healthy func() bool) error {
	w.mu.Lock()
	if w.f == nil {
		w.mu.Unlock()
		return ErrWatchdogClosed
	}
	w.running.Add(1)
	w.mu.Unlock()
	defer w.running.Done()

	t := w.newTicker(w.interval)
	defer t.Stop()
	for {
		if healthy() {
			if err := w.pet(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.closing:
			return nil
		case <-t.C():
		}
	}
}

func (w *Watchdog) pet() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil // closed under us; Run sees closing next
	}
	if _, err := w.f.Write([]byte{petByte}); err != nil {
		return fmt.Errorf("hw: pet watchdog %s: %w", w.path, err)
	}
	w.pets++
	return nil
}

// Close stops Run, waits for it to return, writes the magic 'V' and closes
// the device, so that a clean shutdown does not reset the board (unless the
// kernel was built with WATCHDOG_NOWAYOUT). It is idempotent; later calls
// return the first call's result.
func (w *Watchdog) Close() error {
	w.once.Do(func() {
		close(w.closing)
		w.running.Wait()
		w.mu.Lock()
		defer w.mu.Unlock()
		f := w.f
		w.f = nil
		_, werr := f.Write([]byte{magicClose})
		cerr := f.Close()
		if werr != nil {
			w.err = fmt.Errorf("hw: magic close of watchdog %s: %w (the board may reset)", w.path, werr)
		} else if cerr != nil {
			w.err = fmt.Errorf("hw: close watchdog %s: %w", w.path, cerr)
		}
	})
	return w.err
}
