package health_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/health"
	"github.com/h2rpc/h2rpc/internal/leakcheck"
	"github.com/h2rpc/h2rpc/rpc"
	"github.com/h2rpc/h2rpc/wire"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// dial serves hs on loopback and returns a client of it; both stop when
// the test ends.
func dial(t *testing.T, hs *health.Server) *rpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := rpc.NewServer()
	health.Register(s, hs)
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	cc, err := rpc.Dial(lis.Addr().String(), rpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return cc
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// status decodes a HealthCheckResponse.
func status(t *testing.T, b []byte) health.Status {
	t.Helper()
	var st health.Status
	if err := wire.Range(b, func(f wire.Field) error {
		if f.Is(1, wire.TypeVarint) {
			st = health.Status(f.Int32())
		}
		return nil
	}); err != nil {
		t.Fatalf("HealthCheckResponse %x: %v", b, err)
	}
	return st
}

func check(t *testing.T, cc *rpc.ClientConn, service string) (health.Status, error) {
	t.Helper()
	var resp []byte
	err := cc.Invoke(ctx(t), "/grpc.health.v1.Health/Check", wire.AppendStringField(nil, 1, service), &resp)
	if err != nil {
		return 0, err
	}
	return status(t, resp), nil
}

func TestCheck(t *testing.T) {
	hs := health.NewServer()
	cc := dial(t, hs)
	if st, err := check(t, cc, ""); err != nil || st != health.Serving {
		t.Errorf(`Check("") = %v, %v; want SERVING`, st, err)
	}
	if _, err := check(t, cc, "pkg.Missing"); rpc.CodeOf(err) != rpc.NotFound {
		t.Errorf("Check of an unknown service = %v, want NOT_FOUND", err)
	}
	hs.SetServingStatus("pkg.Svc", health.NotServing)
	if st, err := check(t, cc, "pkg.Svc"); err != nil || st != health.NotServing {
		t.Errorf("Check(pkg.Svc) = %v, %v; want NOT_SERVING", st, err)
	}
	hs.Shutdown()
	hs.SetServingStatus("pkg.Svc", health.Serving) // ignored until Resume
	for _, svc := range []string{"", "pkg.Svc"} {
		if st, err := check(t, cc, svc); err != nil || st != health.NotServing {
			t.Errorf("after Shutdown, Check(%q) = %v, %v; want NOT_SERVING", svc, st, err)
		}
	}
	hs.Resume()
	if st, err := check(t, cc, "pkg.Svc"); err != nil || st != health.Serving {
		t.Errorf("after Resume, Check(pkg.Svc) = %v, %v; want SERVING", st, err)
	}
}

func TestList(t *testing.T) {
	hs := health.NewServer()
	hs.SetServingStatus("b.Svc", health.NotServing)
	hs.SetServingStatus("a.Svc", health.Serving)
	cc := dial(t, hs)
	var resp []byte
	if err := cc.Invoke(ctx(t), "/grpc.health.v1.Health/List", []byte{}, &resp); err != nil {
		t.Fatal(err)
	}
	got := map[string]health.Status{}
	err := wire.Range(resp, func(f wire.Field) error {
		var name string
		var st health.Status
		err := wire.Range(f.Bytes, func(e wire.Field) error {
			switch {
			case e.Is(1, wire.TypeLen):
				name = string(e.Bytes)
			case e.Is(2, wire.TypeLen):
				st = status(t, e.Bytes)
			}
			return nil
		})
		got[name] = st
		return err
	})
	want := map[string]health.Status{"": health.Serving, "a.Svc": health.Serving, "b.Svc": health.NotServing}
	if err != nil || len(got) != len(want) {
		t.Fatalf("List = %v, %v; want %v", got, err, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("List[%q] = %v, want %v", k, got[k], v)
		}
	}
}

// Watch sends the current status, every change, and NOT_SERVING then
// UNAVAILABLE on Shutdown.
func TestWatch(t *testing.T) {
	hs := health.NewServer()
	cc := dial(t, hs)
	stream, err := cc.NewStream(ctx(t), &rpc.StreamDesc{ServerStreams: true}, "/grpc.health.v1.Health/Watch")
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.SendMsg(wire.AppendStringField(nil, 1, "pkg.Svc")); err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	recv := func() (health.Status, error) {
		var b []byte
		if err := stream.RecvMsg(&b); err != nil {
			return 0, err
		}
		return status(t, b), nil
	}
	if st, err := recv(); err != nil || st != health.ServiceUnknown {
		t.Fatalf("first Watch status = %v, %v; want SERVICE_UNKNOWN", st, err)
	}
	hs.SetServingStatus("pkg.Svc", health.Serving)
	if st, err := recv(); err != nil || st != health.Serving {
		t.Fatalf("Watch status = %v, %v; want SERVING", st, err)
	}
	hs.Shutdown()
	if st, err := recv(); err != nil || st != health.NotServing {
		t.Fatalf("Watch status after Shutdown = %v, %v; want NOT_SERVING", st, err)
	}
	if _, err := recv(); rpc.CodeOf(err) != rpc.Unavailable {
		t.Fatalf("Watch after Shutdown ends with %v, want UNAVAILABLE", err)
	}
}

// A malformed request is INVALID_ARGUMENT, not a crash.
func TestMalformedRequest(t *testing.T) {
	cc := dial(t, health.NewServer())
	var resp []byte
	for _, method := range []string{"Check", "List"} {
		err := cc.Invoke(ctx(t), "/grpc.health.v1.Health/"+method, []byte{0x0a, 0x05, 'a'}, &resp)
		if rpc.CodeOf(err) != rpc.InvalidArgument {
			t.Errorf("%s with a truncated field = %v, want INVALID_ARGUMENT", method, err)
		}
	}
}
