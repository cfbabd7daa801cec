package conn

import (
	"errors"
	"time"
)

// Idle connections wait on a small stack.
//
// Applying frames grows the reader goroutine's stack to 4 KiB or more, and
// Go shrinks a stack only while less than a quarter of it is in use, which
// a goroutine waiting in Read never is. So once a connection has had no
// stream for idleMoveDelay, its reader hands reading on to a fresh
// goroutine, which waits in the smallest stack (2 KiB, or the runtime's
// current starting size), and ends. The wait is timed by the read
// deadline, armed when the last stream closes. A stream that opens does
// not clear it (that would cost a SetReadDeadline per call, two with the
// re-arming, at one call in flight): it only marks the spell broken, and a
// deadline that passes on a broken spell is re-armed from then if the
// connection is idle again, or cleared if not. So a connection moves
// between idleMoveDelay and twice that after its last stream closed; a
// busy one pays one timeout wake-up per idleMoveDelay, an idle one one
// wake-up and one goroutine start. At the move the connection also asks
// its net.Conn to let go of buffers kept for bursts, if it has a method
// ReleaseIdle() (h2tls's connections do). Moves are rationed: two in quick succession (after the
// handshake and after the first calls), then one per idleMoveEvery, so a
// connection whose calls come a little further apart than idleMoveDelay
// does not pay for a move per call, and still moves within idleMoveEvery
// of its last call.

const (
	// idleMoveDelay is how long a connection must have no stream before
	// its reader moves.
	idleMoveDelay = 10 * time.Millisecond
	// idleMoveEvery is the rate at which moves are allowed, after two.
	idleMoveEvery = time.Second
)

// errMoved ends a reader goroutine that handed reading on to a fresh one;
// errReplaced one that ran a Handler inline while a new reader took its
// place (inline.go).
var (
	errMoved    = errors.New("conn: reader moved to a fresh goroutine")
	errReplaced = errors.New("conn: reader replaced while it ran a handler")
)

// noteIdleLocked arms the idle deadline if the connection has no stream
// (it runs when a stream closes, and after the handshake).
func (c *Conn) noteIdleLocked() {
	if c.idleDeadline || c.err != nil || len(c.streams) > 0 || c.nLocal > 0 || c.interrupted {
		return // (a deadline still set re-arms itself when it passes)
	}
	now := time.Now()
	wait := idleMoveDelay
	if next := c.movesFullAt.Add(-idleMoveEvery); next.After(now) {
		// One move is allowed from idleMoveEvery before the allowance is
		// full again.
		wait = max(wait, next.Sub(now))
	}
	if c.nc.SetReadDeadline(now.Add(wait)) == nil {
		c.idleArmed, c.idleDeadline = true, true
	}
}

// noteBusyLocked breaks the idle spell: a stream opens. The deadline stays
// set; idleTimeout sorts it out when it passes.
func (c *Conn) noteBusyLocked() { c.idleArmed = false }

// idleTimeout handles a read that timed out, on the reader goroutine. ours
// reports whether the idle deadline caused it (it may have fired just as a
// stream opened); move whether the reader should move.
func (c *Conn) idleTimeout() (move, ours bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.idleDeadline || c.err != nil {
		return false, false
	}
	move = c.idleArmed
	c.idleArmed, c.idleDeadline = false, false
	if move {
		now := time.Now()
		if c.movesFullAt.Before(now) {
			c.movesFullAt = now
		}
		c.movesFullAt = c.movesFullAt.Add(idleMoveEvery)
		// An idle connection keeps no spare gates (gate.go): the next
		// wait makes one, at most once per move.
		c.gates = nil
	}
	c.nc.SetReadDeadline(time.Time{})
	if !move {
		// Streams came since the deadline was set: a new spell starts
		// now if none is open.
		c.noteIdleLocked()
	}
	return move, true
}
