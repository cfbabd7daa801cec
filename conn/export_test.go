package conn

import (
	"fmt"
	"testing"
	"time"
)

// MaxTurn is the most DATA the round-robin sends of one stream per turn.
const MaxTurn = maxTurn

// SetStreamIDLimit makes OpenStream treat ids above n as exhausted, so tests
// can reach the end of the id space (RFC 9113 §5.1.1) in a few streams.
func SetStreamIDLimit(c *Conn, n uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idLimit = n
}

// Writing reports whether someone holds the right to write c's queued
// frames: an inline writer or a flusher goroutine.
func Writing(c *Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.busy
}

// IdleArmed reports whether the idle deadline that moves the reader is
// armed.
func IdleArmed(c *Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.idleArmed
}

// IdleMoveDelay is how long a connection idles before its reader moves, and
// IdleMoveEvery the least time between two moves.
const (
	IdleMoveDelay = idleMoveDelay
	IdleMoveEvery = idleMoveEvery
)

// PendingDeadlines reports how many streams' deadlines c keeps.
func PendingDeadlines(c *Conn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadlines.len()
}

// BufferedData reports the DATA bytes c holds unread in its streams'
// buffers, and checks the connection credit they withhold: every byte
// received and not yet credited back is one of them, past the part whose
// credit returns on arrival.
func BufferedData(c *Conn) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if got, want := c.recvWin.Buffered(), c.withheld(c.unread); got != want {
		return c.unread, fmt.Errorf("connection window: %d bytes received and not credited back, want %d (%d unread)", got, want, c.unread)
	}
	return c.unread, nil
}

// Leads reports how many times a waiting goroutine took c's read role
// (lead.go), and whether one holds it now.
func Leads(c *Conn) (n int, leading bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.leads), c.readRole == roleLeader
}

// Waiters reports how many goroutines wait on c's stream gates.
func Waiters(c *Conn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.waiters)
}

// ReadRoleFree reports whether nobody holds c's read role (the background
// reader parked and no goroutine leads).
func ReadRoleFree(c *Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readRole == roleFree
}

// SetLeadIdle sets how long the read role of connections started from now
// on may stay free, until t ends: tests that need a parked reader to stay
// parked lengthen it.
func SetLeadIdle(t testing.TB, d time.Duration) {
	old := leadIdle
	leadIdle = d
	t.Cleanup(func() { leadIdle = old })
}

// SetInlineIdle sets the period of the watchdog of Handlers run inline
// on connections started from now on, until t ends.
func SetInlineIdle(t testing.TB, d time.Duration) {
	old := inlineIdle
	inlineIdle = d
	t.Cleanup(func() { inlineIdle = old })
}

// InlineIdle is the watchdog's period.
func InlineIdle() time.Duration { return inlineIdle }

// BDPStartWindow is the connection receive window a measured one starts at.
const BDPStartWindow = bdpStartWindow

// RecvWindowSize is c's connection receive window: the credit it gives the
// peer when nothing is buffered.
func RecvWindowSize(c *Conn) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recvWin.Size()
}

// ContextMade reports whether c made the context Context returns.
func ContextMade(c *Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.baseCtx != nil
}

// SpareGates returns how many gates c keeps for its next waits.
func SpareGates(c *Conn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.gates)
}

// InlineRuns reports how many Handlers c ran on its reading goroutine.
func InlineRuns(c *Conn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inline == nil {
		return 0
	}
	return int(c.inline.runs)
}

// StreamBuffered reports how many received bytes wait in s's buffer, not
// counting those copied straight into a waiting ReadFull's.
func StreamBuffered(s *Stream) int {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.buf.Len()
}

// KeptLeadWatch reports whether c keeps a lead watcher for its next
// stream (lead.go, leadKeep), and whether it remembers a context at all.
func KeptLeadWatch(c *Conn) (kept, remembers bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keep != nil && c.keep.stop != nil, c.keep != nil
}
