// Package sdnotify owns callboxd's side of the systemd notify protocol:
// readiness (READY=1), reloads (RELOADING=1 with MONOTONIC_USEC), shutdown
// (STOPPING=1), free-form STATUS= lines and the service watchdog
// (WATCHDOG=1), which is petted only while the daemon reports itself healthy.
//
// It wraps github.com/coreos/go-systemd/v22/daemon. When NOTIFY_SOCKET is not
// set (the daemon runs in a terminal, a test or a container without systemd)
// every method is a no-op, so callers never need to check.
package sdnotify
