package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/internal/cluster"
	"github.com/h2rpc/h2rpc/rpc"
)

func newCluster(t *testing.T, n int) *cluster.Cluster {
	t.Helper()
	c, err := cluster.New(n, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func dial(t *testing.T, target string, opts ...rpc.DialOption) *rpc.ClientConn {
	t.Helper()
	cc, err := rpc.Dial(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// waitReady waits until n backends of cc are READY.
func waitReady(t *testing.T, cc *rpc.ClientConn, n int) {
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
		time.Sleep(time.Millisecond) // the test's timeout bounds a failure
	}
}

// load makes calls from conc goroutines until total were made, and returns
// their latencies, sorted, and the errors.
func load(cc *rpc.ClientConn, total, conc int, opts ...rpc.CallOption) ([]time.Duration, []error) {
	var (
		next atomic.Int64
		mu   sync.Mutex
		lat  []time.Duration
		errs []error
		wg   sync.WaitGroup
	)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var myErrs []error
			for next.Add(1) <= int64(total) {
				start := time.Now()
				var reply []byte
				err := cc.Invoke(context.Background(), cluster.Method, []byte("x"), &reply, opts...)
				mine = append(mine, time.Since(start))
				if err != nil {
					myErrs = append(myErrs, err)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs = append(errs, myErrs...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	return lat, errs
}

func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	return lat[min(len(lat)-1, int(float64(len(lat))*p))]
}

// round_robin over 5 backends: each serves 20% ± 2% of 10,000 calls.
func TestRoundRobinSpread(t *testing.T) {
	c := newCluster(t, 5)
	cc := dial(t, c.Target(), rpc.WithBalancer(rpc.RoundRobin()))
	waitReady(t, cc, 5)
	_, errs := load(cc, 10000, 16)
	if len(errs) > 0 {
		t.Fatalf("%d calls failed, first: %v", len(errs), errs[0])
	}
	for i, share := range c.Spread() {
		if share < 0.18 || share > 0.22 {
			t.Errorf("backend %d served %.1f%% of the calls, want 20%% ± 2%%\n%v", i, 100*share, c)
		}
	}
}

// pick_first sends every call to one backend: the first that connects.
func TestPickFirstPinsOneBackend(t *testing.T) {
	c := newCluster(t, 3)
	cc := dial(t, c.Target())
	_, errs := load(cc, 300, 4)
	if len(errs) > 0 {
		t.Fatalf("%d calls failed, first: %v", len(errs), errs[0])
	}
	if got := c.Backends()[0].Calls(); got != 300 {
		t.Fatalf("the first backend served %d of 300 calls\n%v", got, c)
	}
}

// least_request with one backend 10× slower than the other four: the slow
// one gets under 5% of the calls, and the p99 latency is at least 3× better
// than round_robin's on the same cluster. The backends report their load
// in trailers (ORCA), the slow one 10× the others': it is slow because it is
// busy. (Unweighted, the power of two choices balances outstanding calls,
// which leaves the slow backend about 1/41 of them: too many for a p99.)
func TestLeastRequestAvoidsSlowBackend(t *testing.T) {
	const (
		fast  = 30 * time.Millisecond // well above a loaded machine's scheduling noise
		calls = 1000
		conc  = 20
	)
	c := newCluster(t, 5)
	for _, b := range c.Backends() {
		b.SetDelay(fast)
		b.SetLoad(0.08)
	}
	slow := c.Backends()[4]
	slow.SetDelay(10 * fast)
	slow.SetLoad(0.8)

	measure := func(b rpc.Balancer) (p99 time.Duration, slowShare float64) {
		for _, b := range c.Backends() {
			b.ResetCalls()
		}
		cc := dial(t, c.Target(), rpc.WithBalancer(b))
		waitReady(t, cc, 5)
		lat, errs := load(cc, calls, conc)
		cc.Close()
		if len(errs) > 0 {
			t.Fatalf("%s: %d calls failed, first: %v", b.Name(), len(errs), errs[0])
		}
		return percentile(lat, 0.99), c.Spread()[4]
	}
	rrP99, rrShare := measure(rpc.RoundRobin())
	plainP99, plainShare := measure(rpc.LeastRequest(false))
	lrP99, lrShare := measure(rpc.LeastRequest(true))
	t.Logf("round_robin: p99 %v, slow backend %.1f%%; least_request: p99 %v, slow backend %.1f%%; weighted: p99 %v, slow backend %.1f%%",
		rrP99, 100*rrShare, plainP99, 100*plainShare, lrP99, 100*lrShare)
	if lrShare >= 0.05 {
		t.Errorf("least_request sent %.1f%% of the calls to the slow backend, want under 5%%", 100*lrShare)
	}
	if 3*lrP99 > rrP99 {
		t.Errorf("least_request p99 %v is not 3× better than round_robin's %v", lrP99, rrP99)
	}
}

var _ = fmt.Sprint
