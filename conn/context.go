package conn

import (
	"context"
	"sync"
	"time"
)

// serverContext is a server stream's context: a child of the connection's
// base context, cancelled when the stream completes or is reset (or the
// connection ends, through the base). Most handlers of short calls never
// wait on their context, so it costs nothing until asked for a channel:
// the first Done or Value makes a real context.WithCancel child of the base
// and forwards to it from then on. Err answers without one.
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
	canceled bool               // guarded by mu: the stream completed or was reset
}

// ensure returns the real context, making it on first use.
func (x *serverContext) ensure() context.Context {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.real == nil {
		x.real, x.cancelFn = context.WithCancel(x.c.baseCtx)
		if x.canceled {
			x.cancelFn()
		}
	}
	return x.real
}

// cancel cancels the context; it may be called more than once, from any
// goroutine, with or without the connection's lock held.
func (x *serverContext) cancel() {
	x.mu.Lock()
	x.canceled = true
	fn := x.cancelFn
	x.mu.Unlock()
	if fn != nil {
		fn()
	}
}

func (x *serverContext) Deadline() (time.Time, bool) { return x.c.baseCtx.Deadline() }

func (x *serverContext) Done() <-chan struct{} { return x.ensure().Done() }

func (x *serverContext) Err() error {
	x.mu.Lock()
	real, canceled := x.real, x.canceled
	x.mu.Unlock()
	switch {
	case real != nil:
		return real.Err()
	case canceled:
		return context.Canceled
	}
	return x.c.baseCtx.Err()
}

func (x *serverContext) Value(key any) any { return x.ensure().Value(key) }

func (x *serverContext) String() string { return "conn.serverStreamContext" }
