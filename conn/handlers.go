package conn

import "github.com/h2rpc/h2rpc/frame"

// The server bounds the Handler goroutines of a connection by
// Config.MaxHandlers (default MaxConcurrentStreams plus a quarter). A
// stream the peer opens while that many run waits, opened but without a
// handler, in c.waiting; each handler goroutine that ends takes the oldest
// waiting stream that is still open and runs its handler next. The reader
// never waits for a handler: it goes on applying DATA, WINDOW_UPDATE,
// RST_STREAM, SETTINGS and PING for every stream, so a handler that waits
// on the connection (on its stream's data, on credit to write, on another
// stream's handler) always gets to finish.
//
// The bounds that make this safe against Rapid Reset (CVE-2023-44487) and
// MadeYouReset, where the peer opens streams and gets them reset (by its
// RST_STREAM or by a stream error it provokes) to make us start handlers
// faster than they end:
//
//   - handler goroutines: at most MaxHandlers, whatever the peer resets. A
//     reset stream's handler still counts until it returns.
//   - waiting streams: a waiting stream is open, so the streams that wait
//     are at most MaxConcurrentStreams (beyond it the peer's HEADERS get
//     REFUSED_STREAM), and each holds what an open stream holds: its
//     header list and at most a window of DATA. A waiting stream that is
//     reset is dropped at once (its data and credit released) and never
//     gets a handler; its entry in c.waiting is skipped later, and entries
//     are compacted once they outnumber twice MaxConcurrentStreams.
//   - CPU: a stream reset before its handler started costs the reader the
//     frames' parsing and HPACK decoding, nothing more; handlers run at most
//     MaxHandlers at a time, as for a peer that never resets.
//
// Blocking the reader instead (grpc-go waits on a handler quota before it
// reads on) would stop the DATA and WINDOW_UPDATE a running handler waits
// for, so a handler that waits on another stream would deadlock the
// connection, and PING would go unanswered. A queue without that bound
// (x/net keeps reset streams in its queue and ends the connection with
// ENHANCE_YOUR_CALM past four times the stream limit) ends honest
// connections whose calls time out faster than their handlers finish.

// startHandlerLocked runs the Handler for the new stream s, or queues s if
// MaxHandlers handlers are running.
func (c *Conn) startHandlerLocked(s *Stream) {
	if c.handlers < c.cfg.maxHandlers {
		// No stream is waiting then: a handler that ends takes a waiting
		// stream before it gives up its place.
		c.handlers++
		c.inlineRequestLocked(s) // inline.go
		return
	}
	if len(c.waiting) >= 2*int(min(c.cfg.maxConcurrentStreams, 1<<20)) {
		c.compactWaitingLocked()
	}
	s.handlerWaits = true
	c.waiting = append(c.waiting, s)
}

// compactWaitingLocked drops the entries of waiting streams that were
// reset. At most MaxConcurrentStreams waiting streams are open, so at least
// as many pushes come before the next compaction.
func (c *Conn) compactWaitingLocked() {
	live := c.waiting[:0]
	for _, s := range c.waiting {
		if !s.removed {
			live = append(live, s)
		}
	}
	clear(c.waiting[len(live):])
	c.waiting = live
}

// serveStreams is a handler goroutine: it runs the Handler for s, then for
// each waiting stream it takes.
func (c *Conn) serveStreams(s *Stream) {
	for s != nil {
		s = c.serveStream(s)
	}
}

// serveStream runs the Handler for s and returns the next stream to serve,
// if one waits.
func (c *Conn) serveStream(s *Stream) (next *Stream) {
	returned := false
	defer func() { next = c.handlerReturned(s, returned) }()
	c.handler(s)
	returned = true
	return nil
}

// handlerReturned cleans up after a Handler: a stream it did not end is
// reset with CANCEL; one whose request was not read to its end is reset with
// NO_ERROR (RFC 9113 §8.1: "A server can send a complete response prior to
// the client sending an entire request ... the server MAY request that the
// client abort transmission of a request without error by sending a
// RST_STREAM with an error code of NO_ERROR"). Unless the Handler panicked,
// it takes the oldest waiting stream still open for the same goroutine.
func (c *Conn) handlerReturned(s *Stream, returned bool) *Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.handlerDone = true
	if !s.removed && c.err == nil {
		code := frame.ErrCodeCancel
		if s.sentEnd() {
			code = frame.ErrCodeNo
		}
		c.resetLocked(s, code, &ResetError{StreamID: s.id, Code: code})
	}
	c.discardLocked(s)
	s.sctx.cancel()
	// A handler that led (lead.go) will not wait again: the background
	// reader reads for the next streams. (A handler run inline takes the
	// reader's place back itself, inline.go.)
	if c.inlineStream != s {
		c.needReaderLocked()
	}
	for returned && len(c.waiting) > 0 {
		next := c.waiting[0]
		c.waiting[0] = nil
		c.waiting = c.waiting[1:]
		next.handlerWaits = false
		if !next.removed {
			return next // this goroutine stays counted in c.handlers
		}
	}
	if len(c.waiting) == 0 {
		c.waiting = nil
	}
	c.handlers--
	return nil
}
