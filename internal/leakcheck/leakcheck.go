// Package leakcheck fails a test binary when goroutines running this
// repository's code outlive its tests: every goroutine h2rpc starts must
// have an owner that ends it.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Wait is how long Main waits for goroutines on their way out (a closed
// connection's reader returns asynchronously) before it calls them leaked.
const Wait = 5 * time.Second

// Main runs the tests and, if they passed, exits 1 with the stacks of the
// goroutines of ours still running after Wait. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := Leaked(Wait); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// Leaked waits up to d for the goroutines running h2rpc code (other than
// the caller's) to end and returns the stacks of those that did not.
func Leaked(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		leaked := ours()
		if leaked == "" || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ours() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/h2rpc/h2rpc/") && !strings.Contains(g, "h2rpc/internal/leakcheck.") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
