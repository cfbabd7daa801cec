package health_test

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/internal/leakcheck"
	"github.com/h2rpc/h2rpc/protobuf/health"
	"github.com/h2rpc/h2rpc/rpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// serve starts an h2rpc server with hs registered; it stops when the test
// ends (or earlier, through the returned server).
func serve(t *testing.T, hs *health.Server) (string, *rpc.Server) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := rpc.NewServer()
	health.Register(s, hs)
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return lis.Addr().String(), s
}

// client is grpc-go's generated health client.
func client(t *testing.T, addr string) healthpb.HealthClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return healthpb.NewHealthClient(cc)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestCheck(t *testing.T) {
	hs := health.NewServer()
	addr, _ := serve(t, hs)
	c := client(t, addr)
	check := func(service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
		resp, err := c.Check(ctx(t), &healthpb.HealthCheckRequest{Service: service})
		return resp.GetStatus(), err
	}
	if st, err := check(""); err != nil || st != healthpb.HealthCheckResponse_SERVING {
		t.Errorf(`Check("") = %v, %v; want SERVING`, st, err)
	}
	if _, err := check("pkg.Missing"); status.Code(err) != codes.NotFound {
		t.Errorf("Check of an unknown service = %v, want NotFound", err)
	}
	hs.SetServingStatus("pkg.Svc", health.NotServing)
	if st, err := check("pkg.Svc"); err != nil || st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("Check(pkg.Svc) = %v, %v; want NOT_SERVING", st, err)
	}
	hs.SetServingStatus("pkg.Svc", health.Serving)
	if st, err := check("pkg.Svc"); err != nil || st != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Check(pkg.Svc) = %v, %v; want SERVING", st, err)
	}
}

func TestList(t *testing.T) {
	hs := health.NewServer()
	hs.SetServingStatus("a.A", health.NotServing)
	hs.SetServingStatus("b.B", health.Serving)
	addr, _ := serve(t, hs)
	resp, err := client(t, addr).List(ctx(t), &healthpb.HealthListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]healthpb.HealthCheckResponse_ServingStatus{
		"":    healthpb.HealthCheckResponse_SERVING,
		"a.A": healthpb.HealthCheckResponse_NOT_SERVING,
		"b.B": healthpb.HealthCheckResponse_SERVING,
	}
	if len(resp.Statuses) != len(want) {
		t.Fatalf("List = %v, want %v", resp.Statuses, want)
	}
	for name, st := range want {
		if got := resp.Statuses[name].GetStatus(); got != st {
			t.Errorf("List[%q] = %v, want %v", name, got, st)
		}
	}
	for i := range 101 {
		hs.SetServingStatus(strings.Repeat("x", i+1), health.Serving)
	}
	if _, err := client(t, addr).List(ctx(t), &healthpb.HealthListRequest{}); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("List of 104 services = %v, want ResourceExhausted", err)
	}
}

// Watch sends the current status, then each change.
func TestWatch(t *testing.T) {
	hs := health.NewServer()
	addr, _ := serve(t, hs)
	stream, err := client(t, addr).Watch(ctx(t), &healthpb.HealthCheckRequest{Service: "pkg.Svc"})
	if err != nil {
		t.Fatal(err)
	}
	next := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		resp, err := stream.Recv()
		if err != nil || resp.Status != want {
			t.Fatalf("Watch: Recv = %v, %v; want %v", resp, err, want)
		}
	}
	next(healthpb.HealthCheckResponse_SERVICE_UNKNOWN)
	for _, st := range []health.Status{health.Serving, health.NotServing, health.Serving, health.Serving} {
		hs.SetServingStatus("pkg.Svc", st)
		next(healthpb.HealthCheckResponse_ServingStatus(st))
	}
	// Another service's changes do not reach this watcher: the next one
	// it sees is its own.
	hs.SetServingStatus("other.Svc", health.NotServing)
	hs.SetServingStatus("pkg.Svc", health.NotServing)
	next(healthpb.HealthCheckResponse_NOT_SERVING)
}

// Shutdown moves everything to NOT_SERVING, tells the watchers, ends their
// calls, and so lets GracefulStop finish although a Watch was open.
func TestShutdownThenGracefulStop(t *testing.T) {
	hs := health.NewServer()
	hs.SetServingStatus("pkg.Svc", health.Serving)
	addr, s := serve(t, hs)
	c := client(t, addr)
	stream, err := c.Watch(ctx(t), &healthpb.HealthCheckRequest{Service: "pkg.Svc"})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch: first Recv = %v, %v", resp, err)
	}

	hs.Shutdown()
	if resp, err := stream.Recv(); err != nil || resp.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch after Shutdown: Recv = %v, %v; want NOT_SERVING", resp, err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("Watch after Shutdown: second Recv = %v, want Unavailable", err)
	}
	hs.SetServingStatus("", health.Serving) // ignored while shut down
	for _, service := range []string{"", "pkg.Svc"} {
		resp, err := c.Check(ctx(t), &healthpb.HealthCheckRequest{Service: service})
		if err != nil || resp.Status != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("Check(%q) after Shutdown = %v, %v; want NOT_SERVING", service, resp, err)
		}
	}
	hs.Resume()
	if resp, err := c.Check(ctx(t), &healthpb.HealthCheckRequest{}); err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Check after Resume = %v, %v; want SERVING", resp, err)
	}
	hs.Shutdown()

	stream, err = c.Watch(ctx(t), &healthpb.HealthCheckRequest{Service: "pkg.Svc"})
	if err != nil {
		t.Fatal(err)
	}
	// A Watch that starts after Shutdown gets the status and its end.
	if resp, err := stream.Recv(); err != nil || resp.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch started after Shutdown: Recv = %v, %v", resp, err)
	}
	done := make(chan struct{})
	go func() { s.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("GracefulStop did not return after Shutdown")
	}
}

// A malformed request is INVALID_ARGUMENT, not a crash.
func TestMalformedRequest(t *testing.T) {
	addr, _ := serve(t, health.NewServer())
	cc, err := rpc.Dial(addr, rpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var resp []byte
	for _, method := range []string{"Check", "List"} {
		err := cc.Invoke(ctx(t), "/grpc.health.v1.Health/"+method, []byte{0x0a, 0x05, 'a'}, &resp)
		if rpc.CodeOf(err) != rpc.InvalidArgument {
			t.Errorf("%s with a truncated field = %v, want INVALID_ARGUMENT", method, err)
		}
	}
}

// probe runs grpc-health-probe (a tool of this module) and returns its
// exit code.
func probe(t *testing.T, addr string, args ...string) int {
	t.Helper()
	args = append([]string{"tool", "grpc-health-probe", "-addr=" + addr, "-connect-timeout=30s", "-rpc-timeout=30s"}, args...)
	out, err := exec.Command("go", args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		t.Logf("grpc-health-probe %v: %s", args[2:], out)
		return exit.ExitCode()
	}
	t.Fatalf("grpc-health-probe: %v: %s", err, out)
	return -1
}

// grpc-health-probe passes against a serving h2rpc server and fails (exit
// status 4, "unhealthy") against a NOT_SERVING service.
func TestGRPCHealthProbe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds grpc-health-probe")
	}
	hs := health.NewServer()
	hs.SetServingStatus("pkg.Up", health.Serving)
	hs.SetServingStatus("pkg.Down", health.NotServing)
	addr, _ := serve(t, hs)
	if code := probe(t, addr); code != 0 {
		t.Errorf("probe of the server: exit %d, want 0", code)
	}
	if code := probe(t, addr, "-service=pkg.Up"); code != 0 {
		t.Errorf("probe of a SERVING service: exit %d, want 0", code)
	}
	if code := probe(t, addr, "-service=pkg.Down"); code != 4 {
		t.Errorf("probe of a NOT_SERVING service: exit %d, want 4 (unhealthy)", code)
	}
	hs.Shutdown()
	if code := probe(t, addr); code != 4 {
		t.Errorf("probe after Shutdown: exit %d, want 4 (unhealthy)", code)
	}
}

// The rpc client's health-checked backends read this server: with
// rpc.WithHealthCheck the ClientConn is READY while the server reports
// SERVING and in TRANSIENT_FAILURE while it reports NOT_SERVING.
func TestClientSideHealthChecking(t *testing.T) {
	hs := health.NewServer()
	addr, _ := serve(t, hs)
	cc, err := rpc.Dial(addr, rpc.WithInsecure(), rpc.WithHealthCheck(""))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := cc.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState := func(want rpc.ConnectivityState) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for s := cc.State(); s != want; s = cc.State() {
			if !cc.WaitForStateChange(ctx, s) {
				t.Fatalf("state %v, want %v", s, want)
			}
		}
	}
	waitState(rpc.Ready)
	hs.SetServingStatus("", health.NotServing)
	waitState(rpc.TransientFailure)
	hs.SetServingStatus("", health.Serving)
	waitState(rpc.Ready)
}
