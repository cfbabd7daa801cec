package rpc

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
)

// KeepaliveParams make a client ping its connections, so that a peer that
// stopped answering (a crashed host, a NAT that forgot the flow) is found
// without waiting for a write to fail (grpc doc/keepalive.md).
type KeepaliveParams struct {
	// Time is how long a connection may read nothing before it is
	// pinged (so an idle connection is pinged every Time). 0 disables
	// keepalive.
	// A server that finds it too often answers GOAWAY ENHANCE_YOUR_CALM
	// "too_many_pings"; the client then doubles Time for its next
	// connections (grpc proposal A8).
	Time time.Duration
	// Timeout is how long the acknowledgement may take before the
	// connection is closed and its calls fail with UNAVAILABLE.
	// Default 20s.
	Timeout time.Duration
	// PermitWithoutStream pings connections that carry no call too.
	PermitWithoutStream bool
}

// DefaultKeepaliveTimeout is KeepaliveParams.Timeout's default.
const DefaultKeepaliveTimeout = 20 * time.Second

// keepaliveLoop pings c once it has read nothing for the keepalive
// interval (rc tells when it last read), until c or the ClientConn ends; a
// ping not acknowledged within the timeout closes c. The acknowledgement is
// a read: an idle connection is pinged every interval.
func (cc *ClientConn) keepaliveLoop(c *conn.Conn, rc *readClock) {
	defer cc.goroutines.Done()
	timeout := orDefault(cc.keepalive.Timeout, DefaultKeepaliveTimeout)
	for {
		select {
		case <-c.Done():
			cc.noteTooManyPings(c.Err())
			return
		case <-cc.ctx.Done():
			return
		default:
		}
		cc.mu.Lock()
		interval := cc.keepaliveTime
		cc.mu.Unlock()
		wait := interval - time.Since(rc.lastRead())
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-c.Done():
				t.Stop()
				cc.noteTooManyPings(c.Err())
				return
			case <-cc.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue // something may have been read meanwhile
		}
		if !cc.keepalive.PermitWithoutStream {
			if open, _ := c.Streams(); open == 0 {
				// Nothing to keep alive: look again in an interval.
				rc.touch()
				continue
			}
		}
		ctx, cancel := context.WithTimeout(cc.ctx, timeout)
		err := c.Ping(ctx)
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded) && cc.ctx.Err() == nil:
			c.Close() // the peer stopped answering
		default:
			rc.touch() // c is ending (seen above), or the ping could not go: wait an interval
		}
	}
}

// readClock is a network connection that notes when it last read
// something, for keepalive (grpc pings only after Time without a read).
type readClock struct {
	net.Conn
	last atomic.Int64 // time.Now().UnixNano() of the last read with data
}

func newReadClock(nc net.Conn) *readClock {
	rc := &readClock{Conn: nc}
	rc.touch()
	return rc
}

func (rc *readClock) Read(p []byte) (int, error) {
	n, err := rc.Conn.Read(p)
	if n > 0 {
		rc.touch()
	}
	return n, err
}

func (rc *readClock) touch() { rc.last.Store(time.Now().UnixNano()) }

func (rc *readClock) lastRead() time.Time { return time.Unix(0, rc.last.Load()) }

// noteTooManyPings doubles the keepalive interval if err, why a
// connection ended, is a server's GOAWAY ENHANCE_YOUR_CALM "too_many_pings"
// (grpc proposal A8: "the client should double its keepalive time").
func (cc *ClientConn) noteTooManyPings(err error) {
	var ge *conn.GoAwayError
	if !errors.As(err, &ge) || ge.Code != frame.ErrCodeEnhanceYourCalm || ge.Debug != "too_many_pings" {
		return
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.keepaliveTime = min(2*cc.keepaliveTime, maxKeepaliveTime)
}

// maxKeepaliveTime bounds the doubling of the keepalive interval.
const maxKeepaliveTime = 2 * time.Hour

// ServerKeepaliveParams bound the life of a server's connections (grpc
// doc/keepalive.md). A connection past either limit gets GOAWAY: its client
// opens a new one, possibly to another replica, which is how long-lived
// clients rebalance onto new servers; calls the server had not seen are
// retried there transparently.
type ServerKeepaliveParams struct {
	// MaxConnectionIdle closes a connection that has had no call for
	// this long (checked every quarter of it). 0: never.
	MaxConnectionIdle time.Duration
	// MaxConnectionAge closes a connection this long after it opened,
	// ±10% so that the connections of many clients do not all go at
	// once. 0: never.
	MaxConnectionAge time.Duration
	// MaxConnectionAgeGrace bounds the time the calls of a connection
	// closed for its age have to finish; then it is closed at once.
	// 0: they have as long as they need.
	MaxConnectionAgeGrace time.Duration
}

// connLifetime closes c gracefully when it has been idle or open too long,
// on a goroutine that ends with c.
func (s *Server) connLifetime(c *conn.Conn) {
	defer s.watchers.Done()
	p := s.opts.keepalive
	now := time.Now()
	var ageAt time.Time
	if p.MaxConnectionAge > 0 {
		ageAt = now.Add(time.Duration(float64(p.MaxConnectionAge) * (0.9 + 0.2*rand.Float64())))
	}
	idleSince, lastID := now, uint32(0)
	for {
		wait := time.Duration(math.MaxInt64)
		if p.MaxConnectionIdle > 0 {
			wait = max(p.MaxConnectionIdle/4, time.Millisecond)
		}
		if !ageAt.IsZero() {
			wait = min(wait, time.Until(ageAt))
		}
		t := time.NewTimer(wait)
		select {
		case <-c.Done():
			t.Stop()
			return
		case <-t.C:
		}
		now := time.Now()
		if !ageAt.IsZero() && !now.Before(ageAt) {
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if p.MaxConnectionAgeGrace > 0 {
				ctx, cancel = context.WithTimeout(ctx, p.MaxConnectionAgeGrace)
			}
			c.Shutdown(ctx)
			cancel()
			return
		}
		if p.MaxConnectionIdle > 0 {
			open, id := c.Activity()
			if open > 0 || id != lastID {
				idleSince, lastID = now, id
			} else if now.Sub(idleSince) >= p.MaxConnectionIdle {
				c.Shutdown(context.Background()) // no call to wait for
				return
			}
		}
	}
}
