package leakcheck_test

import (
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/internal/leakcheck"
)

func parked(stop chan struct{}) { <-stop }

// TestLeaked: a goroutine running our code is reported until it ends; the
// caller's own goroutine never is.
func TestLeaked(t *testing.T) {
	if got := leakcheck.Leaked(0); got != "" {
		t.Fatalf("leaks before the test started:\n%s", got)
	}
	stop := make(chan struct{})
	go parked(stop)
	if got := leakcheck.Leaked(50 * time.Millisecond); !strings.Contains(got, "leakcheck_test.parked") {
		t.Fatalf("a parked goroutine of ours was not reported; got:\n%s", got)
	}
	close(stop)
	if got := leakcheck.Leaked(time.Second); got != "" {
		t.Fatalf("still reported after it ended:\n%s", got)
	}
}
