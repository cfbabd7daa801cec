package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// usage is what a process holds: goroutines, open file descriptors and
// resident memory. fds and rss are -1 where /proc is not available.
type usage struct {
	goroutines int
	fds        int
	rss        int64
}

// measure returns this process's usage after a GC that returns freed
// memory to the OS, so that rss reflects what is live rather than what the
// scavenger has not yet released.
func measure() usage {
	runtime.GC()
	debug.FreeOSMemory()
	u := usage{goroutines: runtime.NumGoroutine(), fds: -1, rss: -1}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		u.fds = len(ents) - 1 // ReadDir's own descriptor
	}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				u.rss = pages * int64(os.Getpagesize())
			}
		}
	}
	return u
}

// limits say how far a process's usage may sit above its baseline once a
// phase has settled. Goroutines and descriptors must come back exactly
// (settle polls, so ones on their way out have time to go); memory must
// not grow beyond a generous bound, which still catches a leak that grows
// with traffic over a long soak. A zero rssFactor turns the memory check
// off.
type limits struct {
	goroutines int
	fds        int
	rssFactor  float64
	rssSlack   int64
}

var defaultLimits = limits{goroutines: 0, fds: 0, rssFactor: 1.5, rssSlack: 64 << 20}

// exceeds says how u exceeds base under l, or "" if it does not.
func (l limits) exceeds(u, base usage) string {
	var out []string
	if u.goroutines > base.goroutines+l.goroutines {
		out = append(out, fmt.Sprintf("goroutines %d > baseline %d + %d", u.goroutines, base.goroutines, l.goroutines))
	}
	if u.fds >= 0 && base.fds >= 0 && u.fds > base.fds+l.fds {
		out = append(out, fmt.Sprintf("fds %d > baseline %d + %d", u.fds, base.fds, l.fds))
	}
	if l.rssFactor > 0 && u.rss >= 0 && base.rss >= 0 {
		bound := max(int64(float64(base.rss)*l.rssFactor), base.rss+l.rssSlack)
		if u.rss > bound {
			out = append(out, fmt.Sprintf("rss %s > bound %s (baseline %s)", mib(u.rss), mib(bound), mib(base.rss)))
		}
	}
	return strings.Join(out, "; ")
}

func mib(n int64) string {
	if n < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
}
