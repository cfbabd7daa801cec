package rpc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h2rpc/h2rpc/conn"
)

// Version is this library's version, sent in user-agent as "h2rpc/VERSION".
const Version = "0.1.0"

// ClientConn is a client's channel to a target's backends. A resolver turns
// the target into addresses (see Resolver), a Balancer picks the backend of
// each call (PickFirst by default), and each backend holds its own HTTP/2
// connections, each call on its own stream. Nothing happens until the first
// call (or Connect): then the target is resolved and the balancer's backends
// are dialled. A connection that breaks or drains (GOAWAY, stream ids
// exhausted) is replaced; failed dials back off exponentially with jitter
// (BackoffConfig). The ClientConn's goroutines (the resolver's, one per dial
// in progress, one per draining connection, one per connection with
// keepalive) end when Close returns. It is safe for concurrent use.
type ClientConn struct {
	target    string // as given to Dial
	authority string
	userAgent string
	opts      dialOptions
	defaults  callInfo // opts.callOpts applied
	rtarget   Target   // the target as the resolver sees it
	resolver  Resolver
	// balancer picks the backends; guarded by mu (a service config from
	// the resolver may replace it: see setResolverConfig).
	balancer  Balancer
	maxConns  int           // connections per backend (WithMaxConnsPerBackend)
	extraIdle time.Duration // how long an extra connection may sit idle
	keepalive KeepaliveParams
	outlier   *outlierDetector // nil without WithOutlierDetection
	// healthService is the service health watches ask about; nil
	// without WithHealthCheck.
	healthService *string
	res           *Resolution
	// sc is the service config in force (nil: none); dialConfig is
	// WithServiceConfig's.
	sc         atomic.Pointer[serviceConfig]
	dialConfig *serviceConfig
	// retryBuffered counts the request bytes calls keep for retries and
	// hedges, bounded by retryTotal; a call keeps at most retryCallBuffer
	// (WithRetryBuffer).
	retryBuffered   atomic.Int64
	retryTotal      int64
	retryCallBuffer int
	// throttleHeld: the ClientConn holds its server name's retry budget;
	// throttleDone: it closed. Both guarded by throttlesMu (retry.go).
	throttleHeld, throttleDone bool
	// auth holds, by *conn.Conn, what the handshake of a connection that
	// had one learnt of the server (CallPeer), until the connection ends.
	auth   sync.Map
	ctx    context.Context // cancelled by Close: ends dials and the resolver
	cancel context.CancelFunc

	// resolvedOnce: the resolver has reported (resolved, read without mu).
	resolvedOnce atomic.Bool

	mu       sync.Mutex
	state    ConnectivityState   // guarded by mu
	changed  chan struct{}       // guarded by mu: closed and replaced when state or ready changes
	sticky   bool                // guarded by mu: in TRANSIENT_FAILURE until a backend is ready
	started  bool                // guarded by mu: the resolver was started
	resolved bool                // guarded by mu: the resolver reported addresses
	backends []*Backend          // guarded by mu: in the resolver's order
	ready    []*Backend          // guarded by mu: those the balancer picks from
	pfIndex  int                 // guarded by mu: pick_first's current backend
	lastErr  error               // guarded by mu: why the last dial (or resolution) failed
	closed   bool                // guarded by mu
	draining map[*conn.Conn]bool // guarded by mu: connections finishing their calls; nil until one is
	// dials holds the cancel functions of the dials in flight, which Close
	// calls; nil while none is. A dial's context is not derived from ctx:
	// a child would leave ctx's map of children and its channel allocated
	// for as long as the ClientConn lives. Guarded by mu.
	dials map[*context.CancelFunc]struct{}
	// keepaliveTime is the client's current keepalive interval: doubled
	// each time a server complains of too many pings. Guarded by mu.
	keepaliveTime time.Duration

	goroutines sync.WaitGroup
}

// Dial returns a ClientConn for target, a name as grpc doc/naming.md
// defines it:
//
//	host:port, host                  a DNS name or IP address (port 443 if none)
//	[::1]:50051                      an IPv6 literal, in brackets when a port follows
//	dns:///host:port                 the same, with the scheme written out
//	dns://8.8.8.8/host:port          resolved by the DNS server named (port 53 if none)
//	unix:relative/path, unix:/abs    a Unix socket
//	unix:///abs/path                 the same; unix://host/... is an error
//	unix-abstract:name               a Linux abstract socket
//	passthrough:///address           the address, handed to the dialer as is
//	static:///host:port,host:port    a fixed list of backends
//	scheme://authority/endpoint      a scheme given to RegisterResolver
//
// A DNS name is re-resolved now and then, and when a connection fails (see
// DNSResolver). With WithDialer and no scheme, the target is passthrough's:
// the dialer gets it as written.
//
// The :authority of calls is the target's host:port as written (the
// endpoint, for other schemes), or "localhost" for Unix sockets
// (WithAuthority overrides it). Dial does not connect: the first call does
// (or Connect). A target it cannot parse, or one with a scheme it does not
// know, fails Dial with INVALID_ARGUMENT.
//
// The transport's security must be chosen: TLS (h2tls.Client, or another
// WithHandshake), or h2c in cleartext (WithInsecure). Dial with neither
// fails with INVALID_ARGUMENT and ErrNoTransportSecurity, as grpc-go's
// does: a client that silently spoke cleartext would send its calls, and
// its tokens, to anyone on the path.
func Dial(target string, opts ...DialOption) (*ClientConn, error) {
	o := dialOptions{backoff: DefaultBackoffConfig}
	for _, opt := range opts {
		opt(&o)
	}
	if o.sec.handshake == nil && !o.sec.insecure {
		return nil, &Status{Code: InvalidArgument, Message: ErrNoTransportSecurity.Error(), cause: ErrNoTransportSecurity}
	}
	rt, r, authority, err := resolverFor(target, &o)
	if err != nil {
		return nil, &Status{Code: InvalidArgument, Message: "rpc: invalid target " + strconv.Quote(target) + ": " + err.Error(), cause: err}
	}
	cc := &ClientConn{target: target, authority: authority, rtarget: rt, resolver: r, opts: o}
	if cc.opts.authority != "" {
		cc.authority = cc.opts.authority
	}
	cc.userAgent = userAgent
	if cc.opts.userAgent != "" {
		cc.userAgent = cc.opts.userAgent + " " + userAgent
	}
	cc.defaults = callInfo{codec: DefaultCodec, maxRecv: DefaultMaxRecvMsgSize, maxSend: DefaultMaxSendMsgSize}
	for _, o := range cc.opts.callOpts {
		o(&cc.defaults)
	}
	if o.serviceConfig != nil {
		sc, err := parseServiceConfig(*o.serviceConfig)
		if err != nil {
			return nil, &Status{Code: InvalidArgument, Message: "rpc: " + err.Error(), cause: err}
		}
		cc.dialConfig = sc
		cc.sc.Store(sc)
		if o.balancer == nil {
			o.balancer = sc.balancer
		}
	}
	cc.balancer = o.balancer
	if cc.balancer == nil {
		cc.balancer = PickFirst(false)
	}
	cc.maxConns = max(o.maxConns, 1)
	cc.retryCallBuffer = defaultRetryCallBuffer
	if o.retryCallBuffer > 0 {
		cc.retryCallBuffer = o.retryCallBuffer
	}
	cc.retryTotal = defaultRetryBuffer
	if o.retryBuffer > 0 {
		cc.retryTotal = int64(o.retryBuffer)
	}
	cc.extraIdle = orDefault(o.extraIdle, DefaultExtraConnIdle)
	cc.keepalive = o.keepalive
	cc.keepaliveTime = o.keepalive.Time
	if o.outlier != nil {
		cc.outlier = newOutlierDetector(cc, *o.outlier)
	}
	cc.healthService = o.health
	cc.res = &Resolution{update: cc.updateAddresses, fail: cc.resolverFailed, refresh: make(chan struct{}, 1)}
	if !o.noResolverConfig {
		cc.res.setConfig = cc.setResolverConfig
	}
	cc.ctx, cc.cancel = context.WithCancel(context.Background())
	cc.changed = make(chan struct{})
	return cc, nil
}

// resolverFor returns the resolver of target, what it resolves, and the
// default :authority.
func resolverFor(s string, o *dialOptions) (Target, Resolver, string, error) {
	if o.resolver != nil {
		// Any target: the resolver makes sense of it.
		t := Target{Endpoint: s}
		if scheme, rest, ok := strings.Cut(s, ":"); ok && strings.HasPrefix(rest, "//") {
			t.Scheme = scheme
			t.Authority, t.Endpoint, _ = strings.Cut(rest[2:], "/")
		}
		authority := t.Endpoint
		if authority == "" {
			authority = "localhost"
		}
		return t, o.resolver, authority, nil
	}
	if scheme, rest, ok := strings.Cut(s, ":"); ok && !fixedScheme(scheme) && !isPort(rest) {
		if r := registeredResolver(scheme); r != nil {
			t, err := splitTarget(scheme, rest)
			if err != nil {
				return Target{}, nil, "", err
			}
			return t, r, t.Endpoint, nil
		}
	}
	t, err := parseTarget(s)
	if err == nil && o.dialer == nil && t.network == "tcp" {
		// Without a dialer of the application's, the address is TCP's.
		_, _, err = net.SplitHostPort(t.address)
	}
	if err != nil {
		return Target{}, nil, "", err
	}
	switch {
	case t.network == "unix":
		return Target{Scheme: "unix", Endpoint: t.address}, fixedResolver{{Addr: t.address, Network: "unix"}}, t.authority, nil
	case strings.HasPrefix(s, "passthrough:"), o.dialer != nil && !strings.HasPrefix(s, "dns:"):
		return Target{Scheme: "passthrough", Endpoint: t.address}, fixedResolver{{Addr: t.address}}, t.authority, nil
	}
	return Target{Scheme: "dns", Authority: t.dnsServer, Endpoint: t.address}, registeredResolver("dns"), t.authority, nil
}

// isPort reports whether s is a port number: "static:8080" is a host and
// port, not the static scheme.
func isPort(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// fixedScheme reports whether scheme is parsed by parseTarget ("dns", whose
// registered resolver then resolves the parsed host, and the schemes that
// name an address outright).
func fixedScheme(scheme string) bool {
	switch scheme {
	case "dns", "unix", "unix-abstract", "passthrough":
		return true
	}
	return false
}

// splitTarget splits the rest of "scheme:rest": "//authority/endpoint" or
// "endpoint".
func splitTarget(scheme, rest string) (Target, error) {
	t := Target{Scheme: scheme, Endpoint: rest}
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		var slash bool
		t.Authority, t.Endpoint, slash = strings.Cut(after, "/")
		if !slash {
			return Target{}, fmt.Errorf("no endpoint after the authority %q", t.Authority)
		}
	}
	if t.Endpoint == "" {
		return Target{}, errors.New("no endpoint")
	}
	return t, nil
}

// userAgent is the user-agent we send, after the application's own.
const userAgent = "h2rpc/" + Version

// Target returns the target Dial was given.
func (cc *ClientConn) Target() string { return cc.target }

// Close closes every connection of the ClientConn and stops its resolver;
// calls in flight fail with UNAVAILABLE and later calls with CANCELLED.
func (cc *ClientConn) Close() error {
	cc.mu.Lock()
	if cc.closed {
		cc.mu.Unlock()
		return nil
	}
	cc.closed = true
	cc.cancel()
	for cancel := range cc.dials {
		(*cancel)()
	}
	var conns []*conn.Conn
	for _, b := range cc.backends {
		conns = append(conns, b.conns...)
		b.conns = nil
		b.shutdownLocked()
	}
	cc.backends, cc.ready = nil, nil
	for c := range cc.draining {
		conns = append(conns, c)
	}
	if cc.outlier != nil {
		cc.outlier.stopLocked()
	}
	cc.setStateLocked(Shutdown)
	cc.mu.Unlock()
	cc.dropThrottle()
	for _, c := range conns {
		c.Close()
	}
	cc.goroutines.Wait()
	return nil
}

// Connect starts resolving and connecting, if the ClientConn is idle,
// instead of waiting for the first call; it waits (within ctx) until a
// backend is ready and reports a failure to connect as UNAVAILABLE.
func (cc *ClientConn) Connect(ctx context.Context) error {
	for {
		cc.mu.Lock()
		cc.exitIdleLocked()
		st, ch, err := cc.state, cc.changed, cc.lastErr
		cc.mu.Unlock()
		switch st {
		case Ready:
			return nil
		case Shutdown:
			return &Status{Code: Canceled, Message: errClientConnClosed.Error(), cause: errClientConnClosed}
		case TransientFailure:
			return unavailable(err)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return contextStatus(ctx)
		}
	}
}

// State returns the ClientConn's connectivity state: READY if a backend
// is, else CONNECTING while one connects, TRANSIENT_FAILURE once all failed
// (until one is ready again), IDLE before the first call, SHUTDOWN after
// Close.
func (cc *ClientConn) State() ConnectivityState {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.state
}

// WaitForStateChange waits until the state differs from source and
// reports true, or until ctx ends and reports false.
func (cc *ClientConn) WaitForStateChange(ctx context.Context, source ConnectivityState) bool {
	for {
		cc.mu.Lock()
		st, ch := cc.state, cc.changed
		cc.mu.Unlock()
		if st != source {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// Backends returns the backends the resolver reported last, in its order.
func (cc *ClientConn) Backends() []*Backend {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return slices.Clone(cc.backends)
}

var errClientConnClosed = errors.New("rpc: the ClientConn is closed")

func unavailable(err error) *Status {
	if err == nil {
		err = errors.New("no backend is ready")
	}
	return &Status{Code: Unavailable, Message: "connection error: " + err.Error(), cause: err}
}

// pick chooses the backend and connection of a new call. Without
// waitForReady a call fails at once with UNAVAILABLE while the ClientConn
// is in TRANSIENT_FAILURE; otherwise, and while it connects, the call waits
// for a ready backend (within ctx). The picked backend counts the call as
// outstanding until done. A hedged attempt goes to a backend its call has
// not tried, if one is ready.
func (cc *ClientConn) pick(ctx context.Context, ci *callInfo) (*conn.Conn, *Backend, error) {
	waitForReady := ci.waitForReady
	for {
		cc.mu.Lock()
		for len(cc.ready) > 0 {
			b := cc.ready[cc.balancer.Pick(cc.ready)]
			if ci.attempt != nil && ci.attempt.hedge != nil {
				b = ci.attempt.hedge.other(b, cc.ready) // retry.go
			}
			c, wait := b.connLocked()
			if c != nil {
				b.outstanding.Add(1)
				cc.mu.Unlock()
				return c, b, nil
			}
			if wait {
				break // for b's new connection
			}
		}
		if cc.closed {
			cc.mu.Unlock()
			return nil, nil, &Status{Code: Canceled, Message: errClientConnClosed.Error(), cause: errClientConnClosed}
		}
		cc.exitIdleLocked()
		if cc.pickFirst() {
			cc.pickFirstKickLocked()
		}
		st, ch, lastErr := cc.state, cc.changed, cc.lastErr
		cc.mu.Unlock()
		if s := ctxEnded(ctx); s != nil {
			return nil, nil, s
		}
		if st == TransientFailure && !waitForReady {
			return nil, nil, unavailable(lastErr)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, nil, contextStatus(ctx)
		}
	}
}

// awaitResolution makes a call before the resolver's first report wait
// for it (within ctx), so that the service config the resolver reports
// with the addresses applies to the first calls too. A ClientConn that
// ignores its resolver's configs does not wait here (pick waits for a
// backend anyway).
func (cc *ClientConn) awaitResolution(ctx context.Context) {
	if cc.res.setConfig == nil {
		return
	}
	for {
		cc.mu.Lock()
		cc.exitIdleLocked()
		done, ch := cc.resolved || cc.closed, cc.changed
		cc.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return // the call reports it
		}
	}
}

// exitIdleLocked starts the resolver on the first call.
func (cc *ClientConn) exitIdleLocked() {
	if cc.started || cc.closed {
		return
	}
	cc.started = true
	cc.goroutines.Add(1)
	go func() {
		defer cc.goroutines.Done()
		cc.resolver.Watch(cc.ctx, cc.rtarget, cc.res)
	}()
	cc.updateStateLocked()
}

func (cc *ClientConn) pickFirst() bool {
	_, ok := cc.balancer.(*pickFirst)
	return ok
}

// updateAddresses takes a new address list from the resolver: backends
// for new addresses are made (and, but with pick_first, connected), those
// for addresses gone are shut down, the rest keep their connections.
func (cc *ClientConn) updateAddresses(addrs []Address) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closed {
		return
	}
	if pf, ok := cc.balancer.(*pickFirst); ok && pf.shuffle {
		rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	}
	old := make(map[string]*Backend, len(cc.backends))
	for _, b := range cc.backends {
		old[b.Address().key()] = b
	}
	var cur *Backend
	if cc.pickFirst() && cc.pfIndex < len(cc.backends) {
		cur = cc.backends[cc.pfIndex]
	}
	backends := make([]*Backend, 0, len(addrs))
	for _, a := range addrs {
		k := a.key()
		if b, ok := old[k]; ok {
			delete(old, k)
			b.addr.Store(&a)
			backends = append(backends, b)
			continue
		}
		if slices.ContainsFunc(backends, func(b *Backend) bool { return b.Address().key() == k }) {
			continue // listed twice
		}
		backends = append(backends, newBackend(cc, a))
	}
	for _, b := range old {
		b.shutdownLocked()
	}
	cc.backends = backends
	cc.resolved = true
	cc.resolvedOnce.Store(true)
	cc.balanceLocked(cur)
	cc.updateStateLocked()
}

// balanceLocked connects the backends the balancer wants: pick_first
// keeps one, cur if it is still listed, or better a ready one, and retires
// the other backends' connections (their calls finish first); the other
// balancers connect every backend.
func (cc *ClientConn) balanceLocked(cur *Backend) {
	if !cc.pickFirst() {
		for _, b := range cc.backends {
			b.connectLocked()
		}
		return
	}
	cc.pfIndex = max(slices.Index(cc.backends, cur), 0)
	if i := slices.IndexFunc(cc.backends, func(b *Backend) bool { return b.state == Ready }); i >= 0 {
		cc.pfIndex = i
	}
	for i, b := range cc.backends {
		if i != cc.pfIndex && len(b.conns) > 0 {
			for _, c := range b.conns {
				cc.retireLocked(c)
			}
			b.conns, b.idleSince, b.state = nil, nil, Idle
		}
	}
	cc.pickFirstKickLocked()
}

// resolverFailed records a failed resolution: it matters only while there
// are no backends.
func (cc *ClientConn) resolverFailed(err error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closed || len(cc.backends) > 0 {
		return
	}
	cc.lastErr = fmt.Errorf("resolving %s: %w", cc.target, err)
	cc.resolved = true
	cc.resolvedOnce.Store(true)
	cc.sticky = true
	cc.updateStateLocked()
	// Ask again after the backoff a dial would wait.
	cc.res.requestRefresh()
}

// pickFirstKickLocked connects pick_first's current backend if it is idle.
func (cc *ClientConn) pickFirstKickLocked() {
	if cc.pfIndex < len(cc.backends) {
		if b := cc.backends[cc.pfIndex]; b.state == Idle || b.state == TransientFailure {
			b.connectLocked()
		}
	}
}

// pickFirstNextLocked moves pick_first on from b, whose dial failed, to the
// next address; after the last it starts over (each backend waits out its
// own backoff).
func (cc *ClientConn) pickFirstNextLocked(b *Backend) {
	i := slices.Index(cc.backends, b)
	if i < 0 || i != cc.pfIndex {
		return
	}
	cc.pfIndex = (i + 1) % len(cc.backends)
	cc.backends[cc.pfIndex].connectLocked()
}

// updateStateLocked recomputes the backends the balancer picks from and the
// ClientConn's state, and wakes the calls waiting for a change.
func (cc *ClientConn) updateStateLocked() {
	if cc.closed {
		return
	}
	ready := cc.ready[:0]
	var anyReady, anyConnecting, allFailed = false, false, len(cc.backends) > 0
	for _, b := range cc.backends {
		state := b.stateLocked()
		switch state {
		case Ready:
			anyReady = true
			if !b.ejected {
				ready = append(ready, b)
			}
		case Connecting:
			anyConnecting = true
		}
		if state != TransientFailure {
			allFailed = false
		}
	}
	if anyReady && len(ready) == 0 {
		// Never eject every backend.
		for _, b := range cc.backends {
			if b.stateLocked() == Ready {
				ready = append(ready, b)
			}
		}
	}
	if old := cc.ready; len(ready) < cap(old) {
		clear(old[len(ready):cap(old)]) // no stale pointers past the end
	}
	cc.ready = ready
	var st ConnectivityState
	switch {
	case anyReady:
		st, cc.sticky = Ready, false
	case cc.sticky:
		st = TransientFailure
	case anyConnecting, cc.started && !cc.resolved:
		st = Connecting
	case allFailed:
		st, cc.sticky = TransientFailure, true
	case cc.started:
		st = Connecting // backends about to connect
	default:
		st = Idle
	}
	cc.setStateLocked(st)
}

// setStateLocked sets the state and wakes every waiter (the ready list may
// have changed even if the state did not).
func (cc *ClientConn) setStateLocked(st ConnectivityState) {
	cc.state = st
	close(cc.changed)
	cc.changed = make(chan struct{})
}

// ctxEnded returns the status of a call whose context has ended, or whose
// deadline has passed though ctx's timer has not fired yet; nil if neither.
// A failure seen after that is the caller's doing, not the transport's: the
// call fails with DEADLINE_EXCEEDED or CANCELLED, not UNAVAILABLE.
func ctxEnded(ctx context.Context) *Status {
	if ctx.Err() != nil {
		return contextStatus(ctx)
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return &Status{Code: DeadlineExceeded, Message: "context deadline exceeded", cause: context.DeadlineExceeded}
	}
	return nil
}

// DefaultMinConnectTimeout bounds one connection attempt (grpc
// doc/connection-backoff.md's MIN_CONNECT_TIMEOUT).
const DefaultMinConnectTimeout = 20 * time.Second

// dialAddr opens a connection to a: the one place a network connection is
// made and becomes an HTTP/2 one.
// With keepalive on, the network connection is wrapped to note when it
// last read (rc, else nil).
func (cc *ClientConn) dialAddr(a Address) (c *conn.Conn, rc *readClock, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), orDefault(cc.opts.backoff.MinConnectTimeout, DefaultMinConnectTimeout))
	defer cancel()
	cc.mu.Lock()
	if cc.closed {
		cc.mu.Unlock()
		return nil, nil, context.Canceled
	}
	if cc.dials == nil {
		cc.dials = make(map[*context.CancelFunc]struct{}, 1)
	}
	cc.dials[&cancel] = struct{}{}
	cc.mu.Unlock()
	defer func() {
		cc.mu.Lock()
		delete(cc.dials, &cancel)
		if len(cc.dials) == 0 {
			cc.dials = nil // drops the map's table with it
		}
		cc.mu.Unlock()
	}()
	var nc net.Conn
	if cc.opts.dialer != nil {
		nc, err = cc.opts.dialer(ctx, customAddr(a))
	} else {
		var d net.Dialer
		nc, err = d.DialContext(ctx, a.network(), a.Addr)
	}
	var auth AuthInfo
	if err == nil {
		nc, auth, err = cc.secure(ctx, nc) // credentials.go
	}
	if err != nil {
		return nil, nil, err
	}
	if cc.keepalive.Time > 0 {
		rc = newReadClock(nc) // keepalive.go
		nc = rc
	}
	c, err = conn.Client(nc, cc.opts.connConfig)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	if auth.State != nil || auth.Identity != "" {
		cc.auth.Store(c, auth)
		c.OnEnd(func() { cc.auth.Delete(c) })
	}
	if h := cc.opts.stats; h != nil {
		local, remote := nc.LocalAddr(), nc.RemoteAddr()
		h.HandleConn(&ConnEvent{Begin: true, Client: true, Local: local, Remote: remote})
		c.OnEnd(func() {
			h.HandleConn(&ConnEvent{Client: true, Local: local, Remote: remote, Err: c.Err()})
		})
	}
	return c, rc, nil
}

// customAddr is the address a WithDialer dialer receives for a: TCP's as
// is, a Unix socket in its "unix:" target form, which tells the network (as
// grpc-go does).
func customAddr(a Address) string {
	if a.network() != "unix" {
		return a.Addr
	}
	switch {
	case strings.HasPrefix(a.Addr, "@"):
		return "unix-abstract:" + a.Addr[1:]
	case strings.HasPrefix(a.Addr, "/"):
		return "unix://" + a.Addr
	}
	return "unix:" + a.Addr
}

// retireLocked lets c, which takes no new streams or is no longer wanted,
// finish its calls under a goroutine that shuts it down gracefully and ends
// with it; a connection that has ended is dropped.
func (cc *ClientConn) retireLocked(c *conn.Conn) {
	select {
	case <-c.Done():
		return
	default:
	}
	if cc.draining == nil {
		cc.draining = map[*conn.Conn]bool{}
	}
	if cc.draining[c] {
		return
	}
	cc.draining[c] = true
	cc.goroutines.Add(1)
	go func() {
		defer cc.goroutines.Done()
		c.Shutdown(cc.ctx)
		cc.mu.Lock()
		delete(cc.draining, c)
		cc.mu.Unlock()
	}()
}

// delay returns the wait after the n-th consecutive failure.
func (b BackoffConfig) delay(n int) time.Duration {
	base, mult, jitter, maxDelay := b.BaseDelay, b.Multiplier, b.Jitter, b.MaxDelay
	if base <= 0 {
		base = DefaultBackoffConfig.BaseDelay
	}
	if mult < 1 {
		mult = DefaultBackoffConfig.Multiplier
	}
	if maxDelay <= 0 {
		maxDelay = DefaultBackoffConfig.MaxDelay
	}
	d := float64(base)
	for i := 1; i < n && d < float64(maxDelay); i++ {
		d *= mult
	}
	d = min(d, float64(maxDelay))
	if jitter > 0 {
		d *= 1 + jitter*(2*rand.Float64()-1)
	}
	return time.Duration(d)
}
