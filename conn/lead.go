package conn

import (
	"context"
	"errors"
	"time"

	"github.com/h2rpc/h2rpc/frame"
)

// The read role: a caller that waits reads its own frames.
//
// One goroutine at a time holds the read role: it owns c.fr and the
// decoding state (the fields "owned by the reader goroutine" in Conn) and
// reads and applies frames. Usually that is the background reader
// (readLoop). But when a goroutine is about to wait on its stream's read
// gate and nobody reads, it takes the role itself, a leader: it reads and
// applies frames (for every stream, control frames included) until its own
// gate is signalled, applies what whole frames are left buffered, and lets
// go. The message it waits for then reaches it without a goroutine
// hand-off: the netpoller wakes the goroutine that needs the data.
//
// Nobody reads (roleFree) only after the background reader parked itself,
// which it does when the frame it just applied woke the one goroutine
// waiting on the connection, one waiting for its stream's frames (which
// may lead), and no whole frame is left buffered: that goroutine is likely
// to wait again soon (the next message of a ping-pong, the next unary
// call) and lead then. The background reader takes the role back
//
//   - at once when a goroutine starts to wait and may not lead (a write
//     gate, a slot under MAX_CONCURRENT_STREAMS, a PING), when a leader
//     lets go while others wait or the connection ended, and when a server
//     handler returns (the reader does not park at all for a handler that
//     has its whole request: it will not wait to read again);
//   - otherwise after leadIdle to twice that without a leader (its park
//     timer, which fires every leadIdle and looks whether anyone led
//     since), so PINGs, SETTINGS, GOAWAY, new streams and the connection's
//     end are seen within 2 leadIdle even when nobody waits.
//
// A leader blocked in Read whose gate is signalled by another goroutine
// (its context ended, the server deadline passed, Reset, Close) is
// interrupted with a read deadline in the past: the frame reader keeps a
// partly read frame across the timeout, so no frame is lost or split, and
// the deadline is cleared (or the idle deadline re-armed) before anyone
// reads again. A client stream opened Unwatched has no watcher on its
// context: when its goroutine first leads, one is registered
// (context.AfterFunc, onLeaderContextDone; kept until the stream is
// removed, so a message read in many waits costs one, and then for the
// next stream if their contexts end together: leadKeep), which interrupts
// the leader if its context ended; the goroutine then resets the stream as
// a follower whose context ended would. Between leads it does nothing.

// leadIdle bounds how long the read role stays free while nobody leads
// (tests lengthen it).
var leadIdle = time.Millisecond

// readerPark is where the background reader waits while it does not hold
// the read role: wake is signalled when the role is given back to it, and
// timer fires every idle while it waits; leads is Conn.leads when the
// timer was last armed, so a fire after leads moved re-arms it instead of
// taking the role (a timer reset per lead cost a unary call at one in
// flight more than the fires do).
type readerPark struct {
	wake  chan struct{}
	timer *time.Timer
	idle  time.Duration
	leads uint32
}

// Who holds the read role (Conn.readRole).
const (
	roleReader uint8 = iota // the background reader
	roleFree                // nobody: the background reader is parked
	roleLeader              // a goroutine waiting in waitLocked
)

// aLongTimeAgo is a read deadline that interrupts a blocked Read at once.
var aLongTimeAgo = time.Unix(1, 0)

// leadWatchLocked returns the watcher a goroutine about to lead for s
// registers on s's context if nothing else watches it (a client stream
// opened Unwatched whose context can end), or nil; s.leadStop keeps its
// stop function until the stream is removed (stopLeadWatchLocked).
func (c *Conn) leadWatchLocked(s *Stream) (stop func() bool) {
	if c.role == roleServer || s.stopWatch != nil {
		return nil
	}
	done := s.ctx.Done()
	if done == nil {
		return nil
	}
	if k := c.keep; k != nil && k.stop != nil && k.done == done {
		stop, k.stop, k.done = k.stop, nil, nil
		return stop
	}
	return context.AfterFunc(s.ctx, c.onLeaderDone)
}

// leadKeep keeps a lead watcher for the next stream. A caller that makes
// its calls under one context (or under contexts that end together, as
// values derived from one: the same Done channel) would otherwise register
// and stop a watcher per call (context.AfterFunc: two allocations, and its
// parent's lock and map of children twice). When a stream whose watcher is
// stopped has the same Done channel as the stream stopped before it, the
// watcher is kept for the next stream with that channel instead (it
// watches the channel, not the stream: onLeaderContextDone looks at
// whoever leads). Calls with a context each, ended when they return, never
// keep one: a kept watcher would fire for each, a goroutine per call. One
// is kept at most, stopped when another replaces it or the connection ends
// (dropKeptLeadLocked), so a connection references a caller's context at
// most that long.
type leadKeep struct {
	done     <-chan struct{} // the Done channel stop's watcher watches; nil for none
	stop     func() bool
	lastDone <-chan struct{} // the Done channel of the stream whose watcher was stopped last
}

// onLeaderContextDone runs (on its own goroutine) when the context of a
// stream whose goroutine leads unwatched ends: if the leader's context has
// ended, the leader stops reading (leaderCtxDone) and its Read is
// interrupted. A call that comes late, after that leader let go, finds
// another leader or none, whose context has not ended, and does nothing.
func (c *Conn) onLeaderContextDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.leader
	if s == nil || s.ctx.Err() == nil {
		return
	}
	c.leaderCtxDone = true
	if c.inRead {
		c.interruptLeaderLocked()
	}
}

// needReaderLocked makes sure somebody reads: a goroutine is about to wait
// for something only the peer's frames can bring, without leading. It is
// kept out of line: six call sites, none of them hot, and the hello-world
// binary's size has a budget (bench/helloworld).
//
//go:noinline
func (c *Conn) needReaderLocked() {
	if c.readRole == roleFree {
		c.readRole = roleReader
		if !c.takeVacantLocked() { // inline.go
			signal(c.park.wake)
		}
	}
}

// leadLocked reads and applies frames as the leader until ch (the caller's
// read gate, published in s) is signalled or the connection ends. It is
// called and returns with c.mu held, releasing it while it reads.
func (c *Conn) leadLocked(s *Stream, ch chan struct{}) {
	c.readRole, c.leader = roleLeader, s
	c.leads++
	for c.err == nil && !c.leaderCtxDone {
		// Once the token is in, whole frames already buffered are still
		// applied: they may be this stream's next frames (a unary
		// response's DATA and trailers), and nobody would read them before
		// the next leader.
		got := len(ch) > 0 // waitLocked takes the token
		if got && (!c.fr.Ready() || c.keepForDirectLocked(s)) {
			break
		}
		if !got {
			// The rest of a large DATA frame for our own ReadFull: read
			// straight into its buffer.
			if ok, err := c.readDirectLocked(s); ok {
				if err != nil {
					if err != errEnded {
						c.failLocked(err)
					}
					break
				}
				continue
			}
		}
		c.inRead = !got
		c.mu.Unlock()
		f, err := c.readFrame()
		c.mu.Lock()
		c.inRead = false
		if err != nil && isTimeout(err) && c.readTimeoutLocked() {
			continue
		}
		c.mu.Unlock()
		err = c.applyFrame(f, err)
		c.mu.Lock()
		if err != nil {
			if err != errEnded {
				c.failLocked(err)
			}
			break
		}
	}
	c.clearInterruptLocked()
	c.leader, c.leaderCtxDone = nil, false
	if c.waiters > 1 || c.othersWaitLocked() || c.inlineStream != nil {
		// Others wait for their frames, or the background reader must see
		// the connection end, or its place is vacant (inline.go).
		c.readRole = roleReader
		if !c.takeVacantLocked() {
			signal(c.park.wake)
		}
		return
	}
	c.readRole = roleFree // the parked reader's timer counts from the last lead
}

// keepForDirectLocked reports whether a leader whose ReadFull is satisfied
// should leave the next buffered frame unread: it is DATA for the same
// stream, which the caller is likely to ask for with its next ReadFull (a
// message's body after its prefix) and lead again for, so it goes straight
// into that call's buffer instead of through the stream's. If the caller
// does not come back, the background reader applies it within leadIdle.
// Only a frame of minDirectFrame bytes or more is left: for smaller ones
// (a run of small streamed messages) another lead per frame costs more than
// the copy it saves.
func (c *Conn) keepForDirectLocked(s *Stream) bool {
	if s.direct == nil {
		return false
	}
	if c.fr.DataLeft() > 0 {
		// deliverLocked left the rest of a frame of ours.
		return c.part.live && c.part.id == s.id && c.fr.DataLeft() >= minDirectFrame
	}
	h, ok := c.fr.Next()
	return ok && h.Type == frame.TypeData && h.StreamID == s.id && h.Length >= minDirectFrame
}

// minDirectFrame is the smallest DATA frame a leader leaves for its next
// ReadFull (keepForDirectLocked).
const minDirectFrame = 8 << 10

// interruptLeaderLocked stops a leader blocked in Read: another goroutine
// signalled its gate.
func (c *Conn) interruptLeaderLocked() {
	if c.interrupted {
		return
	}
	c.interrupted = true
	c.nc.SetReadDeadline(aLongTimeAgo)
}

// clearInterruptLocked undoes interruptLeaderLocked's deadline, re-arming
// the idle deadline it may have replaced.
func (c *Conn) clearInterruptLocked() {
	if !c.interrupted {
		return
	}
	c.interrupted = false
	c.nc.SetReadDeadline(time.Time{})
	c.idleArmed, c.idleDeadline = false, false
	c.noteIdleLocked()
}

// readTimeoutLocked handles a read that timed out on a leader: an
// interrupt, or the idle deadline (a leader does not move). It reports
// whether the timeout was one of ours.
func (c *Conn) readTimeoutLocked() bool {
	if c.interrupted {
		c.clearInterruptLocked()
		return true
	}
	if !c.idleDeadline || c.err != nil {
		return false
	}
	c.idleArmed, c.idleDeadline = false, false
	c.nc.SetReadDeadline(time.Time{})
	return true
}

// parkReaderLocked is the background reader's choice after applying a
// frame: if that frame woke the only goroutine waiting on the connection,
// one waiting for its stream's frames, and no whole frame is left buffered, the reader lets
// the read role go and parks until it is given back or leadIdle passes
// without a leader. It is called and returns with c.mu held.
func (c *Conn) parkReaderLocked() {
	woken := c.woken
	c.woken = nil
	// The goroutine just woken may already have returned (no waiter);
	// otherwise it must be the one waiter, and woken since its wait began:
	// a waiter still blocked needs someone to read.
	if woken == nil || c.othersWaitLocked() || c.interrupted || c.fr.Ready() {
		return
	}
	if c.role == roleServer && woken.endRecv {
		// The handler has its whole request and will not wait to read
		// again: the reader reads on for the connection's next streams.
		return
	}
	if c.waiters > 1 || c.waiters == 1 && (woken.readWake == nil || !woken.readWoken) {
		return
	}
	c.readRole = roleFree
	c.waitRoleLocked()
}

// waitRoleLocked parks the background reader, which does not hold the
// read role, until the role is given back to it or, if nobody took it,
// leadIdle passed. It is called and returns with c.mu held.
func (c *Conn) waitRoleLocked() {
	p := c.park
	if p == nil {
		p = &readerPark{wake: make(chan struct{}, 1), idle: leadIdle}
		p.timer = time.NewTimer(p.idle)
		c.park = p
	} else {
		select {
		case <-p.wake: // a signal that lost the race with the timer
		default:
		}
		p.timer.Reset(p.idle)
	}
	p.leads = c.leads
	for c.readRole != roleReader {
		c.mu.Unlock()
		fired := false
		select {
		case <-p.wake:
		case <-p.timer.C:
			fired = true
		}
		c.mu.Lock()
		if !fired {
			continue
		}
		if c.readRole == roleFree && c.leads == p.leads {
			// Nobody led for leadIdle: the reader reads on, and drops its
			// park (an idle connection keeps none).
			c.readRole = roleReader
			c.park = nil
			return
		}
		// A goroutine leads, or led since the timer was armed: look again
		// in leadIdle.
		p.leads = c.leads
		p.timer.Reset(p.idle)
	}
	p.timer.Stop()
}

// othersWaitLocked reports whether something other than the goroutines in
// waitLocked waits for the peer's frames, or the connection is ending.
func (c *Conn) othersWaitLocked() bool {
	return c.err != nil || c.draining || c.slotWaiters.Len() > 0 || len(c.pings) > 0
}

// readFrame reads the next frame, counting and tracing it; the caller holds
// the read role.
func (c *Conn) readFrame() (frame.Frame, error) {
	f, err := c.fr.ReadFrame()
	if d, ok := f.(*frame.DataFrame); ok && d.Cont {
		return f, err // a later part of a frame counted and traced whole
	}
	if f != nil {
		c.counters.read(f.FrameHeader())
		if c.cfg.tracer != nil {
			c.cfg.tracer.TraceRead(f)
		}
	}
	return f, err
}

// applyFrame applies what readFrame returned: a frame, a frame with a
// stream error, or a read error (turned into the connection's cause).
func (c *Conn) applyFrame(f frame.Frame, err error) error {
	if err != nil {
		var se *frame.StreamError
		if errors.As(err, &se) && f != nil {
			return c.onStreamErrorFrame(f, se)
		}
		return c.readErr(err, "")
	}
	return c.onFrame(f)
}

// stopLeadWatchLocked stops s's lead watcher, if it has one: s was removed,
// so no goroutine will wait on it any more.
func (s *Stream) stopLeadWatchLocked() {
	stop := s.leadStop
	if stop == nil {
		return
	}
	s.leadStop = nil
	c := s.c
	if c.err != nil {
		stop() // the connection ended: keep nothing (dropKeptLeadLocked)
		return
	}
	k := c.keep
	if k == nil {
		k = &leadKeep{}
		c.keep = k
	}
	done := s.ctx.Done()
	same := done == k.lastDone
	k.lastDone = done
	if !same || s.ctx.Err() != nil {
		stop()
		return
	}
	if k.stop != nil {
		k.stop()
	}
	k.done, k.stop = done, stop
}

// dropKeptLeadLocked stops the kept lead watcher, if any, and forgets the
// contexts: the connection ended.
func (c *Conn) dropKeptLeadLocked() {
	if k := c.keep; k != nil {
		if k.stop != nil {
			k.stop()
		}
		c.keep = nil
	}
}
