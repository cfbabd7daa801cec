package conn

import (
	"context"
	"sync"
	"time"
)

// serverContext is a server stream's context: a child of the connection's
// base context, cancelled when the stream completes or is reset (or the
// connection ends, through the base), and ended with DeadlineExceeded at the
// deadline Stream.SetDeadline gave it. Most handlers of short calls never
// wait on their context, so it costs nothing until asked for a channel: the
// first Done or Value makes a real context (context.WithCancel or, with a
// deadline, WithDeadline, a child of the base) and forwards to it from then
// on. Err answers without one.
//
// Forwarding Value to that real context is also what keeps contexts
// derived from this one cheap: context.WithCancel, WithDeadline and
// AfterFunc find the real cancelCtx through it and register with it
// directly, rather than starting a goroutine to watch an unknown
// implementation.
type serverContext struct {
	c *Conn // whose baseCtx is the parent; immutable

	mu       sync.Mutex
	real     context.Context    // guarded by mu: nil until first needed
	cancelFn context.CancelFunc // guarded by mu: cancels real
	deadline time.Time          // guarded by mu: zero for none
	// dlIndex is the stream's place in c.deadlines, -1 when not there.
	// Guarded by c.mu.
	dlIndex  int32
	canceled bool // guarded by mu: the stream completed or was reset
	expired  bool // guarded by mu: the deadline passed (the stream was reset for it)
}

// ensure returns the real context, making it on first use.
func (x *serverContext) ensure() context.Context {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.real == nil {
		if x.deadline.IsZero() {
			x.real, x.cancelFn = context.WithCancel(x.c.baseCtx)
		} else {
			x.real, x.cancelFn = context.WithDeadline(x.c.baseCtx, x.deadline)
		}
		if x.canceled && !x.expired {
			x.cancelFn()
		}
	}
	return x.real
}

// cancel cancels the context; it may be called more than once, from any
// goroutine, with or without the connection's lock held. A context whose
// deadline passed keeps DeadlineExceeded: its real context, if any, ends
// by its own timer, a moment after the connection's deadline timer reset
// the stream.
func (x *serverContext) cancel() {
	x.mu.Lock()
	x.canceled = true
	fn := x.cancelFn
	if x.expired {
		fn = nil
	}
	x.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// expire marks the deadline as passed, before the stream is reset for it.
func (x *serverContext) expire() {
	x.mu.Lock()
	x.expired = true
	x.mu.Unlock()
}

func (x *serverContext) Deadline() (time.Time, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.deadline.IsZero() {
		return x.c.baseCtx.Deadline()
	}
	return x.deadline, true
}

func (x *serverContext) Done() <-chan struct{} { return x.ensure().Done() }

func (x *serverContext) Err() error {
	x.mu.Lock()
	real, canceled, expired := x.real, x.canceled, x.expired
	x.mu.Unlock()
	switch {
	case real != nil:
		return real.Err()
	case expired:
		return context.DeadlineExceeded
	case canceled:
		return context.Canceled
	}
	return x.c.baseCtx.Err()
}

func (x *serverContext) Value(key any) any { return x.ensure().Value(key) }

func (x *serverContext) String() string { return "conn.serverStreamContext" }
