package interop

import (
	"net"
	"strings"
	"sync"
	"testing"
)

// A call with a 1 ms deadline fails with DEADLINE_EXCEEDED whatever stage
// the deadline finds it in, the dial included: grpc-go's
// timeout_on_sleeping_server case, run by our interop client against
// grpc-go's interop server in a fresh process each time (so that each run
// dials), passes every time. A few processes run at once: on an idle
// machine a loopback dial takes well under the 1 ms, and the runs would
// rarely reach the stage that matters.
func TestTimeoutOnSleepingServerFreshProcesses(t *testing.T) {
	const runs, atOnce = 50, 4
	bins := t.TempDir()
	grpcServer := goBuild(t, bins, "grpc-go-interop-server", "google.golang.org/grpc/interop/server")
	ourClient := goBuild(t, bins, "h2rpc-interop-client", "./cmd/client")
	host, port, _ := net.SplitHostPort(startProcessServer(t, grpcServer))
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		passed int
	)
	slots := make(chan struct{}, atOnce)
	for i := range runs {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			out := runProcess(t, ourClient, "--server_host="+host, "--server_port="+port, "--test_case=timeout_on_sleeping_server", "--use_tls=false")
			if !strings.Contains(out, "PASS timeout_on_sleeping_server") {
				t.Errorf("run %d: %s", i, out)
				return
			}
			mu.Lock()
			passed++
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("timeout_on_sleeping_server: %d of %d fresh runs passed", passed, runs)
}
