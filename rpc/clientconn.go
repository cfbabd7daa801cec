package rpc

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/h2rpc/h2rpc/conn"
)

// Version is this library's version, sent in user-agent as "h2rpc/VERSION".
const Version = "0.1.0"

// ClientConn is a client's channel to one server address. It dials lazily,
// on the first call; all calls share one HTTP/2 connection, each on its own
// stream. When the connection breaks or is drained (GOAWAY, stream ids
// exhausted) the next call dials a new one; failed dials back off
// exponentially with jitter. A ClientConn starts no goroutine of its own
// except one per drained connection, which ends when that connection's last
// calls do. It is safe for concurrent use.
type ClientConn struct {
	target    string // the address dialled
	authority string
	userAgent string
	opts      dialOptions
	defaults  callInfo // opts.callOpts applied

	mu       sync.Mutex
	cur      *conn.Conn          // guarded by mu: the connection new calls use, if any
	dialing  chan struct{}       // guarded by mu: closed when the dial in progress ends
	lastErr  error               // guarded by mu: why the last dial failed
	retryAt  time.Time           // guarded by mu: no new dial before this (backoff)
	failures int                 // guarded by mu: consecutive failed dials
	draining map[*conn.Conn]bool // guarded by mu: replaced connections still finishing their calls; nil until one is
	closed   bool                // guarded by mu

	drainers sync.WaitGroup // one goroutine per drained connection
}

// Dial returns a ClientConn for target, "host:port" (a "dns:///" or
// "passthrough:///" prefix is accepted and ignored). It does not connect:
// the first call does.
func Dial(target string, opts ...DialOption) (*ClientConn, error) {
	addr := target
	for _, p := range []string{"dns:///", "passthrough:///"} {
		addr = strings.TrimPrefix(addr, p)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, newStatus(InvalidArgument, "rpc: invalid target "+target+": "+err.Error())
	}
	cc := &ClientConn{target: addr, authority: addr}
	cc.opts.backoff = DefaultBackoffConfig
	for _, o := range opts {
		o(&cc.opts)
	}
	if cc.opts.dialer == nil {
		cc.opts.dialer = dialTCP
	}
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
	return cc, nil
}

// userAgent is the user-agent we send, after the application's own.
const userAgent = "h2rpc/" + Version

// dialTCP is the default dialer: one shared by every ClientConn, so that
// none holds a net.Dialer of its own.
func dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// Target returns the address the ClientConn dials.
func (cc *ClientConn) Target() string { return cc.target }

// Close closes every connection of the ClientConn; calls in flight fail with
// UNAVAILABLE and later calls with CANCELLED.
func (cc *ClientConn) Close() error {
	cc.mu.Lock()
	if cc.closed {
		cc.mu.Unlock()
		return nil
	}
	cc.closed = true
	conns := make([]*conn.Conn, 0, 1+len(cc.draining))
	if cc.cur != nil {
		conns = append(conns, cc.cur)
		cc.cur = nil
	}
	for c := range cc.draining {
		conns = append(conns, c)
	}
	cc.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	cc.drainers.Wait()
	return nil
}

// Connect dials now, if no connection is up, instead of waiting for the
// first call; it waits for the dial (within ctx) and reports its failure as
// UNAVAILABLE.
func (cc *ClientConn) Connect(ctx context.Context) error {
	_, err := cc.getConn(ctx, false)
	return err
}

var errClientConnClosed = errors.New("rpc: the ClientConn is closed")

// getConn returns a connection that takes new streams, dialing one if
// needed. Without waitForReady a call made while the ClientConn backs off
// after a failed dial fails at once with UNAVAILABLE.
func (cc *ClientConn) getConn(ctx context.Context, waitForReady bool) (*conn.Conn, error) {
	for {
		cc.mu.Lock()
		if cc.closed {
			cc.mu.Unlock()
			return nil, &Status{Code: Canceled, Message: errClientConnClosed.Error(), cause: errClientConnClosed}
		}
		if c := cc.cur; c != nil {
			if c.Available() {
				cc.mu.Unlock()
				return c, nil
			}
			cc.retireLocked(c)
		}
		if ch := cc.dialing; ch != nil {
			cc.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, contextStatus(ctx)
			}
		}
		if wait := time.Until(cc.retryAt); wait > 0 {
			lastErr := cc.lastErr
			cc.mu.Unlock()
			if !waitForReady {
				return nil, &Status{Code: Unavailable, Message: "connection error: " + lastErr.Error(), cause: lastErr}
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
				continue
			case <-ctx.Done():
				t.Stop()
				return nil, contextStatus(ctx)
			}
		}
		ch := make(chan struct{})
		cc.dialing = ch
		cc.mu.Unlock()

		c, err := cc.dial(ctx)

		cc.mu.Lock()
		cc.dialing = nil
		close(ch)
		switch {
		case err == nil && cc.closed:
			cc.mu.Unlock()
			c.Close()
			continue // reports the closed ClientConn
		case err == nil:
			cc.cur, cc.failures, cc.lastErr, cc.retryAt = c, 0, nil, time.Time{}
			cc.mu.Unlock()
			return c, nil
		case ctx.Err() != nil:
			// The caller gave up; that says nothing about the server.
			cc.mu.Unlock()
			return nil, contextStatus(ctx)
		}
		cc.failures++
		cc.lastErr = err
		cc.retryAt = time.Now().Add(cc.opts.backoff.delay(cc.failures))
		cc.mu.Unlock()
		if !waitForReady {
			return nil, &Status{Code: Unavailable, Message: "connection error: " + err.Error(), cause: err}
		}
	}
}

// minConnectTimeout bounds one connection attempt when the call's context
// allows more (grpc doc/connection-backoff.md's MIN_CONNECT_TIMEOUT).
const minConnectTimeout = 20 * time.Second

func (cc *ClientConn) dial(ctx context.Context) (*conn.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, minConnectTimeout)
	defer cancel()
	nc, err := cc.opts.dialer(ctx, cc.target)
	if err != nil {
		return nil, err
	}
	c, err := conn.Client(nc, cc.opts.connConfig)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// retireLocked replaces c, which takes no new streams: a dead connection is
// dropped; a draining one finishes its calls under a goroutine that shuts it
// down gracefully and ends with it.
func (cc *ClientConn) retireLocked(c *conn.Conn) {
	cc.cur = nil
	select {
	case <-c.Done():
		return
	default:
	}
	if cc.draining == nil {
		cc.draining = map[*conn.Conn]bool{}
	}
	cc.draining[c] = true
	cc.drainers.Add(1)
	go func() {
		defer cc.drainers.Done()
		c.Shutdown(context.Background())
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
