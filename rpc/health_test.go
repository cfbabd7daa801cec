package rpc

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/wire"
)

// healthServer serves grpc.health.v1.Health/Watch: each watcher gets the
// current status, then every change.
type healthServer struct {
	mu       sync.Mutex
	status   uint64
	changed  chan struct{}
	watchers atomic.Int32
}

func (h *healthServer) set(status uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.status = status
	close(h.changed)
	h.changed = make(chan struct{})
}

var healthDesc = ServiceDesc{
	ServiceName: "grpc.health.v1.Health",
	Streams: []StreamDesc{{StreamName: "Watch", ServerStreams: true, Handler: func(srv any, ss ServerStream) error {
		h := srv.(*healthServer)
		h.watchers.Add(1)
		var req []byte
		if err := ss.RecvMsg(&req); err != nil {
			return err
		}
		for {
			h.mu.Lock()
			st, ch := h.status, h.changed
			h.mu.Unlock()
			if err := ss.SendMsg(wire.AppendUint64Field(nil, 1, st)); err != nil {
				return err
			}
			select {
			case <-ch:
			case <-ss.Context().Done():
				return ss.Context().Err()
			}
		}
	}}},
}

// countingServer starts an echo server (with a health service if h is
// not nil) counting its calls.
func countingServer(t *testing.T, h *healthServer) (string, *atomic.Int64) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	srv := NewServer()
	srv.RegisterService(&echoDesc, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		calls.Add(1)
		return req, nil
	}})
	if h != nil {
		srv.RegisterService(&healthDesc, h)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return lis.Addr().String(), &calls
}

// With WithHealthCheck a backend whose server reports NOT_SERVING gets no
// call, and gets calls again once it reports SERVING; a server without the
// health service is taken as healthy.
func TestHealthCheckedBackends(t *testing.T) {
	sick := &healthServer{status: 2, changed: make(chan struct{})} // NOT_SERVING
	addrSick, callsSick := countingServer(t, sick)
	addrPlain, callsPlain := countingServer(t, nil) // no health service
	cc, err := Dial("static:///"+addrSick+","+addrPlain, WithInsecure(), WithBalancer(RoundRobin()), WithHealthCheck(""))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	call := func() {
		t.Helper()
		var reply []byte
		if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply, WaitForReady(true)); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		call()
	}
	if n := callsSick.Load(); n != 0 {
		t.Fatalf("the NOT_SERVING backend served %d calls", n)
	}
	if n := callsPlain.Load(); n != 100 {
		t.Fatalf("the backend without a health service served %d of 100 calls", n)
	}
	if sick.watchers.Load() != 1 {
		t.Fatalf("%d health watches on the NOT_SERVING backend, want 1", sick.watchers.Load())
	}

	sick.set(servingStatus)
	for callsSick.Load() == 0 { // the test's timeout bounds a failure
		call()
		time.Sleep(time.Millisecond)
	}
	sick.set(3) // SERVICE_UNKNOWN: not serving
	for {
		var ready int
		for _, b := range cc.Backends() {
			if b.State() == Ready {
				ready++
			}
		}
		if ready == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	before := callsSick.Load()
	for range 50 {
		call()
	}
	if n := callsSick.Load() - before; n != 0 {
		t.Fatalf("the backend served %d calls after it stopped serving", n)
	}
}

func TestHealthStatusParsing(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		want uint64
	}{
		{nil, 0},
		{wire.AppendUint64Field(nil, 1, 1), 1},
		{wire.AppendStringField(wire.AppendUint64Field(nil, 1, 2), 7, "x"), 2},
		{[]byte{0x08}, 0}, // truncated
		{[]byte{0xff, 0xff, 0xff}, 0},
	} {
		if got := healthStatus(tt.in); got != tt.want {
			t.Errorf("healthStatus(%x) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// A backend the resolver drops ends its health watch, so its connection
// drains instead of waiting for the watch forever; the server sees the
// watch end.
func TestHealthWatchEndsWithItsBackend(t *testing.T) {
	h := &healthServer{status: servingStatus, changed: make(chan struct{})}
	addr, _ := countingServer(t, h)
	other, _ := countingServer(t, nil)
	m := NewManualResolver(addr)
	cc, err := Dial("manual:///", WithInsecure(), WithResolver(m), WithHealthCheck(""))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := cc.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := firstConn(cc)
	m.Update(Address{Addr: other})
	<-c.Done() // drained: the test's timeout bounds a failure
}
