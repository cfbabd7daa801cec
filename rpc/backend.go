package rpc

import (
	"context"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/h2rpc/h2rpc/conn"
)

// Backend is one address the resolver reported, with its connections (a
// "subchannel" in grpc's terms). It connects when its balancer wants it,
// reconnects with backoff after a failure, and holds more than one
// connection when WithMaxConnsPerBackend allows and every stream slot of
// those it has is taken. Balancers read it; the ClientConn owns it.
type Backend struct {
	cc   *ClientConn
	addr atomic.Pointer[Address] // replaced, under cc.mu, by a resolver update

	outstanding atomic.Int64  // calls picked and not finished
	load        atomic.Uint64 // math.Float64bits of the last reported utilization, or noLoad
	// Outcomes since the outlier detector last looked, and failures in a
	// row (see outlier.go).
	succeeded, failed, failedInRow atomic.Int64

	// Guarded by cc.mu.
	state     ConnectivityState
	conns     []*conn.Conn // connections that took new streams when last seen
	dialing   int          // dials in progress
	failures  int          // consecutive failed dials
	lastErr   error        // why the last dial failed
	retryAt   time.Time    // no dial before this (backoff)
	retry     *time.Timer  // dials again at retryAt; nil if none is due
	removed   bool         // the resolver dropped it, or the ClientConn closed
	ejected   bool         // the outlier detector took it out of the picks
	ejections int          // times ejected (each ejection lasts longer)
	idleSince []time.Time  // per extra connection (conns[1:]): when it was first seen with no stream, or zero
	idleCheck *time.Timer  // runs closeIdleExtras while there are extra connections
	health    healthState  // what the health watch last heard (WithHealthCheck)
	// healthConn is the connection the health watch runs on, and
	// healthCancel ends the watch; nil when none runs.
	healthConn   *conn.Conn
	healthCancel context.CancelFunc
	ejectTimer   *time.Timer // ends the current ejection (outlier.go)
}

// Address returns the backend's address.
//
// It is safe to call at any time, in a Balancer's Pick too: a resolver
// update that lists the backend again may change its Attributes.
func (b *Backend) Address() Address { return *b.addr.Load() }

// Outstanding returns how many calls picked this backend and have not
// finished.
func (b *Backend) Outstanding() int { return int(b.outstanding.Load()) }

// Load returns the utilization the backend last reported in a call's
// trailers (see AppendLoadReport), and whether it reported any.
func (b *Backend) Load() (float64, bool) {
	v := b.load.Load()
	if v == noLoad {
		return 0, false
	}
	return math.Float64frombits(v), true
}

func newBackend(cc *ClientConn, a Address) *Backend {
	b := &Backend{cc: cc}
	b.addr.Store(&a)
	b.load.Store(noLoad)
	return b
}

// connectLocked starts a dial if the backend has no connection and none is
// being made, now or, during a backoff, when it ends.
func (b *Backend) connectLocked() {
	cc := b.cc
	if b.removed || cc.closed || b.dialing > 0 || len(b.conns) > 0 {
		return
	}
	if wait := time.Until(b.retryAt); wait > 0 {
		if b.retry == nil {
			b.retry = time.AfterFunc(wait, func() {
				cc.mu.Lock()
				defer cc.mu.Unlock()
				b.retry = nil
				b.connectLocked()
				cc.updateStateLocked()
			})
		}
		return
	}
	b.startDialLocked()
}

// startDialLocked dials the backend on a goroutine the ClientConn waits for
// when it closes.
func (b *Backend) startDialLocked() {
	b.dialing++
	if len(b.conns) == 0 {
		b.state = Connecting
	}
	b.cc.goroutines.Add(1)
	go b.dial(b.Address())
}

func (b *Backend) dial(addr Address) {
	cc := b.cc
	defer cc.goroutines.Done()
	c, rc, err := cc.dialAddr(addr)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	b.dialing--
	if b.removed || cc.closed {
		if c != nil {
			cc.retireLocked(c)
		}
		return
	}
	if err != nil {
		if len(b.conns) > 0 {
			// An extra connection failed; the backend still serves. The
			// calls waiting for it queue on the others, and the next extra
			// dial waits for the backoff.
			b.failures++
			b.retryAt = time.Now().Add(cc.opts.backoff.delay(b.failures))
			cc.updateStateLocked()
			return
		}
		b.failures++
		b.lastErr = err
		cc.lastErr = err
		b.retryAt = time.Now().Add(cc.opts.backoff.delay(b.failures))
		b.state = TransientFailure
		cc.res.requestRefresh()
		if cc.pickFirst() {
			cc.pickFirstNextLocked(b)
		} else {
			b.connectLocked()
		}
		cc.updateStateLocked()
		return
	}
	b.failures, b.lastErr, b.retryAt = 0, nil, time.Time{}
	b.conns = append(b.conns, c)
	if len(b.conns) > 1 {
		b.idleSince = append(b.idleSince, time.Time{})
		if b.idleCheck == nil {
			b.idleCheck = time.AfterFunc(cc.extraIdle/2, b.closeIdleExtras)
		}
	}
	b.state = Ready
	c.OnEnd(func() { cc.connEnded(b, c) })
	if cc.healthService != nil && b.healthConn == nil {
		b.startHealthWatchLocked(c)
	}
	if cc.keepalive.Time > 0 {
		cc.goroutines.Add(1)
		go cc.keepaliveLoop(c, rc)
	}
	cc.updateStateLocked()
}

// connEnded drops c, which ended, from b.
func (cc *ClientConn) connEnded(b *Backend, c *conn.Conn) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if i := slices.Index(b.conns, c); i >= 0 {
		b.dropConnLocked(i)
		cc.res.requestRefresh()
		cc.updateStateLocked()
	}
}

// dropConnLocked removes conns[i]; the backend goes IDLE without
// connections, and a balancer other than pick_first reconnects it at once.
func (b *Backend) dropConnLocked(i int) {
	b.stopHealthWatchLocked(b.conns[i])
	b.conns = slices.Delete(b.conns, i, i+1)
	if i > 0 {
		b.idleSince = slices.Delete(b.idleSince, i-1, i)
	} else if len(b.idleSince) > 0 {
		b.idleSince = b.idleSince[1:]
	}
	if len(b.conns) > 0 || b.dialing > 0 {
		return
	}
	b.state = Idle
	if !b.cc.pickFirst() {
		b.connectLocked()
	}
}

// connLocked returns a connection of b for a new call, or nil if b has none
// that takes new streams (it is then IDLE, or CONNECTING again). With more
// than one connection allowed, it returns the first with a free stream
// slot; when none has one it opens another and reports wait: the call
// should wait for it (a state change) rather than queue for a slot (grpc
// proposal A105). At the limit, or while extra dials fail, the call queues
// on the least busy connection.
func (b *Backend) connLocked() (c *conn.Conn, wait bool) {
	cc := b.cc
	for i := 0; i < len(b.conns); {
		c := b.conns[i]
		if !c.Available() {
			b.dropConnLocked(i)
			cc.retireLocked(c)
			cc.updateStateLocked()
			continue
		}
		if cc.maxConns <= 1 {
			return c, false
		}
		if open, limit := c.Streams(); open < limit {
			return c, false
		}
		i++
	}
	if len(b.conns) == 0 {
		return nil, false
	}
	if b.dialing > 0 {
		return nil, true
	}
	if len(b.conns) < cc.maxConns && !time.Now().Before(b.retryAt) {
		b.startDialLocked()
		return nil, true
	}
	best, bestOpen := b.conns[0], uint32(math.MaxUint32)
	for _, c := range b.conns {
		if open, _ := c.Streams(); open < bestOpen {
			best, bestOpen = c, open
		}
	}
	return best, false
}

// closeIdleExtras runs every half cc.extraIdle while b has extra
// connections.
func (b *Backend) closeIdleExtras() {
	cc := b.cc
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if b.removed || cc.closed {
		return
	}
	b.closeIdleExtrasLocked(time.Now())
	if len(b.conns) > 1 {
		b.idleCheck.Reset(cc.extraIdle / 2)
	} else {
		b.idleCheck = nil
	}
}

// closeIdleExtrasLocked retires the extra connections (all but the first)
// that have had no stream for cc.extraIdle.
func (b *Backend) closeIdleExtrasLocked(now time.Time) {
	for i := len(b.conns) - 1; i >= 1; i-- {
		c := b.conns[i]
		if open, _ := c.Streams(); open > 0 {
			b.idleSince[i-1] = time.Time{}
			continue
		}
		switch since := b.idleSince[i-1]; {
		case since.IsZero():
			b.idleSince[i-1] = now
		case now.Sub(since) >= b.cc.extraIdle:
			b.dropConnLocked(i)
			b.cc.retireLocked(c)
		}
	}
}

// done records the end of a call b was picked for: err is its status
// (io.EOF or nil for OK) and trailer its trailers.
func (b *Backend) done(err error, trailer MD) {
	if b == nil {
		return // a call pinned to a connection
	}
	b.outstanding.Add(-1)
	if vs := trailer[loadReportKey]; len(vs) > 0 {
		if u, ok := parseLoadReport([]byte(vs[len(vs)-1])); ok {
			b.load.Store(math.Float64bits(u))
		}
	}
	if b.cc.outlier == nil {
		return
	}
	b.cc.outlier.record(b, err)
}

// release forgets a call b was picked for that never reached it.
func (b *Backend) release() {
	if b != nil {
		b.outstanding.Add(-1)
	}
}

// shutdownLocked removes b: its connections finish their calls and close.
func (b *Backend) shutdownLocked() {
	b.removed = true
	b.state = Shutdown
	if b.retry != nil {
		b.retry.Stop()
		b.retry = nil
	}
	if b.idleCheck != nil {
		b.idleCheck.Stop()
		b.idleCheck = nil
	}
	if b.ejectTimer != nil {
		b.ejectTimer.Stop()
		b.ejectTimer = nil
	}
	if b.healthCancel != nil {
		b.healthCancel()
	}
	for _, c := range b.conns {
		b.cc.retireLocked(c)
	}
	b.conns, b.idleSince = nil, nil
}

// State returns the backend's connectivity state.
func (b *Backend) State() ConnectivityState {
	b.cc.mu.Lock()
	defer b.cc.mu.Unlock()
	return b.stateLocked()
}

// stateLocked is the backend's state as the balancer sees it: a connected
// backend whose health watch has heard nothing yet is still CONNECTING,
// and one that is not SERVING is in TRANSIENT_FAILURE.
func (b *Backend) stateLocked() ConnectivityState {
	if b.state != Ready || b.cc.healthService == nil {
		return b.state
	}
	switch b.health {
	case healthUnknown:
		return Connecting
	case healthNotServing:
		return TransientFailure
	}
	return Ready
}

// Conns returns how many connections the backend holds.
func (b *Backend) Conns() int {
	b.cc.mu.Lock()
	defer b.cc.mu.Unlock()
	return len(b.conns)
}
