package interop

// Client-side balancing across implementations: an h2rpc client spreading
// calls over grpc-go servers, and grpc-go's round_robin client over h2rpc
// servers (the cluster harness's backends).

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/h2rpc/h2rpc/internal/cluster"
	"github.com/h2rpc/h2rpc/rpc"
)

// grpcGoBackend is a grpc-go server answering cluster.Method, counting
// its calls.
type grpcGoBackend struct {
	srv   *grpc.Server
	addr  string
	calls atomic.Int64
}

func startGRPCGoBackend(t *testing.T) *grpcGoBackend {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &grpcGoBackend{srv: grpc.NewServer(grpc.ForceServerCodec(rawCodec{})), addr: lis.Addr().String()}
	b.srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "cluster.Backend",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Call", Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var req []byte
			if err := dec(&req); err != nil {
				return nil, err
			}
			srv.(*grpcGoBackend).calls.Add(1)
			return req, nil
		}}},
	}, b)
	served := make(chan struct{})
	go func() {
		defer close(served)
		b.srv.Serve(lis)
	}()
	t.Cleanup(func() {
		b.srv.Stop()
		<-served
	})
	return b
}

// manyCalls makes total calls from conc goroutines with call and returns
// the errors.
func manyCalls(total, conc int, call func() error) []error {
	var (
		next atomic.Int64
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(total) {
				if err := call(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return errs
}

// An h2rpc client with round_robin spreads 3,000 calls evenly over three
// grpc-go servers (a third each, ± 3%), and with least_request keeps
// going, without a failed wait-for-ready call, when one of them stops.
func TestH2RPCClientBalancesOverGRPCGo(t *testing.T) {
	checkNoLeaks(t)
	var backends []*grpcGoBackend
	var addrs []string
	for range 3 {
		b := startGRPCGoBackend(t)
		backends = append(backends, b)
		addrs = append(addrs, b.addr)
	}
	cc, err := rpc.Dial("static:///"+strings.Join(addrs, ","), rpc.WithInsecure(), rpc.WithBalancer(rpc.RoundRobin()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	waitBackendsReady(t, cc, 3)
	call := func() error {
		var reply []byte
		return cc.Invoke(context.Background(), cluster.Method, []byte("x"), &reply, rpc.WaitForReady(true))
	}
	if errs := manyCalls(3000, 8, call); len(errs) > 0 {
		t.Fatalf("%d calls failed, first: %v", len(errs), errs[0])
	}
	for i, b := range backends {
		if n := b.calls.Load(); n < 900 || n > 1100 {
			t.Errorf("grpc-go server %d served %d of 3,000 calls, want 1,000 ± 100", i, n)
		}
	}

	lr, err := rpc.Dial("static:///"+strings.Join(addrs, ","), rpc.WithInsecure(), rpc.WithBalancer(rpc.LeastRequest(false)),
		rpc.WithBackoff(rpc.BackoffConfig{BaseDelay: 10 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer lr.Close()
	waitBackendsReady(t, lr, 3)
	var stopped atomic.Bool
	errs := manyCalls(3000, 8, func() error {
		var reply []byte
		err := lr.Invoke(context.Background(), cluster.Method, []byte("x"), &reply, rpc.WaitForReady(true))
		if !stopped.Load() && backends[0].calls.Load() > 1200 {
			stopped.Store(true)
			backends[0].srv.GracefulStop()
		}
		return err
	})
	if len(errs) > 0 {
		t.Fatalf("%d calls failed around a graceful stop, first: %v", len(errs), errs[0])
	}
}

// waitBackendsReady waits until n backends of cc are READY.
func waitBackendsReady(t *testing.T, cc *rpc.ClientConn, n int) {
	t.Helper()
	if err := cc.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	for {
		ready := 0
		for _, b := range cc.Backends() {
			if b.State() == rpc.Ready {
				ready++
			}
		}
		if ready >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// grpc-go's round_robin client spreads 3,000 calls evenly over three h2rpc
// servers.
func TestGRPCGoRoundRobinOverH2RPC(t *testing.T) {
	checkNoLeaks(t)
	c, err := cluster.New(3, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := manual.NewBuilderWithScheme("h2rpc-cluster")
	var addrs []resolver.Address
	for _, a := range c.Addrs() {
		addrs = append(addrs, resolver.Address{Addr: a})
	}
	r.InitialState(resolver.State{Addresses: addrs})
	cc, err := grpc.NewClient(r.Scheme()+":///cluster",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(r),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"round_robin":{}}]}`),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	// Let every subchannel connect before counting: round_robin picks
	// only among READY ones, so call until each backend has served one.
	for served := 0; served < 3; {
		var reply []byte
		if err := cc.Invoke(context.Background(), cluster.Method, []byte("x"), &reply, grpc.WaitForReady(true)); err != nil {
			t.Fatal(err)
		}
		served = 0
		for _, b := range c.Backends() {
			if b.Calls() > 0 {
				served++
			}
		}
		time.Sleep(time.Millisecond)
	}
	for _, b := range c.Backends() {
		b.ResetCalls()
	}
	errs := manyCalls(3000, 8, func() error {
		var reply []byte
		return cc.Invoke(context.Background(), cluster.Method, []byte("x"), &reply)
	})
	if len(errs) > 0 {
		t.Fatalf("%d calls failed, first: %v", len(errs), errs[0])
	}
	for i, b := range c.Backends() {
		if n := b.Calls(); n < 900 || n > 1100 {
			t.Errorf("h2rpc server %d served %d of 3,000 calls, want 1,000 ± 100\n%v", i, n, c)
		}
	}
}
