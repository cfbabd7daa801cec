package rpc

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
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
	target    string // as given to Dial
	authority string
	dialer    func(context.Context) (net.Conn, error) // opens a connection to the target
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
//
// The :authority of calls is the target's host:port as written, or
// "localhost" for Unix sockets (WithAuthority overrides it). Dial does not
// connect: the first call does (or Connect). A target it cannot parse, or
// one with a scheme it does not know, fails Dial with INVALID_ARGUMENT.
func Dial(target string, opts ...DialOption) (*ClientConn, error) {
	t, err := parseTarget(target)
	o := dialOptions{backoff: DefaultBackoffConfig}
	for _, opt := range opts {
		opt(&o)
	}
	if err == nil && o.dialer == nil && t.network == "tcp" {
		// Without a dialer of the application's, the address is TCP's.
		_, _, err = net.SplitHostPort(t.address)
	}
	if err != nil {
		return nil, &Status{Code: InvalidArgument, Message: "rpc: invalid target " + strconv.Quote(target) + ": " + err.Error(), cause: err}
	}
	cc := &ClientConn{target: target, authority: t.authority, dialer: t.dialer(o.dialer)}
	cc.opts = o
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

// Target returns the target Dial was given.
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
				if st := ctxEnded(ctx); st != nil {
					return nil, st
				}
				continue
			case <-ctx.Done():
				return nil, contextStatus(ctx)
			}
		}
		if wait := time.Until(cc.retryAt); wait > 0 {
			lastErr := cc.lastErr
			cc.mu.Unlock()
			if st := ctxEnded(ctx); st != nil {
				return nil, st
			}
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
		case ctxEnded(ctx) != nil:
			// The caller gave up (the dialer may report that as its own
			// timeout before ctx's timer fires); that says nothing about
			// the server.
			cc.mu.Unlock()
			return nil, ctxEnded(ctx)
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

// minConnectTimeout bounds one connection attempt when the call's context
// allows more (grpc doc/connection-backoff.md's MIN_CONNECT_TIMEOUT).
const minConnectTimeout = 20 * time.Second

func (cc *ClientConn) dial(ctx context.Context) (*conn.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, minConnectTimeout)
	defer cancel()
	nc, err := cc.dialer(ctx)
	if err == nil {
		nc, err = cc.secure(ctx, nc) // credentials.go
	}
	if err != nil {
		return nil, err
	}
	c, err := conn.Client(nc, cc.opts.connConfig)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if h := cc.opts.stats; h != nil {
		local, remote := nc.LocalAddr(), nc.RemoteAddr()
		h.HandleConn(&ConnEvent{Begin: true, Client: true, Local: local, Remote: remote})
		context.AfterFunc(c.Context(), func() {
			h.HandleConn(&ConnEvent{Client: true, Local: local, Remote: remote, Err: c.Err()})
		})
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
