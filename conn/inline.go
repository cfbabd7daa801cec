package conn

import "time"

// Handlers run on the reading goroutine (server).
//
// A new stream's Handler usually runs on a goroutine of its own
// (handlers.go), which costs a goroutine start and a hand-off per request.
// When the background reader applied a stream's whole request (END_STREAM
// arrived) and no further frame is buffered, it runs that stream's Handler
// itself instead, a server-side leader/follower: the request reaches its
// Handler with no goroutine start and no hand-off, and the reply is
// written inline as always. Of the streams opened in one batch of frames
// only the last is kept for this (inlineNext); the others start their
// goroutines as before.
//
// While the Handler runs, the background reader's place is vacant
// (inlineStream is set) and nobody reads (readRole is roleFree): a
// goroutine that waits for its stream's frames may lead (lead.go). Reading
// must not wait for a slow Handler, so a new background reader goroutine
// starts (readOn), taking the place, as soon as
//
//   - a goroutine starts to wait for something only the peer's frames can
//     bring without leading (needReaderLocked: a write gate, say the
//     inline Handler's own write waiting for credit), or a leader lets go
//     while the place is vacant;
//   - the Handler has run for inlineIdle to 2 inlineIdle (the watchdog
//     timer, armed at most once per inlineIdle, not per request), so PINGs,
//     SETTINGS, other streams' frames and the connection's end are seen
//     within that, as when the background reader parks.
//
// When the Handler returns, its goroutine takes the place back if it is
// still vacant, and reads on; if a new reader took it, the goroutine ends,
// as a Handler goroutine does. The reading WaitGroup's count goes with the
// place.

// inlineIdle is the watchdog's period: a request that arrives while a
// slow Handler runs inline waits at most about twice this to be read. At
// 100 µs the watchdog fires at most 10,000 times a second while Handlers
// run inline (none while they do not), and a unary call at one in flight
// keeps most of what running its Handler inline gains (1 ms kept 18 % off
// the time per call, 100 µs 14 %; BenchmarkRPC, 8 alternated runs), while
// the other streams of a server whose Handlers take milliseconds wait
// 0.2 ms at most, not 2 ms. A var so that tests can hold the watchdog off.
var inlineIdle = 100 * time.Microsecond

// inlineRequestLocked is startHandlerLocked's choice for a new stream s
// when a handler may start: the background reader keeps s to run its
// Handler itself (runInlineLocked) and starts the one it kept before;
// anyone else starts s's goroutine.
func (c *Conn) inlineRequestLocked(s *Stream) {
	if c.readRole != roleReader {
		go c.serveStreams(s)
		return
	}
	if prev := c.inlineNext; prev != nil {
		go c.serveStreams(prev)
	}
	c.inlineNext = s
}

// startKeptLocked starts the goroutine of a stream kept for running
// inline that will not be (the reader ends, or the request is not whole).
func (c *Conn) startKeptLocked() {
	if s := c.inlineNext; s != nil {
		c.inlineNext = nil
		go c.serveStreams(s)
	}
}

// runInlineLocked runs, on the background reader's goroutine, the Handler
// of the stream kept by inlineRequestLocked, if its request is whole; it
// is called when no frame is left buffered. It reports whether it ran one
// (reader tells whether this goroutine still holds the reader's place).
// It is called and returns with c.mu held.
func (c *Conn) runInlineLocked() (ran, reader bool) {
	s := c.inlineNext
	if s == nil {
		return false, true
	}
	if !s.endRecv || c.err != nil {
		c.startKeptLocked()
		return false, true
	}
	c.inlineNext = nil
	c.inlineStream, c.readRole, c.woken = s, roleFree, nil
	w := c.inline
	if w == nil {
		w = &inlineWatch{idle: inlineIdle}
		c.inline = w
	}
	w.runs++
	if !w.armed {
		w.armed, w.seen = true, w.runs
		if w.timer == nil {
			w.timer = time.AfterFunc(w.idle, c.onInlineWatch)
		} else {
			w.timer.Reset(w.idle)
		}
	}
	c.mu.Unlock()
	if next := c.serveStream(s); next != nil {
		// A stream waited for a handler: it runs on a goroutine of its
		// own, which keeps the place in c.handlers.
		go c.serveStreams(next)
	}
	c.mu.Lock()
	return true, c.readerBackLocked(s)
}

// readerBackLocked is the goroutine that ran s's Handler inline taking the
// background reader's place back after the Handler returned, if no new
// reader took it; then it reads once the read role is free again (a leader may hold
// it). It reports whether it took the place.
func (c *Conn) readerBackLocked(s *Stream) bool {
	if c.inlineStream != s {
		return false // a new reader took the place
	}
	c.inlineStream = nil
	if c.readRole == roleFree {
		c.readRole = roleReader
		return true
	}
	// A leader reads: wait, parked, until it lets go (lead.go).
	c.waitRoleLocked()
	return true
}

// takeVacantLocked starts a new background reader if the place is vacant
// (a Handler runs inline); the caller gave the read role to the
// background reader. It reports whether it did.
func (c *Conn) takeVacantLocked() bool {
	if c.inlineStream == nil {
		return false
	}
	c.inlineStream = nil
	go c.readOn()
	return true
}

// onInlineWatch is the watchdog (on a timer goroutine): a Handler that
// has run inline since the last check, inlineIdle ago, gets a new reader
// beside it.
func (c *Conn) onInlineWatch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.inline
	if c.inlineStream == nil {
		w.armed = false
		return
	}
	if w.seen != w.runs {
		// Another Handler runs inline now: check it in inlineIdle.
		w.seen = w.runs
		w.timer.Reset(w.idle)
		return
	}
	w.armed = false
	c.needReaderLocked()
}

// inlineWatch is the watchdog of the Handlers a connection runs on its
// reading goroutine: timer fires idle after it was armed (at most once per
// idle, by the first run while it is not armed); runs counts the runs, seen
// is the run that was going on when the timer was last armed. Guarded by
// Conn.mu.
type inlineWatch struct {
	timer      *time.Timer
	idle       time.Duration
	runs, seen uint32
	armed      bool
}
