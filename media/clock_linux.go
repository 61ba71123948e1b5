package media

import (
	"fmt"
	"syscall"
	"time"
	"unsafe"
)

// Linux clock ids and flags for clock_gettime/clock_nanosleep.
const (
	clockMonotonic = 1
	timerAbstime   = 1
	schedFIFO      = 1
)

// monotonicNow reads CLOCK_MONOTONIC.
func monotonicNow() syscall.Timespec {
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0)
	return ts
}

// sleep blocks the calling OS thread in the kernel for d. It sleeps to an
// absolute CLOCK_MONOTONIC deadline, so the signals the Go runtime sends
// (preemption) only restart the same wait, never stretch it.
func sleep(d time.Duration) {
	now := monotonicNow()
	ns := syscall.TimespecToNsec(now) + int64(d)
	ts := syscall.NsecToTimespec(ns)
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_CLOCK_NANOSLEEP, clockMonotonic, timerAbstime, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if e != syscall.EINTR {
			return
		}
	}
}

// setRealtime puts the calling thread in the SCHED_FIFO class at prio.
func setRealtime(prio int) error {
	param := struct{ prio int32 }{int32(prio)}
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, 0, schedFIFO, uintptr(unsafe.Pointer(&param)))
	if e != 0 {
		return fmt.Errorf("media: SCHED_FIFO priority %d for clock workers: %w", prio, e)
	}
	return nil
}
