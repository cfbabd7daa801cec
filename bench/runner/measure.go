package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h2rpc/h2rpc/bench/runner/hist"
)

// Figures are what one run of one system in one cell measured.
type Figures struct {
	Pool        int           `json:"pool,omitempty"` // connections, for Pooler systems
	Ops         uint64        `json:"ops"`            // calls, messages or round trips completed
	Elapsed     time.Duration `json:"elapsed_ns"`
	OpsPerSec   float64       `json:"ops_per_sec"`
	MBPerSec    float64       `json:"mb_per_sec"` // payload bytes received by the client, 10^6 per second
	P50         int64         `json:"p50_ns"`
	P99         int64         `json:"p99_ns"`
	P999        int64         `json:"p999_ns"`
	AllocsPerOp float64       `json:"allocs_per_op"` // client and server together
	BytesPerOp  float64       `json:"bytes_per_op"`
	PeakRSS     int64         `json:"peak_rss_bytes"` // max VmRSS sampled during the run
	// For the conns scenario: memory per idle client connection after one
	// call each, from the Go heap and goroutine stacks, and from the
	// process RSS. The server runs in a child process, so these are the
	// client side's alone; ServerHeapPerConn is the child's heap and
	// stacks per connection, the server side's.
	HeapPerConn       float64 `json:"heap_per_conn,omitempty"`
	RSSPerConn        float64 `json:"rss_per_conn,omitempty"`
	ServerHeapPerConn float64 `json:"server_heap_per_conn,omitempty"`

	hist *hist.Histogram
}

// Phases of a run, read by its workers.
const (
	phaseWarm = iota
	phaseMeasure
	phaseStop
)

// worker is one load goroutine's state, allocated before the run so that
// the run's own bookkeeping does not show up in its allocation figures.
type worker struct {
	h   hist.Histogram
	ops uint64
	err error
}

// runner of one measurement: the phase flag the workers poll.
type load struct {
	phase atomic.Int32
	count atomic.Int64 // operations measured so far, across workers
}

// record counts one measured operation of w that took d.
func (l *load) record(w *worker, d time.Duration) {
	w.h.RecordDuration(d)
	w.ops++
	l.count.Add(1)
}

func (l *load) measuring() bool { return l.phase.Load() == phaseMeasure }
func (l *load) stopped() bool   { return l.phase.Load() == phaseStop }

// measure runs one system in one cell: start a server, dial, warm up, then
// measure for d.
func measure(sys System, cell Cell, pool int, warm, d time.Duration) (Figures, error) {
	runtime.GC()
	rss := startRSSSampler()
	defer rss.stop()
	srv, err := startServer(sys, cell)
	if err != nil {
		return Figures{}, err
	}
	defer srv.Close()

	var clients []Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	run := Figures{Pool: pool}
	switch cell.Scenario {
	case ScenarioHandshakes:
		// Each call dials its own connection (driveHandshakes).
	case ScenarioConns:
		clients, err = dialIdle(sys, srv.(*childServer), cell, &run)
		if err != nil {
			return Figures{}, err
		}
	default:
		c, err := sys.Dial(srv.Addr(), DialOptions{Pool: pool})
		if err != nil {
			return Figures{}, fmt.Errorf("dial %s: %w", sys.Name(), err)
		}
		clients = []Client{c}
	}

	// ctx is cancelled if the workers do not stop in time after the run:
	// a hung system fails its cell instead of hanging the runner.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var l load
	n := max(cell.Concurrency, 1)
	if cell.Shape() != ShapeUnary {
		n = 1
	}
	workers := make([]worker, n)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if cell.Scenario == ScenarioHandshakes {
				w.err = driveHandshakes(ctx, &l, sys, srv.Addr(), cell, w)
			} else {
				w.err = drive(ctx, &l, clients[i%len(clients)], cell, w)
			}
			if w.err != nil {
				l.phase.Store(phaseStop)
			}
		}()
	}
	sleepUnless(&l, warm)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	l.phase.CompareAndSwap(phaseWarm, phaseMeasure)
	sleepUnless(&l, d)
	// A loaded machine can hold every operation in flight past a short
	// measuring time: wait for the first to finish (up to 10×d more), so
	// that the figures come from at least one.
	for limit := time.Now().Add(10 * d); l.count.Load() == 0 && !l.stopped() && time.Now().Before(limit); {
		time.Sleep(5 * time.Millisecond)
	}
	l.phase.Store(phaseStop)
	run.Elapsed = time.Since(t0)
	runtime.ReadMemStats(&m1)
	stopped := make(chan struct{})
	go func() {
		wg.Wait()
		close(stopped)
	}()
	hung := false
	select {
	case <-stopped:
	case <-time.After(stopGrace + 10*d):
		hung = true
		cancel()
		<-stopped
	}

	run.hist = hist.New()
	var errs []error
	for i := range workers {
		run.Ops += workers[i].ops
		run.hist.Merge(&workers[i].h)
		if workers[i].err != nil {
			errs = append(errs, workers[i].err)
		}
	}
	if hung {
		errs = append([]error{fmt.Errorf("calls still running %v after the run ended", stopGrace+10*d)}, errs...)
	}
	if err := errors.Join(errs...); err != nil {
		return Figures{}, fmt.Errorf("%s %s: %w", sys.Name(), cell, err)
	}
	if run.Ops == 0 {
		return Figures{}, fmt.Errorf("%s %s: no operation completed in %v", sys.Name(), cell, d)
	}
	secs := run.Elapsed.Seconds()
	run.OpsPerSec = float64(run.Ops) / secs
	run.MBPerSec = float64(run.Ops) * float64(cell.Size) / secs / 1e6
	run.P50, run.P99, run.P999 = run.hist.Quantile(0.5), run.hist.Quantile(0.99), run.hist.Quantile(0.999)
	run.AllocsPerOp = float64(m1.Mallocs-m0.Mallocs) / float64(run.Ops)
	run.BytesPerOp = float64(m1.TotalAlloc-m0.TotalAlloc) / float64(run.Ops)
	run.PeakRSS = rss.stop()
	return run, nil
}

// stopGrace (plus ten times the run's duration) is how long the workers of
// a run have to return once it ends.
var stopGrace = 10 * time.Second

// sleepUnless sleeps for d or until the load stops (a worker failed).
func sleepUnless(l *load, d time.Duration) {
	deadline := time.Now().Add(d)
	for !l.stopped() {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		time.Sleep(min(left, 10*time.Millisecond))
	}
}

// drive runs one worker's load until the phase is stop.
func drive(ctx context.Context, l *load, c Client, cell Cell, w *worker) error {
	req := make([]byte, cell.Size)
	var resp []byte
	switch cell.Shape() {
	case ShapeUnary:
		for !l.stopped() {
			t := time.Now()
			if err := c.Unary(ctx, req, &resp); err != nil {
				return err
			}
			if l.measuring() {
				l.record(w, time.Since(t))
			}
		}
	case ShapeServerStream:
		last := time.Now()
		onMsg := func(int) {
			now := time.Now()
			if l.measuring() {
				l.record(w, now.Sub(last))
			}
			last = now
		}
		for !l.stopped() {
			if err := c.ServerStream(ctx, cell.Size, cell.streamCount(), onMsg); err != nil {
				return err
			}
		}
	case ShapeBidi:
		pp, err := c.PingPong(ctx)
		if err != nil {
			return err
		}
		for !l.stopped() {
			t := time.Now()
			if err := pp.Exchange(req, &resp); err != nil {
				pp.Close()
				return err
			}
			if l.measuring() {
				l.record(w, time.Since(t))
			}
		}
		return pp.Close()
	}
	return nil
}

// driveHandshakes runs one worker's load of the handshakes scenario until
// the phase is stop: each operation dials a new connection (with its TLS
// handshake, for a TLS system), makes one unary call on it and closes it.
func driveHandshakes(ctx context.Context, l *load, sys System, addr string, cell Cell, w *worker) error {
	req := make([]byte, cell.Size)
	var resp []byte
	for !l.stopped() {
		t := time.Now()
		c, err := sys.Dial(addr, DialOptions{})
		if err != nil {
			return fmt.Errorf("dial: %w", err)
		}
		err = c.Unary(ctx, req, &resp)
		c.Close()
		if err != nil {
			return err
		}
		if l.measuring() {
			l.record(w, time.Since(t))
		}
	}
	return nil
}

// startServer starts sys's server for cell: in this process, or for the
// conns scenario in a child process so that this one holds only clients.
func startServer(sys System, cell Cell) (Server, error) {
	var srv Server
	var err error
	if cell.Scenario == ScenarioConns {
		srv, err = startChild(sys)
	} else {
		srv, err = sys.Start()
	}
	if err != nil {
		return nil, fmt.Errorf("start %s server: %w", sys.Name(), err)
	}
	return srv, nil
}

// dialIdle dials the conns cell's clients to srv and makes one call on
// each, and sets run's memory per connection from snapshots of both
// processes before and after.
func dialIdle(sys System, srv *childServer, cell Cell, run *Figures) ([]Client, error) {
	var before, after memSnapshot
	before.read()
	srvBefore, err := srv.mem()
	if err != nil {
		return nil, err
	}
	clients, err := dialMany(sys, srv.Addr(), cell.Conns)
	if err != nil {
		return nil, err
	}
	fail := func(err error) ([]Client, error) {
		for _, c := range clients {
			c.Close()
		}
		return nil, err
	}
	req := make([]byte, cell.Size)
	for _, c := range clients {
		var resp []byte
		if err := c.Unary(context.Background(), req, &resp); err != nil {
			return fail(err)
		}
	}
	after.read()
	srvAfter, err := srv.mem()
	if err != nil {
		return fail(err)
	}
	n := float64(cell.Conns)
	run.HeapPerConn = float64(after.heap-before.heap) / n
	run.RSSPerConn = float64(after.rss-before.rss) / n
	run.ServerHeapPerConn = float64(srvAfter.heap-srvBefore.heap) / n
	return clients, nil
}

// dialMany dials n clients, a few at a time.
func dialMany(sys System, addr string, n int) ([]Client, error) {
	clients := make([]Client, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				clients[i], errs[i] = sys.Dial(addr, DialOptions{})
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
		return nil, fmt.Errorf("dial %d %s clients: %w", n, sys.Name(), err)
	}
	return clients, nil
}

// memSnapshot is the memory the conns scenario divides by connections.
type memSnapshot struct{ heap, rss int64 }

func (m *memSnapshot) read() {
	// FreeOSMemory collects and returns free pages to the OS, so that the
	// RSS difference is not hidden by memory an earlier run freed but the
	// runtime kept.
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.heap = int64(ms.HeapAlloc + ms.StackInuse)
	m.rss = readRSS()
}

// readRSS returns the process's resident set (VmRSS of /proc/self/status)
// in bytes, or 0 where there is no /proc.
func readRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseVmRSS(b)
}

// parseVmRSS finds the VmRSS line ("VmRSS:   123 kB") of a
// /proc/self/status text and returns it in bytes, without allocating.
func parseVmRSS(status []byte) int64 {
	const key = "VmRSS:"
	i := bytes.Index(status, []byte(key))
	if i < 0 {
		return 0
	}
	rest := bytes.TrimLeft(status[i+len(key):], " \t")
	var kb int64
	for _, c := range rest {
		if c < '0' || c > '9' {
			break
		}
		kb = kb*10 + int64(c-'0')
	}
	return kb << 10
}

// rssSampler records the largest VmRSS seen every 10ms until stopped.
type rssSampler struct {
	peak atomic.Int64
	quit chan struct{}
	done chan struct{}
	once sync.Once
	f    *os.File // /proc/self/status, nil where there is none
	buf  []byte   // read buffer, reused so that sampling does not allocate
}

func startRSSSampler() *rssSampler {
	s := &rssSampler{quit: make(chan struct{}), done: make(chan struct{}), buf: make([]byte, 8<<10)}
	s.f, _ = os.Open("/proc/self/status")
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

// sample runs on the sampler's goroutine, and on the caller's before the
// goroutine starts and after it ends.
func (s *rssSampler) sample() {
	if s.f == nil {
		return
	}
	n, err := s.f.ReadAt(s.buf, 0)
	if err != nil && err != io.EOF {
		return
	}
	if v := parseVmRSS(s.buf[:n]); v > s.peak.Load() {
		s.peak.Store(v)
	}
}

// stop ends the sampler (once) and returns the peak.
func (s *rssSampler) stop() int64 {
	s.once.Do(func() {
		close(s.quit)
		<-s.done
		s.sample()
		if s.f != nil {
			s.f.Close()
		}
	})
	return s.peak.Load()
}

// clockStart anchors nanotime.
var clockStart = time.Now()

// nanotime is a monotonic clock in nanoseconds.
func nanotime() int64 { return int64(time.Since(clockStart)) }
