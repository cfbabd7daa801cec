package runner

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/h2rpc/h2rpc/bench/runner/hist"
	"github.com/h2rpc/h2rpc/rpc"
)

// BenchmarkBalancedUnary is client-side balancing under load: unary calls
// of 16 bytes, 256 in flight, spread round-robin over 4 backends on
// loopback, for h2rpc (RoundRobin over a static target) and grpc-go
// (round_robin over a manual resolver) in the same run, each client over
// servers of its own kind. h2rpc/backends=1 is the single-connection
// baseline the balanced allocations compare with. ns/op and allocs/op
// count client and servers together (one process); calls/s and p99 are
// the client's.
//
//	go test -run '^$' -bench BalancedUnary -benchmem -count 5 ./runner
func BenchmarkBalancedUnary(b *testing.B) {
	for _, bc := range []struct {
		name     string
		sys      System
		backends int
	}{
		{"h2rpc/backends=1", h2rpcSystem{}, 1},
		{"h2rpc/backends=4", h2rpcSystem{}, 4},
		{"grpc/backends=4", grpcSystem{}, 4},
	} {
		b.Run(bc.name+"/c=256", func(b *testing.B) { benchBalanced(b, bc.sys, bc.backends, 256) })
	}
}

// balancedClient makes one unary call.
type balancedClient interface {
	call(ctx context.Context, req []byte, resp *[]byte) error
	close()
}

type h2rpcBalanced struct{ cc *rpc.ClientConn }

func (c h2rpcBalanced) call(ctx context.Context, req []byte, resp *[]byte) error {
	return c.cc.Invoke(ctx, "/bench.Bench/Unary", req, resp)
}
func (c h2rpcBalanced) close() { c.cc.Close() }

type grpcBalanced struct{ cc *grpc.ClientConn }

func (c grpcBalanced) call(ctx context.Context, req []byte, resp *[]byte) error {
	return c.cc.Invoke(ctx, "/bench.Bench/Unary", req, resp)
}
func (c grpcBalanced) close() { c.cc.Close() }

// dialBalanced returns a round-robin client of sys's kind over addrs.
func dialBalanced(sys System, addrs []string) (balancedClient, error) {
	if _, ok := sys.(grpcSystem); ok {
		r := manual.NewBuilderWithScheme("bench")
		var ras []resolver.Address
		for _, a := range addrs {
			ras = append(ras, resolver.Address{Addr: a})
		}
		r.InitialState(resolver.State{Addresses: ras})
		cc, err := grpc.NewClient("bench:///backends",
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithResolvers(r),
			grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"round_robin":{}}]}`),
			grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
		if err != nil {
			return nil, err
		}
		return grpcBalanced{cc}, nil
	}
	cc, err := rpc.Dial("static:///"+strings.Join(addrs, ","), rpc.WithInsecure(), rpc.WithBalancer(rpc.RoundRobin()))
	if err != nil {
		return nil, err
	}
	return h2rpcBalanced{cc}, nil
}

func benchBalanced(b *testing.B, sys System, backends, conc int) {
	var addrs []string
	for range backends {
		srv, err := sys.Start()
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Close()
		addrs = append(addrs, srv.Addr())
	}
	c, err := dialBalanced(sys, addrs)
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	ctx := context.Background()
	req := make([]byte, 16)
	// Warm up until every backend is connected: both clients pick only
	// among ready backends, and 64 calls per backend are more than enough
	// rounds for the last to come up.
	for range 64 * backends {
		var resp []byte
		if err := c.call(ctx, req, &resp); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	b.ReportAllocs()
	hs := make([]hist.Histogram, conc)
	errs := make([]error, conc)
	var next atomic.Int64
	var wg sync.WaitGroup
	runtime.GC()
	b.ResetTimer()
	start := time.Now()
	for i := range conc {
		h, errp := &hs[i], &errs[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var resp []byte
			for next.Add(1) <= int64(b.N) {
				t := nanotime()
				if err := c.call(ctx, req, &resp); err != nil {
					*errp = err
					return
				}
				h.Record(nanotime() - t)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	var all hist.Histogram
	for i := range hs {
		all.Merge(&hs[i])
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(all.Quantile(0.99)), "p99-ns")
}
