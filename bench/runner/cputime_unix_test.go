//go:build unix

package runner

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time the process has used: user and system,
// and user alone.
func processCPU() (all, user time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Utime.Nano())
}
