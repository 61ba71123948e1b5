//go:build !linux

package hw

import (
	"os"
	"time"
)

// deviceTimeout is unknown outside Linux.
func deviceTimeout(*os.File) (time.Duration, bool) { return 0, false }
