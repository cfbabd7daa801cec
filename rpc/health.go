package rpc

import (
	"context"
	"io"
	"slices"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/wire"
)

// Client-side health checking (grpc doc/health-checking.md): with
// WithHealthCheck each backend keeps a grpc.health.v1.Health/Watch call open
// on its connection and is picked only while the answer is SERVING.

// healthState is what a backend's health watch last heard.
type healthState int

const (
	healthUnknown healthState = iota
	healthServing
	healthNotServing
)

const healthWatchMethod = "/grpc.health.v1.Health/Watch"

// servingStatus SERVING of grpc.health.v1.HealthCheckResponse.
const servingStatus = 1

var healthWatchDesc = &StreamDesc{StreamName: "Watch", ServerStreams: true}

// watchHealth watches the health of b's server on c until ctx ends (c
// ends, or b drops it), watching again (after a pause) if the watch ends
// while c lives.
func (b *Backend) watchHealth(ctx context.Context, c *conn.Conn) {
	cc := b.cc
	defer cc.goroutines.Done()
	defer func() {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		if b.healthConn != c {
			return // a newer watch took over
		}
		b.healthConn, b.healthCancel = nil, nil
		if len(b.conns) > 0 && b.conns[0] != c && !b.removed && !cc.closed {
			// c ended or was dropped, and the backend has another
			// connection: watch on it now.
			b.startHealthWatchLocked(b.conns[0])
		}
	}()
	for failures := 1; ; failures++ {
		err := b.watchHealthOnce(ctx, c)
		if ctx.Err() != nil {
			return
		}
		if CodeOf(err) == Unimplemented {
			// No health service: take the server as healthy, as grpc-go
			// does, for as long as c lasts.
			b.setHealth(c, healthServing)
			<-ctx.Done()
			return
		}
		b.setHealth(c, healthNotServing)
		t := time.NewTimer(cc.opts.backoff.delay(failures))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// startHealthWatchLocked starts watching b's health on c, a connection of
// b's, on a goroutine that ends when c ends or b drops it.
func (b *Backend) startHealthWatchLocked(c *conn.Conn) {
	ctx, cancel := context.WithCancel(c.Context())
	b.healthConn, b.healthCancel = c, cancel
	b.health = healthUnknown
	b.cc.goroutines.Add(1)
	go b.watchHealth(ctx, c)
	b.cc.updateStateLocked()
}

// stopHealthWatchLocked ends the health watch on c, if there is one: c is
// no longer b's (a draining connection would wait for the watch forever).
func (b *Backend) stopHealthWatchLocked(c *conn.Conn) {
	if b.healthConn == c && b.healthCancel != nil {
		b.healthCancel()
		b.health = healthUnknown // until a watch on the next connection answers
	}
}

// watchHealthOnce makes one Watch call on c and applies its answers; it
// returns the call's error.
func (b *Backend) watchHealthOnce(ctx context.Context, c *conn.Conn) error {
	cs, err := newClientStream(ctx, healthWatchDesc, b.cc, healthWatchMethod, pinTo(c), CallCodec(DefaultCodec))
	if err != nil {
		return err
	}
	req := wire.AppendStringField(nil, 1, *b.cc.healthService)
	if err := cs.SendMsg(req); err != nil && err != io.EOF {
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	for {
		var resp []byte
		if err := cs.RecvMsg(&resp); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		h := healthNotServing
		if healthStatus(resp) == servingStatus {
			h = healthServing
		}
		b.setHealth(c, h)
	}
}

// healthStatus returns the status field (1) of a HealthCheckResponse, 0
// (UNKNOWN) if absent or malformed.
func healthStatus(b []byte) uint64 {
	var status uint64
	for len(b) > 0 {
		num, typ, n := wire.ConsumeTag(b)
		if n < 0 {
			return 0
		}
		b = b[n:]
		if num == 1 && typ == wire.TypeVarint {
			v, m := wire.ConsumeVarint(b)
			if m < 0 {
				return 0
			}
			status, b = v, b[m:]
			continue
		}
		m := wire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0
		}
		b = b[m:]
	}
	return status
}

// setHealth records what the watch on c heard, if c is still b's.
func (b *Backend) setHealth(c *conn.Conn, h healthState) {
	cc := b.cc
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !slices.Contains(b.conns, c) || b.health == h {
		return
	}
	b.health = h
	cc.updateStateLocked()
}

// pinTo sends a call on c, bypassing the balancer.
func pinTo(c *conn.Conn) CallOption { return func(ci *callInfo) { ci.pinned = c } }
