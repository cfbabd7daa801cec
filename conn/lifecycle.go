package conn

import (
	"errors"

	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/stream"
)

// closedStreams remembers the closed state (stream.Closed,
// ClosedResetSent or ClosedResetRecv) of the last closedMemory streams that
// closed, so frames arriving late on them get the §5.1 answer for the way
// they closed. A stream it no longer knows reads as stream.Idle, which the
// caller takes for the strictest answer if the peer opened it, and for
// ClosedResetSent (ignored) if we did. The ring grows as streams close,
// so a connection that carried few streams holds little: up to closedFew a
// lookup scans the ring; past that an index finds an id's place in it.
//
// The index is direct-mapped: slot id/2 modulo its length, a power of two
// at least twice the ring's, holds the ring position (plus one) of the
// last stream closed with an id of that slot. Stream ids grow by two per
// stream, so the last closedMemory streams of a peer that uses its ids in
// order have slots of their own; a stream whose slot a later one took
// (ids skipped, or a stream that outlived 2 closedMemory newer ones) is
// forgotten early, which costs nothing but the stricter answer to a
// stream the peer opened (late frames on one we opened are ignored,
// unknownStreamLocked). Unlike a
// map, adding and forgetting are a store each (a map's insert and delete
// were 1.75 % of the CPU of a unary call at one in flight).
type closedStreams struct {
	ring  []closedEntry // in closing order; full at closedMemory, then overwritten from next
	next  int
	index []uint16 // nil while len(ring) <= closedFew; see above
}

type closedEntry struct {
	id uint32
	st stream.State
}

const (
	closedMemory = 1024 // at most 1<<16 - 1, the index's largest position
	closedFew    = 8
)

func (cs *closedStreams) add(id uint32, st stream.State) {
	pos := len(cs.ring)
	if pos < closedMemory {
		cs.ring = append(cs.ring, closedEntry{id, st})
	} else {
		pos = cs.next
		cs.next = (cs.next + 1) % closedMemory
		if i := cs.slot(cs.ring[pos].id); cs.index[i] == uint16(pos+1) {
			cs.index[i] = 0 // forget the oldest
		}
		cs.ring[pos] = closedEntry{id, st}
	}
	switch {
	case len(cs.ring) <= closedFew:
	case len(cs.index) < 2*len(cs.ring):
		cs.grow()
	default:
		cs.index[cs.slot(id)] = uint16(pos + 1)
	}
}

// grow makes the index twice as long as the ring at least and fills it
// from the ring, which has not wrapped yet: later streams win their slots.
func (cs *closedStreams) grow() {
	n := max(2*len(cs.index), 4*closedFew)
	for n < 2*len(cs.ring) {
		n *= 2
	}
	cs.index = make([]uint16, n)
	for pos, e := range cs.ring {
		cs.index[cs.slot(e.id)] = uint16(pos + 1)
	}
}

func (cs *closedStreams) slot(id uint32) int { return int(id>>1) & (len(cs.index) - 1) }

func (cs *closedStreams) get(id uint32) stream.State {
	if cs.index == nil {
		for i := len(cs.ring) - 1; i >= 0; i-- { // the latest first
			if cs.ring[i].id == id {
				return cs.ring[i].st
			}
		}
		return stream.Idle
	}
	if p := cs.index[cs.slot(id)]; p != 0 && cs.ring[p-1].id == id {
		return cs.ring[p-1].st
	}
	return stream.Idle
}

// Connection credit for DATA that waits in a stream's buffer goes back to
// the peer on arrival while the unread total (c.unread) stays within
// cfg.arrivalCredit, and only as the application reads (or drops) it past
// that: what is withheld is always max(0, unread - arrivalCredit). So a few
// streams nobody reads do not starve the others, and a peer that sends on
// streams nobody reads fills at most arrivalCredit plus the connection
// window (Config.MaxBufferedData). Each byte's credit goes back exactly
// once: bufferedLocked returns the part not withheld, unbufferedLocked the
// part no longer withheld. Only the streams' buffers count: DATA copied
// straight into a waiting ReadFull's buffer is the caller's and its credit
// goes back on arrival (onData), and bytes ReadFull takes from a stream's
// buffer leave c.unread as they are copied. Were they counted until its
// buffer is full, ReadFulls waiting on many streams for the rest of their
// messages could withhold the whole connection window, and none would get
// its rest.

// withheld is the connection credit held back while unread bytes wait in
// the streams' buffers.
func (c *Conn) withheld(unread int64) int64 { return max(0, unread-c.cfg.arrivalCredit) }

// bufferedLocked records n bytes of DATA put into a stream's buffer and
// returns their connection credit at once, as far as it is not withheld.
func (c *Conn) bufferedLocked(n int) {
	before := c.withheld(c.unread)
	c.unread += int64(n)
	if free := int64(n) - (c.withheld(c.unread) - before); free > 0 {
		c.releaseConnLocked(uint32(free))
	}
}

// unbufferedLocked records n bytes leaving the streams' buffers (read or
// dropped) and returns the WINDOW_UPDATE increment for the connection
// credit no longer withheld (0: none yet, see RecvWindow.Consume).
func (c *Conn) unbufferedLocked(n int) (increment uint32) {
	before := c.withheld(c.unread)
	c.unread -= int64(n)
	if back := before - c.withheld(c.unread); back > 0 && c.err == nil {
		return c.recvWin.Consume(uint32(back))
	}
	return 0
}

// consumedLocked returns the credit of n bytes the application read from s
// to the peer, in batched WINDOW_UPDATEs: the stream's, and the
// connection's as far as it was withheld. It reports whether it queued
// any: the caller then claims the right to write or kicks a flusher.
func (c *Conn) consumedLocked(s *Stream, n int) (queued bool) {
	inc := c.unbufferedLocked(n)
	if c.err != nil {
		return false
	}
	queued = c.streamConsumedLocked(s, n)
	if inc > 0 {
		c.w.windowUpdateLocked(0, inc)
		queued = true
	}
	return queued
}

// streamConsumedLocked returns the stream credit of n bytes the
// application read from s, batched; of bytes a ReadFull holds, whose
// connection credit went back as they arrived or left the stream's buffer
// (readFullLocked). It reports whether it queued a WINDOW_UPDATE.
func (c *Conn) streamConsumedLocked(s *Stream, n int) bool {
	if c.err != nil {
		return false
	}
	if inc := s.recvWin.Consume(uint32(n)); inc > 0 && s.state.CanRecvData() {
		c.w.windowUpdateLocked(s.id, inc)
		return true
	}
	return false
}

// needCreditLocked reports whether a ReadFull on s that still needs room
// bytes must return the credit of what it read so far before it waits:
// the stream or the connection window lets the peer send less than room.
// Otherwise the credit waits for ReadFull to return, which writes the
// WINDOW_UPDATEs itself, so that a message within the windows costs no
// flusher.
func (c *Conn) needCreditLocked(s *Stream, room int) bool {
	return int64(room) > min(s.recvWin.Advertised(), c.recvWin.Advertised())
}

// creditDirectLocked returns the credit of the bytes copied into the
// buffer of a waiting ReadFull (s.direct) when the peer needs it to fill
// the buffer (needCreditLocked).
func (c *Conn) creditDirectLocked(s *Stream) {
	if !c.needCreditLocked(s, len(s.direct)-s.directN) {
		return
	}
	k := s.directN - s.directCredited
	s.directCredited = s.directN
	if c.streamConsumedLocked(s, k) {
		c.w.kickLocked()
	}
}

// releaseConnLocked returns the connection credit of n bytes the
// application will never read (padding, data of closed or reset streams),
// or whose credit returns on arrival. It is batched like consumed data: the
// threshold is a quarter of the window. The WINDOW_UPDATE is queued, but a
// flusher is started for it only once the peer would be left with half
// the window or less without it: until then it goes out with the next
// batch anyone writes (a reply, a request, a stream's credit), and the
// peer, which still has more than half the window, cannot stall. On a
// unary call of 64 KiB each way this was a flusher goroutine and a write
// per call on each side. While a bandwidth sample is out (flowcontrol.BDP),
// and once a sample grew the window (a link whose round trip the window
// limits), the credit goes at once: held back, it would keep the peer
// from filling the window, during a sample the window from growing, and
// after it the link from carrying what the window allows
// (TestBDPGrowsOnDelayedLink).
func (c *Conn) releaseConnLocked(n uint32) {
	if n == 0 || c.err != nil {
		return
	}
	if inc := c.recvWin.Consume(n); inc > 0 {
		c.w.windowUpdateLocked(0, inc)
		c.w.connCredit += int64(inc)
		if c.bdp.Pinging() || c.recvWin.Size() > int64(c.cfg.connWindowSize) ||
			c.recvWin.Advertised()-c.w.connCredit <= c.recvWin.Size()/2 {
			c.w.kickLocked()
		}
	}
}

// discardLocked drops a stream's unread data and returns the connection
// credit it withheld.
func (c *Conn) discardLocked(s *Stream) {
	if n := s.buf.Reset(); n > 0 {
		if inc := c.unbufferedLocked(n); inc > 0 {
			c.w.windowUpdateLocked(0, inc)
			c.w.kickLocked()
		}
	}
	if s.stopWatch != nil && s.removed {
		s.stopWatch()
	}
}

// sentEndLocked records that a frame with END_STREAM (DATA or HEADERS,
// type t) was queued on s.
func (c *Conn) sentEndLocked(s *Stream, t frame.Type) {
	s.state, _ = s.state.Send(t, true) // writableLocked checked the state
	if s.state == stream.Closed {
		c.closeStreamLocked(s)
	}
}

// recvLocked applies a DATA or HEADERS frame received on open stream s to
// its state (RFC 9113 §5.1). A stream error resets s; a connection error is
// returned.
func (c *Conn) recvLocked(s *Stream, t frame.Type, end bool) (ok bool, err error) {
	ns, err := s.state.Recv(t, end)
	if err != nil {
		var se *frame.StreamError
		if errors.As(err, &se) {
			return false, c.streamErrorLocked(s.id, se.Code, se.Reason)
		}
		return false, err
	}
	s.state = ns
	return true, nil
}

// recvEndedLocked finishes the receipt of END_STREAM on s: readers wake
// and a stream now closed both ways is removed.
func (c *Conn) recvEndedLocked(s *Stream) {
	s.endRecv = true
	s.wakeRead()
	if s.state == stream.Closed {
		c.closeStreamLocked(s)
	}
}

// closeStreamLocked removes a stream that reached a closed state.
func (c *Conn) closeStreamLocked(s *Stream) {
	if s.removed {
		return
	}
	s.removed = true
	s.stopLeadWatchLocked()
	delete(c.streams, s.id)
	c.closed.add(s.id, s.state)
	if c.isLocal(s.id) {
		c.releaseSlotLocked()
	} else {
		c.nPeer--
		c.closeIfDrainedLocked()
	}
	c.noteIdleLocked()
	if c.role == roleServer {
		c.dropDeadlineLocked(s)
		s.sctx.cancel()
	}
	if s.stopWatch != nil && s.buf.Len() == 0 {
		s.stopWatch()
	}
}

// isLocal reports whether we opened stream id (odd ids are the client's).
func (c *Conn) isLocal(id uint32) bool { return (id%2 == 1) == (c.role == roleClient) }

// resetLocked resets s with code: it queues RST_STREAM, fails its reads and
// writes with err, drops its unread data and removes it.
func (c *Conn) resetLocked(s *Stream, code frame.ErrCode, err error) {
	if s.removed {
		return
	}
	c.w.rstStreamLocked(s.id, code)
	s.err = err
	s.state = stream.ClosedResetSent
	c.closeStreamLocked(s)
	c.discardLocked(s)
	c.w.dropLocked(s)
	s.wakeRead()
	s.wakeWrite()
	c.w.kickLocked()
}

// abortStreamLocked fails s with err without telling the peer (the
// connection ended, or the peer's GOAWAY excluded it). The caller removes it
// from c.streams.
func (c *Conn) abortStreamLocked(s *Stream, err error) {
	if s.err == nil {
		s.err = err
	}
	s.removed = true
	s.stopLeadWatchLocked()
	c.w.dropLocked(s)
	if !s.endRecv {
		c.unread -= int64(s.buf.Reset()) // incomplete: the reader gets err
	}
	if c.role == roleServer {
		c.dropDeadlineLocked(s)
		s.sctx.cancel()
	}
	if s.stopWatch != nil {
		s.stopWatch()
	}
	s.wakeRead()
	s.wakeWrite()
}
