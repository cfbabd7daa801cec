package main

// The harness runs phases one after another. Each phase runs the workload
// on every ClientConn for a while with one disturbance (none, a killed
// server, a drained server, stalled peers), then stops the workload, judges
// every call it made, and waits for both processes' goroutines, descriptors
// and memory to come back to their baseline.

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h2rpc/h2rpc/rpc"
)

// config is what a soak run does.
type config struct {
	duration time.Duration // the run's length: phases start until it is over
	phase    time.Duration // one phase's length, without settling
	conns    int           // workload ClientConns
	workers  int           // callers per ClientConn
	big      int           // the size of a big message
	down     time.Duration // how long a killed server stays down
	grace    time.Duration // how long after a restart calls may still fail UNAVAILABLE
	deadline time.Duration // the deadline of calls that should succeed
	settle   time.Duration // how long usage may take to come back after a phase
	shared   bool          // the stall phase also leaves streams unread on a workload connection
	limits   limits
	seed     uint64
	log      io.Writer // progress, and the stacks of leaked goroutines
}

func defaultConfig() config {
	return config{
		duration: 30 * time.Minute,
		phase:    30 * time.Second,
		conns:    4,
		workers:  3,
		big:      rpc.DefaultMaxRecvMsgSize,
		down:     time.Second,
		grace:    3 * time.Second,
		deadline: 30 * time.Second,
		settle:   30 * time.Second,
		shared:   true,
		limits:   defaultLimits,
		seed:     uint64(time.Now().UnixNano()),
		log:      os.Stderr,
	}
}

// The phases: the first warms up and sets the baseline; the others cycle.
const warmup = "warmup"

var cycle = []string{"steady", "kill", "drain", "stall"}

// backoff makes a ClientConn retry a restarted server within a second.
var backoff = rpc.BackoffConfig{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 500 * time.Millisecond}

// window is a time during which the server was down or draining.
type window struct {
	kind       string // "kill" or "drain"
	start, end time.Time
	graceful   bool // a drain that finished without Stop
}

// phase is one phase's outcome.
type phase struct {
	name         string
	elapsed      time.Duration
	windows      []window
	calls        [nShapes]int
	codes        map[rpc.Code]int
	bytes        int64
	violations   []string
	clientBefore usage
	clientAfter  usage
	serverBefore usage
	serverAfter  usage
}

func (p *phase) violate(format string, a ...any) {
	p.violations = append(p.violations, fmt.Sprintf(format, a...))
}

// harness owns a run's server and ClientConns; its methods run on the
// goroutine that called run, except dial and worker, which stallPeers also
// calls.
type harness struct {
	cfg  config
	addr string
	srv  *server
	ccs  []*rpc.ClientConn
	gzip []bool // whether ccs[i] compresses every call
	ids  atomic.Uint64
	seed atomic.Uint64

	clientBase usage
	serverBase usage
}

// run runs a soak and returns its phases.
func run(cfg config) ([]*phase, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	h := &harness{cfg: cfg, addr: addr}
	h.seed.Store(cfg.seed)
	if h.srv, err = startServer(addr); err != nil {
		return nil, err
	}
	defer func() {
		if h.srv != nil {
			h.srv.stop() //nolint:errcheck // the run's outcome is decided
		}
	}()
	for i := range cfg.conns {
		var opts []rpc.DialOption
		if i == 0 {
			opts = append(opts, rpc.WithCompressor("gzip"))
		}
		cc := h.dial(opts...)
		defer cc.Close()
		h.ccs = append(h.ccs, cc)
		h.gzip = append(h.gzip, i == 0)
	}
	if err := h.connectAll(); err != nil {
		return nil, err
	}
	if h.clientBase, h.serverBase, err = h.usage(); err != nil {
		return nil, err
	}
	start := time.Now()
	var phases []*phase
	for i := 0; ; i++ {
		name := warmup
		if i > 0 {
			name = cycle[(i-1)%len(cycle)]
		}
		// At least one phase of each name, then until the time is up.
		if i > len(cycle) && time.Since(start)+cfg.phase > cfg.duration {
			break
		}
		p, err := h.runPhase(name)
		if p != nil {
			phases = append(phases, p)
			fmt.Fprintf(cfg.log, "soak: %s phase %d done after %v: %d calls, %d violations\n",
				p.name, i, time.Since(start).Round(time.Second), sum(p.calls[:]), len(p.violations))
		}
		if err != nil {
			return phases, err
		}
	}
	return phases, nil
}

func sum(a []int) int {
	n := 0
	for _, v := range a {
		n += v
	}
	return n
}

// freeAddr returns a loopback address no one listens on, for the server
// to listen on across restarts.
func freeAddr() (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer lis.Close()
	return lis.Addr().String(), nil
}

func (h *harness) dial(opts ...rpc.DialOption) *rpc.ClientConn {
	cc, err := rpc.Dial(h.addr, append([]rpc.DialOption{rpc.WithInsecure(), rpc.WithBackoff(backoff)}, opts...)...)
	if err != nil {
		panic(err) // Dial does not connect; it fails only on a malformed target, which freeAddr does not make
	}
	return cc
}

func (h *harness) worker(cc *rpc.ClientConn, seed uint64) *worker {
	return &worker{
		cc:       cc,
		rng:      rand.New(rand.NewPCG(h.seed.Add(1), seed)),
		ids:      &h.ids,
		big:      h.cfg.big,
		deadline: h.cfg.deadline,
	}
}

// connectAll makes one call on every workload ClientConn, waiting for it
// to connect, so that both sides hold one connection per ClientConn.
func (h *harness) connectAll() error {
	for i, cc := range h.ccs {
		ctx, cancel := context.WithTimeout(context.Background(), h.cfg.settle)
		req := appendMsg(nil, msg{call: h.ids.Add(1)}, headerLen)
		var resp []byte
		err := cc.Invoke(ctx, echoMethod, req, &resp, rpc.WaitForReady(true))
		cancel()
		if err != nil {
			return fmt.Errorf("connection %d does not work: %w", i, err)
		}
	}
	return nil
}

// usage measures both processes.
func (h *harness) usage() (client, server usage, err error) {
	client = measure()
	server, err = h.srv.stats()
	return client, server, err
}

// runPhase runs one phase. An error means the harness cannot go on (the
// server cannot be restarted, or calls hang); violations are in the phase.
func (h *harness) runPhase(name string) (*phase, error) {
	cfg := h.cfg
	p := &phase{name: name, codes: make(map[rpc.Code]int)}
	start := time.Now()
	var err error
	if p.clientBefore, p.serverBefore, err = h.usage(); err != nil {
		return nil, err
	}

	var (
		mu      sync.Mutex
		records []record
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	for i, cc := range h.ccs {
		for range cfg.workers {
			w := h.worker(cc, uint64(len(name)))
			w.gzip = h.gzip[i]
			wg.Go(func() {
				for !stop.Load() {
					r := w.one(w.pick())
					mu.Lock()
					records = append(records, r)
					mu.Unlock()
					if r.code == rpc.Unavailable {
						// As a real client would, rather than spin while the server is away.
						time.Sleep(time.Duration(10+w.rng.IntN(40)) * time.Millisecond)
					}
				}
			})
		}
	}

	var stallRecords []record
	switch name {
	case "kill":
		time.Sleep(cfg.phase / 4)
		win := window{kind: name, start: time.Now()}
		h.srv.kill()
		h.srv = nil
		time.Sleep(cfg.down)
		if h.srv, err = startServer(h.addr); err != nil {
			return p, fmt.Errorf("restart after kill: %w", err)
		}
		win.end = time.Now()
		p.windows = append(p.windows, win)
		time.Sleep(time.Until(start.Add(cfg.phase)))
	case "drain":
		time.Sleep(cfg.phase / 4)
		win := window{kind: name, start: time.Now()}
		forced, err := h.srv.drain()
		h.srv = nil
		if err != nil {
			return p, fmt.Errorf("drain: %w", err)
		}
		if forced {
			p.violate("drain: GracefulStop did not finish within %v and was forced", drainTimeout)
		}
		if h.srv, err = startServer(h.addr); err != nil {
			return p, fmt.Errorf("restart after drain: %w", err)
		}
		win.end = time.Now()
		win.graceful = !forced
		fmt.Fprintf(cfg.log, "soak: drained and restarted in %v\n", win.end.Sub(win.start).Round(time.Millisecond))
		p.windows = append(p.windows, win)
		time.Sleep(time.Until(start.Add(cfg.phase)))
	case "stall":
		var shared *rpc.ClientConn
		if cfg.shared {
			shared = h.ccs[len(h.ccs)-1]
		}
		stallRecords = stallPeers(h, cfg.phase, shared)
		time.Sleep(time.Until(start.Add(cfg.phase)))
	default:
		time.Sleep(cfg.phase)
	}

	stop.Store(true)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(cfg.deadline + cfg.settle):
		p.violate("calls still running %v after the phase ended, beyond every deadline", cfg.deadline+cfg.settle)
		h.dumpClient()
		return p, fmt.Errorf("%s phase: calls hang", name)
	}
	p.elapsed = time.Since(start)

	for _, r := range append(records, stallRecords...) {
		p.calls[r.kind.shape]++
		p.codes[r.code]++
		p.bytes += r.bytes
		if v := p.judge(&r, cfg.grace); v != "" {
			p.violate("%s", v)
		}
	}

	if err := h.connectAll(); err != nil {
		p.violate("after the phase: %v", err)
	}
	h.settle(p)
	return p, nil
}

// judge returns what is wrong with how r ended, or "".
//
// A call must end with the status its kind wants (OK; DEADLINE_EXCEEDED
// for a call whose server holds it past its deadline; CANCELLED for one the
// client cancels), and its messages must all be right. It may instead end
// UNAVAILABLE if it overlapped a window in which the server was down or
// draining (plus grace, for reconnection backoff), except that a graceful
// drain must let finish every call the server had already answered.
func (p *phase) judge(r *record, grace time.Duration) string {
	desc := fmt.Sprintf("%s call (%s, %v in)", r.kind.name, shapeNames[r.kind.shape], r.end.Sub(r.start).Round(time.Millisecond))
	if r.problem != "" {
		return fmt.Sprintf("%s: %s (status %v)", desc, r.problem, r.err)
	}
	if r.code == r.kind.want {
		return ""
	}
	if r.code == rpc.Unavailable {
		for _, w := range p.windows {
			if r.end.Before(w.start) || r.start.After(w.end.Add(grace)) {
				continue
			}
			if w.kind == "drain" && w.graceful && !r.firstRecv.IsZero() && r.firstRecv.Before(w.start) {
				return fmt.Sprintf("%s: ended UNAVAILABLE during a graceful drain that began after the server had answered it: %v", desc, r.err)
			}
			return ""
		}
		return fmt.Sprintf("%s: ended UNAVAILABLE with the server up and not draining: %v", desc, r.err)
	}
	return fmt.Sprintf("%s: ended %v, want %v: %v", desc, r.code, r.kind.want, r.err)
}

// settle waits for both processes' usage to come back within limits of the
// baseline, and records it in p. The warm-up phase sets the baseline
// instead: its usage must only come back to what it was before, memory
// aside (the first big messages grow the heap for good).
func (h *harness) settle(p *phase) {
	baseClient, baseServer, l := h.clientBase, h.serverBase, h.cfg.limits
	if p.name == warmup {
		baseClient.rss, baseServer.rss = -1, -1
	}
	deadline := time.Now().Add(h.cfg.settle)
	for {
		c, s, err := h.usage()
		if err != nil {
			p.violate("measuring the server: %v", err)
			return
		}
		p.clientAfter, p.serverAfter = c, s
		ce, se := l.exceeds(c, baseClient), l.exceeds(s, baseServer)
		if ce == "" && se == "" {
			break
		}
		if time.Now().After(deadline) {
			if ce != "" {
				p.violate("client still holds more than its baseline %v after the phase: %s", h.cfg.settle, ce)
				h.dumpClient()
			}
			if se != "" {
				p.violate("server still holds more than its baseline %v after the phase: %s", h.cfg.settle, se)
				fmt.Fprintln(h.cfg.log, "soak: the server's goroutines:")
				h.srv.dump() //nolint:errcheck // best effort: the violation is recorded
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if p.name == warmup {
		h.clientBase, h.serverBase = p.clientAfter, p.serverAfter
	}
}

// dumpClient writes the stacks of this process's goroutines that run h2rpc
// code to the log.
func (h *harness) dumpClient() {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	fmt.Fprintln(h.cfg.log, "soak: the client's goroutines in h2rpc:")
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "h2rpc/rpc.") || strings.Contains(g, "h2rpc/conn.") {
			fmt.Fprintf(h.cfg.log, "%s\n\n", g)
		}
	}
}
