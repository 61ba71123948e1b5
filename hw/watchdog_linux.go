//go:build linux

package hw

import (
	"os"
	"syscall"
	"time"
	"unsafe"
)

// wdiocGetTimeout is WDIOC_GETTIMEOUT from <linux/watchdog.h>: _IOR('W', 7, int).
const wdiocGetTimeout = 0x80045707

// deviceTimeout asks the driver for its timeout. ok is false for files that
// are not watchdog devices (tests use regular files and FIFOs).
func deviceTimeout(f *os.File) (time.Duration, bool) {
	var secs int32
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), wdiocGetTimeout, uintptr(unsafe.Pointer(&secs)))
	if errno != 0 || secs <= 0 {
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}
