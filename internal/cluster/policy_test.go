package cluster_test

import (
	"context"
	"flag"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/internal/cluster"
	"github.com/h2rpc/h2rpc/rpc"
)

var stormFor = flag.Duration("storm", time.Second, "how long one backend fails in TestRetryStorm (10s is the full simulation)")

// A retry storm: one of 3 backends fails every call for -storm under a
// steady load, with a 3-attempt retry policy. Without a budget each call
// the failing backend takes is retried on the healthy ones, which then
// serve half again as many calls as they would; with the token budget
// (retryThrottling) retries stop once a few failed, and the healthy
// backends see under 10% more than their share.
func TestRetryStorm(t *testing.T) {
	const policy = `"methodConfig": [{"name": [{"service": "cluster.Backend"}],
	  "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.005s", "maxBackoff": "0.02s",
	    "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]`
	c := newCluster(t, 3)
	failing := c.Backends()[0]
	// run returns the calls made and the share of them the healthy
	// backends' handlers saw, while failing fails.
	run := func(config string) (calls int64, healthyPerCall float64) {
		opts := []rpc.DialOption{rpc.WithBalancer(rpc.RoundRobin())}
		if config != "" {
			opts = append(opts, rpc.WithServiceConfig(config))
		}
		cc := dial(t, c.Target(), opts...)
		waitReady(t, cc, 3)
		for _, b := range c.Backends() {
			b.ResetCalls()
		}
		failing.SetFailing(true)
		defer failing.SetFailing(false)
		end := time.Now().Add(*stormFor)
		var n atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(end) {
					n.Add(1)
					var reply []byte
					cc.Invoke(context.Background(), cluster.Method, []byte("x"), &reply)
				}
			}()
		}
		wg.Wait()
		cc.Close()
		healthy := c.Backends()[1].Started() + c.Backends()[2].Started()
		return n.Load(), float64(healthy) / float64(n.Load())
	}
	baseCalls, base := run("")
	stormCalls, storm := run("{" + policy + "}")
	budgetCalls, budget := run(`{"retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}, ` + policy + "}")
	extra := func(share float64) float64 { return 100 * (share/base - 1) }
	t.Logf("healthy backends' load per call: %.3f without retries (%d calls); retries without a budget: %.3f (+%.1f%%, %d calls); with the budget: %.3f (+%.1f%%, %d calls)",
		base, baseCalls, storm, extra(storm), stormCalls, budget, extra(budget), budgetCalls)
	if extra(budget) >= 10 {
		t.Errorf("with the budget the healthy backends took %.1f%% more than their share, want under 10%%", extra(budget))
	}
	if extra(storm) < 20 {
		t.Errorf("without the budget retries added only %.1f%%: the storm did not happen, the test measures nothing", extra(storm))
	}
}

// Hedging around one slow backend (1s) out of 3: each call is sent again,
// to another backend, after 50ms without an answer; the first response
// wins and the slow backend's handler sees the loser cancelled.
func TestHedgingSlowBackend(t *testing.T) {
	const calls = 300
	c := newCluster(t, 3)
	slow := c.Backends()[0]
	slow.SetDelay(time.Second)
	cc := dial(t, c.Target(), rpc.WithBalancer(rpc.RoundRobin()), rpc.WithServiceConfig(`{"methodConfig": [
	  {"name": [{"service": "cluster.Backend"}],
	   "hedgingPolicy": {"maxAttempts": 3, "hedgingDelay": "0.05s", "nonFatalStatusCodes": ["UNAVAILABLE"]}}]}`))
	waitReady(t, cc, 3)
	// A round whose p99 a stall of the shared machine pushed over the
	// bound is measured once more: without hedging the p99 is the slow
	// backend's second every time, so a second round cannot hide that.
	var p99 time.Duration
	for round := 1; round <= 2; round++ {
		for _, b := range c.Backends() {
			b.ResetCalls()
		}
		lat, errs := load(cc, calls, 4)
		if len(errs) > 0 {
			t.Fatalf("%d calls failed, first: %v", len(errs), errs[0])
		}
		var attempts int64
		for _, b := range c.Backends() {
			attempts += b.Started()
		}
		p99 = percentile(lat, 0.99)
		t.Logf("round %d, %d calls: p50 %v, p99 %v; %d extra attempts (%.0f%%), %d to the slow backend",
			round, calls, percentile(lat, 0.5), p99, attempts-calls, 100*float64(attempts-calls)/calls, slow.Started())
		// Every call the slow backend started lost: its handler sees
		// the context end (the reset may still be on its way).
		deadline := time.Now().Add(10 * time.Second)
		for slow.Cancelled() < slow.Started() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if slow.Cancelled() != slow.Started() || slow.Started() == 0 {
			t.Errorf("the slow backend started %d calls, saw %d cancelled", slow.Started(), slow.Cancelled())
		}
		if p99 < 150*time.Millisecond {
			break
		}
	}
	if p99 >= 150*time.Millisecond {
		t.Errorf("p99 %v, want under 150ms", p99)
	}
}
