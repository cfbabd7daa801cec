// Package cluster starts backends on loopback for tests and benchmarks of
// client-side balancing: each serves one method, counts the calls it
// served, and can be slowed, failed, drained or killed on command. A
// Cluster is also a resolver reporting its live backends, as DNS would.
package cluster

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/rpc"
)

// Method is the full name of the method every backend serves: it echoes
// the request ([]byte) after the backend's delay.
const Method = "/cluster.Backend/Call"

// Cluster is a set of backends.
type Cluster struct {
	cfg *conn.Config

	mu       sync.Mutex
	backends []*Backend // guarded by mu: every backend started, killed ones too
	resolves int        // guarded by mu: resolutions reported
}

// Backend is one server of the cluster.
type Backend struct {
	addr   string
	srv    *rpc.Server
	served chan error // Serve's result

	calls     atomic.Int64
	started   atomic.Int64
	cancelled atomic.Int64
	inflight  atomic.Int64
	delay     atomic.Int64 // time.Duration
	failing   atomic.Bool
	failEvery atomic.Int64
	load      atomic.Uint64 // math.Float64bits; 0: no report
	killed    atomic.Bool
}

// New starts n backends. cfg, if not nil, is their connections' Config.
func New(n int, cfg *conn.Config) (*Cluster, error) {
	c := &Cluster{cfg: cfg}
	for range n {
		if _, err := c.Add(); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

var desc = rpc.ServiceDesc{
	ServiceName: "cluster.Backend",
	Methods: []rpc.MethodDesc{{MethodName: "Call", Handler: func(srv any, ctx context.Context, dec func(any) error, _ rpc.UnaryServerInterceptor) (any, error) {
		var req []byte
		if err := dec(&req); err != nil {
			return nil, err
		}
		return srv.(*Backend).call(ctx, req)
	}}},
}

// Add starts one more backend, on a new port.
func (c *Cluster) Add() (*Backend, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &Backend{addr: lis.Addr().String(), served: make(chan error, 1)}
	b.srv = rpc.NewServer(rpc.ServerConnConfig(c.cfg))
	b.srv.RegisterService(&desc, b)
	go func() { b.served <- b.srv.Serve(lis) }()
	c.mu.Lock()
	c.backends = append(c.backends, b)
	c.mu.Unlock()
	return b, nil
}

func (b *Backend) call(ctx context.Context, req []byte) ([]byte, error) {
	b.inflight.Add(1)
	b.started.Add(1)
	defer b.inflight.Add(-1)
	if d := time.Duration(b.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			b.cancelled.Add(1)
			return nil, ctx.Err()
		}
	}
	b.calls.Add(1)
	if u := b.load.Load(); u != 0 {
		rpc.SetTrailer(ctx, rpc.AppendLoadReport(nil, float64frombits(u)))
	}
	n := b.calls.Load()
	if b.failing.Load() || (b.failEvery.Load() > 0 && n%b.failEvery.Load() == 0) {
		return nil, rpc.Errorf(rpc.Unavailable, "backend %s is failing", b.addr)
	}
	return req, nil
}

// Addr returns the backend's "ip:port".
func (b *Backend) Addr() string { return b.addr }

// Calls returns how many calls the backend served (failed ones included).
func (b *Backend) Calls() int64 { return b.calls.Load() }

// Started returns how many calls reached the backend's handler, served or
// not.
func (b *Backend) Started() int64 { return b.started.Load() }

// Cancelled returns how many calls ended while the backend delayed them:
// their context ended (the client cancelled them, or their deadline came).
func (b *Backend) Cancelled() int64 { return b.cancelled.Load() }

// ResetCalls zeroes the counts of calls served, started and cancelled.
func (b *Backend) ResetCalls() {
	b.calls.Store(0)
	b.started.Store(0)
	b.cancelled.Store(0)
}

// SetDelay makes every call wait d before it is answered.
func (b *Backend) SetDelay(d time.Duration) { b.delay.Store(int64(d)) }

// SetFailing makes calls fail with UNAVAILABLE (after the delay), or
// succeed again.
func (b *Backend) SetFailing(f bool) { b.failing.Store(f) }

// SetFailEvery makes every n-th call fail with UNAVAILABLE (0: none).
func (b *Backend) SetFailEvery(n int) { b.failEvery.Store(int64(n)) }

// SetLoad makes the backend report utilization u in every call's
// trailers (rpc.AppendLoadReport); 0 reports nothing.
func (b *Backend) SetLoad(u float64) { b.load.Store(float64bits(u)) }

// Drain stops the backend gracefully: GOAWAY, its calls finish, new ones go
// elsewhere.
func (b *Backend) Drain() {
	if b.killed.Swap(true) {
		return
	}
	b.srv.GracefulStop()
	<-b.served
}

// Kill stops the backend at once: its listener and connections close, its
// calls fail.
func (b *Backend) Kill() {
	if b.killed.Swap(true) {
		return
	}
	b.srv.Stop()
	<-b.served
}

// Backends returns the backends started, killed ones included, in order.
func (c *Cluster) Backends() []*Backend {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Backend(nil), c.backends...)
}

// Addrs returns the addresses of the live backends.
func (c *Cluster) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var addrs []string
	for _, b := range c.backends {
		if !b.killed.Load() {
			addrs = append(addrs, b.addr)
		}
	}
	return addrs
}

// Target returns a "static:///..." target naming the live backends.
func (c *Cluster) Target() string { return "static:///" + strings.Join(c.Addrs(), ",") }

// Resolutions returns how many address lists the cluster reported as a
// resolver.
func (c *Cluster) Resolutions() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resolves
}

// Watch makes the cluster a resolver (rpc.WithResolver(c)): it reports the
// live backends at start and each time the client asks for a fresh
// resolution, as DNS would.
func (c *Cluster) Watch(ctx context.Context, _ rpc.Target, r *rpc.Resolution) {
	report := func() {
		var addrs []rpc.Address
		for _, a := range c.Addrs() {
			addrs = append(addrs, rpc.Address{Addr: a})
		}
		c.mu.Lock()
		c.resolves++
		c.mu.Unlock()
		r.Update(addrs)
	}
	report()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.Refresh():
			report()
		}
	}
}

// Close kills every backend.
func (c *Cluster) Close() {
	for _, b := range c.Backends() {
		b.Kill()
	}
}

// Spread returns each backend's share of the calls served, in order.
func (c *Cluster) Spread() []float64 {
	bs := c.Backends()
	var total int64
	for _, b := range bs {
		total += b.Calls()
	}
	out := make([]float64, len(bs))
	for i, b := range bs {
		if total > 0 {
			out[i] = float64(b.Calls()) / float64(total)
		}
	}
	return out
}

// String lists the backends and their counts.
func (c *Cluster) String() string {
	var sb strings.Builder
	for i, b := range c.Backends() {
		fmt.Fprintf(&sb, "backend %d %s: %d calls\n", i, b.addr, b.Calls())
	}
	return sb.String()
}

func float64bits(f float64) uint64     { return math.Float64bits(f) }
func float64frombits(u uint64) float64 { return math.Float64frombits(u) }

// L4Proxy is a TCP load balancer in front of backends: each connection it
// accepts goes to the next backend in turn, and stays there. It is the trap
// of scene 09: HTTP/2 multiplexes every call of a client on one long-lived
// connection, so an L4 balancer pins all of them to one backend.
type L4Proxy struct {
	lis   net.Listener
	addrs []string
	wg    sync.WaitGroup

	mu    sync.Mutex
	next  int        // guarded by mu
	conns []net.Conn // guarded by mu
}

// NewL4Proxy starts a proxy on loopback balancing connections over addrs.
func NewL4Proxy(addrs []string) (*L4Proxy, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &L4Proxy{lis: lis, addrs: addrs}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's address.
func (p *L4Proxy) Addr() string { return p.lis.Addr().String() }

func (p *L4Proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.lis.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		addr := p.addrs[p.next%len(p.addrs)]
		p.next++
		p.mu.Unlock()
		out, err := net.Dial("tcp", addr)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(out, in)
		go p.pipe(in, out)
	}
}

func (p *L4Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	io.Copy(dst, src)
	dst.Close()
}

// Close stops the proxy and closes its connections.
func (p *L4Proxy) Close() {
	p.lis.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
