package runner

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the package if a goroutine outlives the tests: every
// server, client and sampler the runner starts must end when closed. As
// in Main, a child server process (the conns scenario) serves instead.
func TestMain(m *testing.M) {
	if name, ok := childSystem(); ok {
		os.Exit(serveChild(name, os.Stdin, os.Stdout, os.Stderr))
	}
	code := m.Run()
	if code == 0 {
		if leaked := waitForLeaks(10 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// waitForLeaks returns the stacks of goroutines other than the test
// framework's and the runtime's that are still running after wait; they get
// until then to finish ending (a closed connection's reader may take a
// scheduling round to notice).
func waitForLeaks(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		leaked := interestingGoroutines()
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func interestingGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if g == "" || strings.Contains(g, "runner.interestingGoroutines") ||
			strings.Contains(g, "testing.(*M).") || strings.Contains(g, "testing.Main(") ||
			strings.Contains(g, "runtime.goexit") && !strings.Contains(g, "created by") ||
			strings.Contains(g, "os/signal.signal_recv") || strings.Contains(g, "testing.(*T).Run(") ||
			strings.Contains(g, "testing.runTests") || strings.Contains(g, "runtime.ensureSigM") {
			continue
		}
		out = append(out, g)
	}
	return out
}

func readFile(name string) ([]byte, error)   { return os.ReadFile(name) }
func openFile(name string) (*os.File, error) { return os.Open(name) }
