package rpc

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// listResolver reports its addresses and hands its Resolution to the test.
type listResolver struct {
	addrs []Address
	res   chan *Resolution
}

func (r listResolver) Watch(ctx context.Context, _ Target, res *Resolution) {
	res.Update(r.addrs)
	r.res <- res
	<-ctx.Done()
}

// A service config from the resolver switches the balancer after Dial:
// pick_first to round_robin spreads the calls over every backend, and
// back to pick_first keeps one; streams open on the backends dropped
// finish normally, and no call fails during either switch.
func TestBalancerSwitchFromResolverConfig(t *testing.T) {
	const n = 3
	var counts [n]atomic.Int64
	r := listResolver{res: make(chan *Resolution, 1)}
	for i := range n {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv, served := startServer(t, lis, &echoServer{
			unary: func(ctx context.Context, req []byte) ([]byte, error) {
				counts[i].Add(1)
				return req, nil
			},
			stream: func(ss ServerStream) error {
				counts[i].Add(1)
				for {
					var m []byte
					if err := ss.RecvMsg(&m); err != nil {
						return nil
					}
					if err := ss.SendMsg(m); err != nil {
						return err
					}
				}
			},
		})
		t.Cleanup(func() {
			srv.Stop()
			<-served
		})
		r.addrs = append(r.addrs, Address{Addr: lis.Addr().String()})
	}
	cc, err := Dial("switch", WithInsecure(), WithResolver(r))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	snapshot := func() (s [n]int64) {
		for i := range n {
			s[i] = counts[i].Load()
		}
		return s
	}
	// grew reports how many backends got calls between a and b.
	grew := func(a, b [n]int64) int {
		k := 0
		for i := range n {
			if b[i] > a[i] {
				k++
			}
		}
		return k
	}
	calls := func(k int) {
		t.Helper()
		for range k {
			var reply []byte
			if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := snapshot()
	calls(30)
	if k := grew(before, snapshot()); k != 1 {
		t.Fatalf("pick_first (the default) sent calls to %d backends", k)
	}
	res := <-r.res

	// A steady load through both switches; every call must succeed.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	const loaders = 4
	var made [loaders]atomic.Int64 // calls each load goroutine finished
	for g := range loaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var reply []byte
				if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				made[g].Add(1)
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
		if f := failed.Load(); f > 0 {
			t.Errorf("%d calls failed during the switches, the first with %v", f, firstErr.Load())
		}
	}()

	if err := res.UpdateServiceConfig(`{"loadBalancingConfig": [{"round_robin": {}}]}`); err != nil {
		t.Fatal(err)
	}
	// round_robin connects every backend and spreads the calls.
	deadline := time.Now().Add(10 * time.Second)
	for {
		before := snapshot()
		calls(3 * n)
		if grew(before, snapshot()) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("round_robin never reached all %d backends", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// One stream per backend, open across the next switch.
	var streams []ClientStream
	for range n {
		s, err := cc.NewStream(context.Background(), bidiDesc, "/test.Echo/Bidi")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SendMsg([]byte("a")); err != nil {
			t.Fatal(err)
		}
		var m []byte
		if err := s.RecvMsg(&m); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}

	if err := res.UpdateServiceConfig(`{"loadBalancingConfig": [{"pick_first": {}}]}`); err != nil {
		t.Fatal(err)
	}
	// The streams opened on the backends pick_first dropped go on, on
	// their draining connections, to their end.
	for _, s := range streams {
		if err := s.SendMsg([]byte("b")); err != nil {
			t.Fatalf("SendMsg on a stream open across the switch: %v", err)
		}
		var m []byte
		if err := s.RecvMsg(&m); err != nil || string(m) != "b" {
			t.Fatalf("RecvMsg on a stream open across the switch: %q, %v", m, err)
		}
		s.CloseSend()
		if err := s.RecvMsg(&m); err != io.EOF {
			t.Fatalf("a stream open across the switch ended with %v", err)
		}
	}
	connected := 0
	for _, b := range cc.Backends() {
		if b.Conns() > 0 {
			connected++
		}
	}
	if connected != 1 {
		t.Errorf("%d backends keep connections under pick_first, want 1", connected)
	}
	// The load goroutines' calls picked before the switch may still be
	// under way: once each goroutine has made one call more, one backend
	// takes them all.
	var mark [loaders]int64
	for g := range loaders {
		mark[g] = made[g].Load()
	}
	for g := range loaders {
		for made[g].Load() <= mark[g] {
			time.Sleep(time.Millisecond)
		}
	}
	before = snapshot()
	calls(30)
	if k := grew(before, snapshot()); k != 1 {
		t.Errorf("after the switch back to pick_first, %d backends got calls", k)
	}
}

// WithBalancer's balancer stays whatever the resolver's config names.
func TestBalancerOptionOverridesResolverConfig(t *testing.T) {
	r := listResolver{addrs: []Address{{Addr: "127.0.0.1:1"}}, res: make(chan *Resolution, 1)}
	cc, err := Dial("x", WithInsecure(), WithResolver(r), WithBalancer(RoundRobin()), WithBackoff(BackoffConfig{BaseDelay: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cc.Connect(context.Background()) // starts the resolver; nothing listens
	res := <-r.res
	if err := res.UpdateServiceConfig(`{"loadBalancingConfig": [{"pick_first": {}}]}`); err != nil {
		t.Fatal(err)
	}
	cc.mu.Lock()
	name := cc.balancer.Name()
	cc.mu.Unlock()
	if name != "round_robin" {
		t.Errorf("balancer %s, want WithBalancer's round_robin", name)
	}
}
