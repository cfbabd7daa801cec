package runner

import (
	"context"
	"errors"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/bench/runner/hist"
)

// BenchmarkRPC runs the runner's default matrix as go test benchmarks,
// named BenchmarkRPC/SCENARIO/SYSTEM/PARAMS so that benchstat can compare
// commits:
//
//	go test -run '^$' -bench 'RPC/unary/.*/size=16/' -benchmem -count 10 ./runner > new.txt
//	benchstat old.txt new.txt
//
// ns/op is per call, message or round trip (client and server together, in
// this process); allocs/op counts both sides. Unary cells also report p50
// and p99 latency, streams MB/s, and conns the heap per idle client
// connection (heap-B/conn) and per server connection (srv-heap-B/conn):
// there the server runs in a child process, and ns/op and allocs/op are
// the client side's. Every other cell also reports cpu-ns/op: the CPU time
// (user and system, getrusage) the process spent per op while measuring,
// both sides together. On a shared machine it moves far less with the load
// than ns/op does, so it is the figure to compare when a change should
// save work rather than time spent waiting; usr-ns/op is its user part,
// without the kernel's time in syscalls (on a virtual machine whose
// syscalls are slow, most of cpu-ns/op), for a change to our own code.
// drpc runs concurrent unary cells both on one connection and on a pool
// (…/pool=N).
func BenchmarkRPC(b *testing.B) {
	for _, cell := range Matrix(false, nil, 1000) {
		for _, sys := range Systems() {
			if !sys.Supports(cell.Shape()) {
				continue
			}
			pools := []int{0}
			if p, ok := sys.(Pooler); ok && cell.Scenario == ScenarioUnary {
				pools = p.PoolSizes(cell.Concurrency)
			}
			for _, pool := range pools {
				name := cell.Scenario + "/" + sys.Name() + "/" + cell.Params()
				if pool > 1 {
					name += "/pool=" + itoa(pool)
				}
				b.Run(name, func(b *testing.B) { benchCell(b, sys, cell, pool) })
			}
		}
	}
}

func itoa(n int) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(buf[i:])
		}
	}
}

func benchCell(b *testing.B, sys System, cell Cell, pool int) {
	srv, err := startServer(sys, cell)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	// A context that can end, as the runner's (measure.go): whether calls
	// carry one changes how a transport waits for its answers.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var clients []Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	if cell.Scenario == ScenarioConns {
		var run Figures
		if clients, err = dialIdle(sys, srv.(*childServer), cell, &run); err != nil {
			b.Fatal(err)
		}
		// Reported after the run: ResetTimer deletes reported metrics.
		defer b.ReportMetric(run.HeapPerConn, "heap-B/conn")
		defer b.ReportMetric(run.ServerHeapPerConn, "srv-heap-B/conn")
	} else {
		c, err := sys.Dial(srv.Addr(), DialOptions{Pool: pool})
		if err != nil {
			b.Fatal(err)
		}
		clients = []Client{c}
	}
	req := make([]byte, cell.Size)
	b.ReportAllocs()
	// The process's CPU time when the measured part began: user and
	// system, and user alone.
	var cpu0, usr0 time.Duration
	if cell.Scenario != ScenarioConns {
		defer func() {
			if t, u := processCPU(); t > 0 && b.N > 0 {
				b.ReportMetric(float64(t-cpu0)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(u-usr0)/float64(b.N), "usr-ns/op")
			}
		}()
	}
	var sched0 schedCounts
	defer func() {
		// After the run (ResetTimer deletes reported metrics), only for
		// runs whose counters were read when the timer was last reset.
		if sched0.ok && b.N > 0 {
			sched := readSched().minus(sched0)
			b.ReportMetric(float64(sched.started)/float64(b.N), "gostarts/op")
			b.ReportMetric(float64(sched.runs)/float64(b.N), "goruns/op")
		}
	}()

	switch cell.Shape() {
	case ShapeServerStream:
		b.SetBytes(int64(cell.Size))
		b.ResetTimer()
		cpu0, usr0 = processCPU()
		sched0 = readSched()
		got := 0
		if err := clients[0].ServerStream(ctx, cell.Size, b.N, func(int) { got++ }); err != nil {
			b.Fatal(err)
		}
		if got != b.N {
			b.Fatalf("stream delivered %d messages, want %d", got, b.N)
		}
	case ShapeBidi:
		pp, err := clients[0].PingPong(ctx)
		if err != nil {
			b.Fatal(err)
		}
		var resp []byte
		b.ResetTimer()
		cpu0, usr0 = processCPU()
		sched0 = readSched()
		for range b.N {
			if err := pp.Exchange(req, &resp); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := pp.Close(); err != nil {
			b.Fatal(err)
		}
	default:
		// b.N calls shared by Concurrency goroutines, each on its own
		// client in the conns cell.
		n := max(cell.Concurrency, 1)
		hs := make([]hist.Histogram, n)
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make([]error, n)
		runtime.GC()
		b.ResetTimer()
		cpu0, usr0 = processCPU()
		sched0 = readSched()
		for i := range n {
			c := clients[i%len(clients)]
			h, errp := &hs[i], &errs[i]
			wg.Add(1)
			go func() {
				defer wg.Done()
				var resp []byte
				for next.Add(1) <= int64(b.N) {
					t := nanotime()
					if err := c.Unary(ctx, req, &resp); err != nil {
						*errp = err
						return
					}
					h.Record(nanotime() - t)
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
		var all hist.Histogram
		for i := range hs {
			all.Merge(&hs[i])
		}
		b.ReportMetric(float64(all.Quantile(0.5)), "p50-ns")
		b.ReportMetric(float64(all.Quantile(0.99)), "p99-ns")
	}
}

// schedCounts are the Go scheduler's counters that say how many goroutine
// hand-offs a benchmark's operations cost, whatever the machine's load.
type schedCounts struct {
	ok      bool
	started uint64 // goroutines created
	runs    uint64 // goroutines that went from runnable to running
}

// gTrackingPeriod is how often the runtime samples a goroutine's
// runnable-to-running transitions for /sched/latencies:seconds: one in 8
// (runtime/proc.go), so runs is an estimate.
const gTrackingPeriod = 8

func readSched() schedCounts {
	samples := []metrics.Sample{
		{Name: "/sched/goroutines-created:goroutines"},
		{Name: "/sched/latencies:seconds"},
	}
	metrics.Read(samples)
	var sc schedCounts
	if samples[0].Value.Kind() != metrics.KindUint64 || samples[1].Value.Kind() != metrics.KindFloat64Histogram {
		return sc
	}
	sc.ok = true
	sc.started = samples[0].Value.Uint64()
	for _, n := range samples[1].Value.Float64Histogram().Counts {
		sc.runs += n * gTrackingPeriod
	}
	return sc
}

func (sc schedCounts) minus(o schedCounts) schedCounts {
	return schedCounts{ok: sc.ok && o.ok, started: sc.started - o.started, runs: sc.runs - o.runs}
}
