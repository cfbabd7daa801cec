package rpc

import (
	"context"
	"errors"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
)

// KeepaliveParams make a client ping its connections, so that a peer that
// stopped answering (a crashed host, a NAT that forgot the flow) is found
// without waiting for a write to fail (grpc doc/keepalive.md).
type KeepaliveParams struct {
	// Time is how often a connection is pinged. 0 disables keepalive.
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

// keepaliveLoop pings c every keepalive interval until c or the ClientConn
// ends; a ping not acknowledged within the timeout closes c.
func (cc *ClientConn) keepaliveLoop(c *conn.Conn) {
	defer cc.goroutines.Done()
	timeout := orDefault(cc.keepalive.Timeout, DefaultKeepaliveTimeout)
	for {
		cc.mu.Lock()
		interval := cc.keepaliveTime
		cc.mu.Unlock()
		t := time.NewTimer(interval)
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
		if !cc.keepalive.PermitWithoutStream {
			if open, _ := c.Streams(); open == 0 {
				continue
			}
		}
		ctx, cancel := context.WithTimeout(cc.ctx, timeout)
		err := c.Ping(ctx)
		cancel()
		if err != nil && errors.Is(err, context.DeadlineExceeded) && cc.ctx.Err() == nil {
			c.Close() // the peer stopped answering
		}
	}
}

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
