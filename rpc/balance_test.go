package rpc

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// listenEcho starts an echo server on loopback and returns its address.
func listenEcho(t *testing.T) (string, *Server) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, served := startServer(t, lis, &echoServer{unary: echoBack})
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return lis.Addr().String(), srv
}

// A ClientConn's state goes IDLE → CONNECTING → READY on the first call,
// and SHUTDOWN on Close; WaitForStateChange sees each change.
func TestClientConnStates(t *testing.T) {
	addr, _ := listenEcho(t)
	cc, err := Dial(addr, WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	if s := cc.State(); s != Idle {
		t.Fatalf("state %v before the first call, want IDLE", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	if cc.WaitForStateChange(ctx, Idle) {
		t.Fatal("WaitForStateChange reported a change with nothing happening")
	}
	cancel()
	if err := cc.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := cc.State(); s != Ready {
		t.Fatalf("state %v after Connect, want READY", s)
	}
	changed := make(chan bool)
	go func() { changed <- cc.WaitForStateChange(context.Background(), Ready) }()
	cc.Close()
	if !<-changed {
		t.Fatal("WaitForStateChange missed Close")
	}
	if s := cc.State(); s != Shutdown {
		t.Fatalf("state %v after Close, want SHUTDOWN", s)
	}
}

// With no backend reachable the ClientConn goes to TRANSIENT_FAILURE: calls
// without wait-for-ready fail at once with UNAVAILABLE, wait-for-ready ones
// wait, and go through once a backend comes up.
func TestTransientFailureAndWaitForReady(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	cc, err := Dial(addr, WithInsecure(), WithBackoff(BackoffConfig{BaseDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var reply []byte
	wantCode(t, cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply), Unavailable)
	if s := cc.State(); s != TransientFailure {
		t.Fatalf("state %v, want TRANSIENT_FAILURE", s)
	}
	errc := make(chan error, 1)
	go func() {
		var reply []byte
		errc <- cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply, WaitForReady(true))
	}()
	// The wait-for-ready call waits until a server listens.
	lis2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	srv, served := startServer(t, lis2, &echoServer{unary: echoBack})
	defer func() {
		srv.Stop()
		<-served
	}()
	if err := <-errc; err != nil {
		t.Fatalf("the wait-for-ready call failed: %v", err)
	}
	if s := cc.State(); s != Ready {
		t.Fatalf("state %v, want READY", s)
	}
}

// pick_first tries the addresses in order: a dead first one costs a failed
// dial, then every call goes to the second.
func TestPickFirstSkipsDeadAddress(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := lis.Addr().String()
	lis.Close()
	live, _ := listenEcho(t)
	cc, err := Dial("static:///"+dead+","+live, WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for range 5 {
		var reply []byte
		if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply, WaitForReady(true)); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range cc.Backends() {
		if b.Address().Addr == dead && b.State() == Ready {
			t.Error("the dead address is READY")
		}
		if b.Address().Addr == live && b.State() != Ready {
			t.Errorf("the live address is %v", b.State())
		}
	}
}

// A ManualResolver's updates reach the ClientConn: backends are added and
// removed, and calls follow.
func TestManualResolverUpdates(t *testing.T) {
	a, srvA := listenEcho(t)
	b, _ := listenEcho(t)
	m := NewManualResolver(a)
	cc, err := Dial("manual:///", WithInsecure(), WithResolver(m), WithBalancer(RoundRobin()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := cc.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.Update(Address{Addr: b})
	if got := cc.Backends(); len(got) != 1 || got[0].Address().Addr != b {
		t.Fatalf("backends after the update: %v", got)
	}
	// The old backend is gone: stopping its server fails no call.
	srvA.Stop()
	for range 10 {
		var reply []byte
		if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply, WaitForReady(true)); err != nil {
			t.Fatal(err)
		}
	}
}

// The DNS resolver looks again when asked, but no more often than
// MinInterval, and reports what it finds.
func TestDNSResolverRefresh(t *testing.T) {
	var mu sync.Mutex
	var lookups []time.Time
	answers := [][]string{{"127.0.0.1"}, {"127.0.0.2"}}
	d := &DNSResolver{MinInterval: 50 * time.Millisecond, Interval: time.Hour, Lookup: func(ctx context.Context, host string) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		if host != "backends.example" {
			return nil, errors.New("unknown host")
		}
		lookups = append(lookups, time.Now())
		return answers[min(len(lookups)-1, 1)], nil
	}}
	updates := make(chan []Address, 10)
	r := &Resolution{update: func(a []Address) { updates <- a }, fail: func(err error) { t.Error(err) }, refresh: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		d.Watch(ctx, Target{Scheme: "dns", Endpoint: "backends.example:50051"}, r)
	}()
	if got := <-updates; len(got) != 1 || got[0].Addr != "127.0.0.1:50051" {
		t.Fatalf("first resolution %v", got)
	}
	r.requestRefresh()
	if got := <-updates; len(got) != 1 || got[0].Addr != "127.0.0.2:50051" {
		t.Fatalf("second resolution %v", got)
	}
	cancel()
	<-watchDone
	if gap := lookups[1].Sub(lookups[0]); gap < d.MinInterval {
		t.Errorf("lookups %v apart, want at least MinInterval %v", gap, d.MinInterval)
	}
}

// A scheme registered by the application resolves its targets.
func TestRegisteredScheme(t *testing.T) {
	addr, _ := listenEcho(t)
	RegisterResolver("test-registry", StaticResolver(addr))
	cc, err := Dial("test-registry:///my-service", WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var reply []byte
	if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply); err != nil {
		t.Fatal(err)
	}
	if cc.authority != "my-service" {
		t.Errorf(":authority %q, want the endpoint", cc.authority)
	}
	// A host named like a scheme, with a port, is a host.
	hostCC, err := Dial("test-registry:8080", WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer hostCC.Close()
	if hostCC.rtarget.Scheme != "dns" || hostCC.rtarget.Endpoint != "test-registry:8080" {
		t.Errorf("test-registry:8080 resolves as %+v, want the DNS name", hostCC.rtarget)
	}
}

// The schemes parseTarget reads are fixed: registering one does not take
// its targets over.
func TestFixedSchemesStayFixed(t *testing.T) {
	addr, _ := listenEcho(t)
	RegisterResolver("passthrough", StaticResolver("127.0.0.1:1")) // nothing listens there
	defer func() {
		resolversMu.Lock()
		delete(resolvers, "passthrough")
		resolversMu.Unlock()
	}()
	cc, err := Dial("passthrough:///"+addr, WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var reply []byte
	if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply); err != nil {
		t.Fatal(err)
	}
}

// A resolver update that lists a backend again, with new attributes, while
// that backend is being dialled: the dial uses the address it started
// with, read under the ClientConn's lock (go test -race caught the dial
// reading it unlocked while an update rewrote it), and the ClientConn ends
// with the last list. Whether the updates meet the dial's goroutine
// depends on the scheduling: each round gives them a chance.
func TestUpdateDuringDial(t *testing.T) {
	addr, _ := listenEcho(t)
	for range 10 {
		updateDuringDial(t, addr)
	}
}

func updateDuringDial(t *testing.T, addr string) {
	release := make(chan struct{})
	dialer := func(ctx context.Context, a string) (net.Conn, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", a)
	}
	m := NewManualResolver(addr)
	cc, err := Dial("manual:///", WithInsecure(), WithResolver(m), WithDialer(dialer), WithBalancer(RoundRobin()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	connected := make(chan error, 1)
	go func() { connected <- cc.Connect(ctx) }()
	if !cc.WaitForStateChange(ctx, Idle) {
		t.Fatal("the ClientConn stayed idle")
	}
	for i := range 20 {
		m.Update(Address{Addr: addr, Attributes: map[string]string{"round": strconv.Itoa(i)}})
	}
	close(release)
	if err := <-connected; err != nil {
		t.Fatal(err)
	}
	var reply []byte
	if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply); err != nil {
		t.Fatal(err)
	}
	if got := cc.Backends(); len(got) != 1 || got[0].Address().Attributes["round"] != "19" {
		t.Fatalf("backends after the updates: %v", got)
	}
}
