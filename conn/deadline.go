package conn

import (
	"errors"
	"time"

	"github.com/h2rpc/h2rpc/frame"
)

// SetDeadline gives a server stream a deadline: its context reports t from
// Deadline and ends with context.DeadlineExceeded once t passes, and the
// stream, unless it completed first, is then reset with RST_STREAM CANCEL.
// (The RPC layer sets a call's grpc-timeout this way.) Call it at most
// once, at the start of the Handler, before anything uses the stream's
// context.
//
// It costs no allocation per stream: the connection keeps its streams'
// deadlines in a heap served by one timer.
func (s *Stream) SetDeadline(t time.Time) error {
	c := s.c
	if c.role != roleServer {
		return errors.New("conn: SetDeadline on a client stream (its context carries the deadline)")
	}
	x := s.sctx
	c.mu.Lock()
	defer c.mu.Unlock()
	x.mu.Lock()
	if !x.deadline.IsZero() || x.real != nil {
		x.mu.Unlock()
		return errors.New("conn: SetDeadline after the stream's context was used, or twice")
	}
	x.deadline = t
	x.mu.Unlock()
	if s.removed || c.err != nil {
		return nil // cancelled already: the deadline changes nothing
	}
	c.deadlines.push(s)
	if c.deadlines.s[0] == s {
		c.armDeadlineTimerLocked()
	}
	return nil
}

// armDeadlineTimerLocked sets the deadline timer for the earliest deadline.
func (c *Conn) armDeadlineTimerLocked() {
	d := time.Until(c.deadlines.s[0].sctx.deadline)
	if c.deadlineTimer == nil {
		c.deadlineTimer = time.AfterFunc(d, c.onDeadlines)
		return
	}
	c.deadlineTimer.Reset(d)
}

// onDeadlines runs on the timer's goroutine: it resets every stream whose
// deadline passed and sets the timer for the next one. A run that finds
// nothing due (the timer was moved meanwhile) only re-arms it.
func (c *Conn) onDeadlines() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	now := time.Now()
	for c.deadlines.len() > 0 {
		s := c.deadlines.s[0]
		if s.sctx.deadline.After(now) {
			c.armDeadlineTimerLocked()
			return
		}
		c.deadlines.remove(s)
		// PROTOCOL-HTTP2.md, Client Cancellation: when the deadline
		// passes "the server should locally cancel the RPC and send
		// RST_STREAM with CANCEL error code". Marked first, so the
		// context reports DeadlineExceeded rather than the reset.
		s.sctx.expire()
		c.resetLocked(s, frame.ErrCodeCancel, &ResetError{StreamID: s.id, Code: frame.ErrCodeCancel})
	}
}

// dropDeadlineLocked forgets the deadline of a stream that ended.
func (c *Conn) dropDeadlineLocked(s *Stream) {
	if s.sctx.dlIndex >= 0 {
		c.deadlines.remove(s)
	}
}

// deadlineHeap orders server streams by deadline, earliest first; each
// stream knows its index (sctx.dlIndex), so a stream that ends leaves it in
// O(log n). Guarded by Conn.mu.
type deadlineHeap struct{ s []*Stream }

func (h *deadlineHeap) len() int { return len(h.s) }

func (h *deadlineHeap) less(i, j int) bool {
	return h.s[i].sctx.deadline.Before(h.s[j].sctx.deadline)
}

func (h *deadlineHeap) swap(i, j int) {
	h.s[i], h.s[j] = h.s[j], h.s[i]
	h.s[i].sctx.dlIndex = int32(i)
	h.s[j].sctx.dlIndex = int32(j)
}

func (h *deadlineHeap) push(s *Stream) {
	s.sctx.dlIndex = int32(len(h.s))
	h.s = append(h.s, s)
	h.up(len(h.s) - 1)
}

func (h *deadlineHeap) remove(s *Stream) {
	i := int(s.sctx.dlIndex)
	last := len(h.s) - 1
	if i != last {
		h.swap(i, last)
	}
	h.s[last] = nil
	h.s = h.s[:last]
	s.sctx.dlIndex = -1
	if i != last {
		h.down(i)
		h.up(i)
	}
	if len(h.s) == 0 && cap(h.s) > 64 {
		h.s = nil // a burst's worth of room is not kept by an idle connection
	}
}

func (h *deadlineHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h *deadlineHeap) down(i int) {
	n := len(h.s)
	for {
		child := 2*i + 1
		if child >= n {
			return
		}
		if r := child + 1; r < n && h.less(r, child) {
			child = r
		}
		if !h.less(child, i) {
			return
		}
		h.swap(i, child)
		i = child
	}
}
