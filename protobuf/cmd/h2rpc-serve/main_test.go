package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/h2rpc/h2rpc/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// serve runs h2rpc-serve in-process on a free port until the test ends.
func serve(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	result := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"-addr", "127.0.0.1:0", "-q", "-delay", "0"}, pw, io.Discard)
		pw.Close()
		result <- err
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		t.Fatalf("h2rpc-serve printed no address: %v", <-result)
	}
	addr := sc.Text()
	go io.Copy(io.Discard, pr) // ends when run closes pw
	t.Cleanup(func() {
		cancel()
		if err := <-result; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return addr
}

func tool(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command("go", append([]string{"tool"}, args...)...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("go tool %v: %v\n%s", args, err, out)
	return "", -1
}

// grpcurl and grpc-health-probe, tools of this module, work against
// h2rpc-serve: list, describe, a call without the .proto, health checks.
func TestToolsAgainstServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds grpcurl and grpc-health-probe")
	}
	addr := serve(t)
	grpcurl := func(args ...string) string {
		t.Helper()
		out, code := tool(t, append([]string{"grpcurl", "-plaintext", "-connect-timeout=30", "-max-time=60"}, args...)...)
		if code != 0 {
			t.Fatalf("grpcurl %v: exit %d\n%s", args, code, out)
		}
		return out
	}
	if out := grpcurl(addr, "list"); !strings.Contains(out, "messenger.LearningMessenger\n") || !strings.Contains(out, "grpc.health.v1.Health\n") {
		t.Errorf("grpcurl list:\n%s", out)
	}
	if out := grpcurl(addr, "describe", "messenger.LearningMessenger"); !strings.Contains(out, "rpc CollaborativeFeed ( stream .messenger.FeedUpdate ) returns ( stream .messenger.FeedUpdate );") {
		t.Errorf("grpcurl describe:\n%s", out)
	}
	// Everything is described, health and reflection from the module's
	// own descriptors (nothing of grpc-go is linked here).
	out := grpcurl(addr, "describe")
	for _, want := range []string{"grpc.health.v1.Health is a service:", "grpc.reflection.v1.ServerReflection is a service:", "grpc.reflection.v1alpha.ServerReflection is a service:", "messenger.LearningMessenger is a service:"} {
		if !strings.Contains(out, want) {
			t.Errorf("grpcurl describe:\n%s\nwant %q", out, want)
		}
	}
	if out := grpcurl("-d", `{"user_id": "researcher-01"}`, addr, "messenger.LearningMessenger/GetLearningStatus"); !strings.Contains(out, `"message": "System ready for research. Status check OK."`) || !strings.Contains(out, `"active": true`) {
		t.Errorf("grpcurl call:\n%s", out)
	}
	for _, service := range []string{"", "messenger.LearningMessenger"} {
		if out, code := tool(t, "grpc-health-probe", "-addr="+addr, "-service="+service, "-connect-timeout=30s", "-rpc-timeout=30s"); code != 0 {
			t.Errorf("grpc-health-probe -service=%q: exit %d\n%s", service, code, out)
		}
	}
	if out, code := tool(t, "grpc-health-probe", "-addr="+addr, "-service=no.Such", "-connect-timeout=30s", "-rpc-timeout=30s"); code == 0 {
		t.Errorf("grpc-health-probe of an unknown service passed:\n%s", out)
	}
}
