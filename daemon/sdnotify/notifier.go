package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// ErrNoWatchdog is returned by WatchdogInterval when systemd did not enable a
// watchdog for this process (WATCHDOG_USEC unset, or WATCHDOG_PID names
// another process).
var ErrNoWatchdog = errors.New("sdnotify: systemd watchdog not enabled for this process")

// Notifier sends state changes to systemd. The zero value is not usable; use
// New. All methods are safe for concurrent use.
type Notifier struct {
	logger  *slog.Logger
	enabled bool // NOTIFY_SOCKET was set when New ran
	// send delivers one datagram; replaced in tests of edge cases only.
	send func(state string) (bool, error)
	// monotonic returns the "MONOTONIC_USEC=…\n" line, or "" when the clock
	// is unavailable.
	monotonic func() string
	// newTicker makes the watchdog pacing ticker (injected clock).
	newTicker func(d time.Duration) ticker

	mu       sync.Mutex
	lastErr  string // guarded by mu; last send error logged, to avoid log floods
	watching bool   // guarded by mu; a RunWatchdog loop is active
}

// ticker is the part of *time.Ticker the watchdog loop uses.
type ticker interface {
	C() <-chan time.Time
	Stop()
}

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// New returns a Notifier. If NOTIFY_SOCKET is unset it returns a Notifier
// whose methods do nothing. A nil logger means slog.Default().
func New(logger *slog.Logger) *Notifier {
	if logger == nil {
		logger = slog.Default()
	}
	return &Notifier{
		logger:    logger.With("component", "sdnotify"),
		enabled:   os.Getenv("NOTIFY_SOCKET") != "",
		send:      func(s string) (bool, error) { return daemon.SdNotify(false, s) },
		monotonic: daemon.SdNotifyMonotonicUsec,
		newTicker: func(d time.Duration) ticker { return realTicker{time.NewTicker(d)} },
	}
}

// Enabled reports whether a NOTIFY_SOCKET was present when New ran.
func (n *Notifier) Enabled() bool { return n.enabled }

// Ready tells systemd that start-up (or a reload) has finished.
func (n *Notifier) Ready() { n.notify(daemon.SdNotifyReady) }

// Reloading tells systemd that the daemon is reloading its configuration
// (on SIGHUP). It carries MONOTONIC_USEC, which systemd ≥ 253 requires for
// Type=notify-reload and older versions ignore. Call Ready when done.
func (n *Notifier) Reloading() {
	n.notify(daemon.SdNotifyReloading + "\n" + strings.TrimSuffix(n.monotonic(), "\n"))
}

// Stopping tells systemd that the daemon has begun draining calls and will
// exit.
func (n *Notifier) Stopping() { n.notify(daemon.SdNotifyStopping) }

// Status sets the free-form status line shown by `systemctl status`.
// Newlines would start a new protocol field, so they are replaced by spaces.
func (n *Notifier) Status(s string) {
	s = strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
	n.notify("STATUS=" + s)
}

// WatchdogInterval returns the interval systemd expects WATCHDOG=1 within
// (WatchdogSec=), or ErrNoWatchdog.
func (n *Notifier) WatchdogInterval() (time.Duration, error) {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0, fmt.Errorf("sdnotify: reading WATCHDOG_USEC: %w", err)
	}
	if d <= 0 || !n.enabled {
		return 0, ErrNoWatchdog
	}
	return d, nil
}

// RunWatchdog sends WATCHDOG=1 every WatchdogSec/2 as long as healthy()
// returns true, and stops when ctx is done. While healthy() returns false no
// keep-alive is sent, so systemd kills and restarts a wedged daemon after
// WatchdogSec. healthy must be cheap and must not block (it should read the
// media clock's last tick time, raft and API health flags).
//
// RunWatchdog blocks: the caller owns the goroutine it runs in. It returns
// at once when the watchdog is not enabled. A second concurrent call returns
// immediately with a logged warning.
func (n *Notifier) RunWatchdog(ctx context.Context, healthy func() bool) {
	interval, err := n.WatchdogInterval()
	if err != nil {
		if !errors.Is(err, ErrNoWatchdog) {
			n.logger.Warn("watchdog disabled", "err", err)
		}
		return
	}
	n.mu.Lock()
	if n.watching {
		n.mu.Unlock()
		n.logger.Warn("RunWatchdog already running; ignoring second call")
		return
	}
	n.watching = true
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.watching = false
		n.mu.Unlock()
	}()

	period := interval / 2
	if period <= 0 {
		period = interval
	}
	n.logger.Info("systemd watchdog enabled", "watchdog_sec", interval.Seconds(), "pet_every", period.String())
	t := n.newTicker(period)
	defer t.Stop()
	wasHealthy := true
	pet := func() {
		ok := healthy()
		switch {
		case ok:
			n.notify(daemon.SdNotifyWatchdog)
			if !wasHealthy {
				n.logger.Info("daemon healthy again; watchdog keep-alives resumed")
			}
		case wasHealthy:
			n.logger.Error("daemon unhealthy; withholding watchdog keep-alive", "restart_after", interval.String())
		}
		wasHealthy = ok
	}
	pet() // first keep-alive immediately: start-up may have used part of the budget
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			pet()
		}
	}
}

func (n *Notifier) notify(state string) {
	if !n.enabled {
		return
	}
	_, err := n.send(state)
	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil {
		// Log each distinct failure once until a send succeeds again.
		if msg := err.Error(); msg != n.lastErr {
			n.lastErr = msg
			n.logger.Warn("systemd notify failed", "state", firstField(state), "err", err)
		}
		return
	}
	n.lastErr = ""
}

func firstField(state string) string {
	if i := strings.IndexByte(state, '\n'); i >= 0 {
		return state[:i]
	}
	return state
}
