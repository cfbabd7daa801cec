package protobuf_test

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// startServe builds h2rpc (the root module's command, with the root
// module's go.mod) and runs `h2rpc serve` on a free port. It returns the
// address and a function that sends SIGTERM and waits for a clean exit
// (safe to call from any goroutine, once; the test's cleanup calls it too).
func startServe(t *testing.T) (addr string, stop func()) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "h2rpc")
	build := exec.Command("go", "build", "-o", bin, "./cmd/h2rpc")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/h2rpc: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "-addr", "127.0.0.1:0", "-q", "-delay", "0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		cmd.Process.Kill()
		t.Fatalf("h2rpc serve printed no address: %v", cmd.Wait())
	}
	addr = sc.Text()
	go func() {
		for sc.Scan() { // drain until the process closes stdout
		}
		done <- cmd.Wait()
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				cmd.Process.Kill()
				t.Errorf("SIGTERM: %v", err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("h2rpc serve after SIGTERM: %v", err)
				}
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Errorf("h2rpc serve did not stop within a minute of SIGTERM: %v", <-done)
			}
		})
	}
	t.Cleanup(stop)
	return addr, stop
}

// goTool runs a Go tool dependency of this module; it returns its standard output
// and the exit code.
func goTool(t *testing.T, args ...string) (string, int) {
	t.Helper()
	// Only the tool's standard output is returned: on a cold module cache
	// the go command writes "go: downloading …" lines to standard error,
	// which tests comparing the output must not see. Standard error goes
	// to the test's log.
	var stderr strings.Builder
	cmd := exec.Command("go", append([]string{"tool"}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if stderr.Len() > 0 {
		t.Logf("go tool %v, standard error:\n%s", args, stderr.String())
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("go tool %v: %v\n%s%s", args, err, out, stderr.String())
	return "", -1
}

// grpcurl and grpc-health-probe, tools of this module, work against the
// h2rpc binary of the core module: list, describe and a call with no
// .proto file (reflection from the descriptors its stubs register), and
// health checks.
func TestToolsAgainstServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds h2rpc, grpcurl and grpc-health-probe")
	}
	addr, _ := startServe(t)
	grpcurl := func(args ...string) string {
		t.Helper()
		out, code := goTool(t, append([]string{"grpcurl", "-plaintext", "-connect-timeout=30", "-max-time=60"}, args...)...)
		if code != 0 {
			t.Fatalf("grpcurl %v: exit %d\n%s", args, code, out)
		}
		return out
	}
	want := []string{"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "messenger.LearningMessenger"}
	if out := grpcurl(addr, "list"); strings.Join(strings.Fields(out), " ") != strings.Join(want, " ") {
		t.Errorf("grpcurl list:\n%s\nwant %v", out, want)
	}
	if out := grpcurl(addr, "describe", "messenger.LearningMessenger"); !strings.Contains(out, "rpc CollaborativeFeed ( stream .messenger.FeedUpdate ) returns ( stream .messenger.FeedUpdate );") {
		t.Errorf("grpcurl describe messenger.LearningMessenger:\n%s", out)
	}
	if out := grpcurl(addr, "describe", "messenger.StatusResponse"); !strings.Contains(out, "message StatusResponse {") {
		t.Errorf("grpcurl describe messenger.StatusResponse:\n%s", out)
	}
	out := grpcurl(addr, "describe")
	for _, w := range want {
		if !strings.Contains(out, w+" is a service:") {
			t.Errorf("grpcurl describe:\n%s\nwant %q described", out, w)
		}
	}
	if out := grpcurl("-d", `{"user_id": "researcher-01"}`, addr, "messenger.LearningMessenger/GetLearningStatus"); !strings.Contains(out, `"message": "System ready for research. Status check OK."`) || !strings.Contains(out, `"active": true`) {
		t.Errorf("grpcurl call GetLearningStatus:\n%s", out)
	}
	for _, service := range []string{"", "messenger.LearningMessenger"} {
		if out, code := goTool(t, "grpc-health-probe", "-addr="+addr, "-service="+service, "-connect-timeout=30s", "-rpc-timeout=30s"); code != 0 {
			t.Errorf("grpc-health-probe -service=%q: exit %d\n%s", service, code, out)
		}
	}
	if out, code := goTool(t, "grpc-health-probe", "-addr="+addr, "-service=no.Such", "-connect-timeout=30s", "-rpc-timeout=30s"); code == 0 {
		t.Errorf("grpc-health-probe of an unknown service passed:\n%s", out)
	}
}

// A stop (SIGTERM) turns the binary's health NOT_SERVING before the server
// goes: grpc-go's health client, watching, sees it.
func TestServeStopGoesNotServing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds h2rpc")
	}
	addr, stop := startServe(t)
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	watch, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{Service: "messenger.LearningMessenger"})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch: %v, %v; want SERVING", resp, err)
	}
	stopped := make(chan struct{})
	go func() { defer close(stopped); stop() }()
	if resp, err := watch.Recv(); err != nil || resp.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("Watch after SIGTERM: %v, %v; want NOT_SERVING", resp, err)
	}
	<-stopped
}
