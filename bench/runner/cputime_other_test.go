//go:build !unix

package runner

import "time"

// processCPU returns 0: the CPU time is not measured here.
func processCPU() (all, user time.Duration) { return 0, 0 }
