package conn

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"

	"github.com/h2rpc/h2rpc/frame"
)

// maxBatch is about how many bytes one write carries: the writer stops
// adding DATA frames to a batch past it.
const maxBatch = 128 << 10

// There is no writer goroutine while nothing is queued. Whoever queues
// frames while no one holds the writer role (c.writing) takes it:
//
//   - an application goroutine that queued a request or a reply (OpenStream,
//     WriteAll, WriteData within its windows: the stream's first write since
//     the application last read, see Stream.unlockAfterWrite; a
//     WINDOW_UPDATE after Read) writes the batch itself, inline, once: the
//     call's frames reach the socket without waking another goroutine. If
//     more was queued meanwhile it hands the role to a flusher goroutine
//     rather than write on behalf of others for an unbounded time;
//   - everything else (the reader goroutine's answers, DATA that waited for
//     credit, the final flush) starts a flusher goroutine, which writes until
//     the queues are empty and then ends.
//
// The role holder owns c.wbuf. Once the connection has ended, the holder
// that finds nothing left to write closes the net.Conn and writerDone, and
// keeps the role for good.

// maxInlineWrites is how many batches an application goroutine writes
// inline before it hands what others queued meanwhile to a flusher.
const maxInlineWrites = 1

// kickLocked makes sure someone writes what is queued (or, once the
// connection ended, does the final flush and close): if no one holds the
// writer role it starts a flusher goroutine.
func (c *Conn) kickLocked() {
	if c.claimWriterLocked() {
		go c.flush()
	}
}

// claimWriterLocked takes the writer role if no one holds it and there is
// something to do (frames queued, or the final flush); it reports whether
// the caller now holds it and must see writeQueued run.
func (c *Conn) claimWriterLocked() bool {
	if c.writing || (c.err == nil && !c.hasOutputLocked()) {
		return false
	}
	c.writing = true
	return true
}

// unlockAndWrite unlocks mu and, if the caller took the writer role
// (inline, from queuedInlineLocked), writes the queued batch.
func (c *Conn) unlockAndWrite(inline bool) {
	c.mu.Unlock()
	if inline {
		c.writeQueued(maxInlineWrites)
	}
}

// hasOutputLocked reports whether frames are queued.
func (c *Conn) hasOutputLocked() bool {
	return len(c.ctrl) > 0 || len(c.out) > 0 || c.ready.len() > 0 && c.sendWin.Available() > 0
}

// writeQueued writes what is queued, one batch per Write call, while the
// caller holds the writer role: control frames first, then the ordered queue
// (HEADERS, RST_STREAM, small DATA), then DATA of blocked writers, one frame
// per stream in turn, as far as flow control allows. Frames queued during a
// write go out in the next one: many frames, one syscall. inline > 0 is an
// application goroutine's budget of batches; 0 means a flusher goroutine,
// which writes until nothing is left. When the connection has ended it
// flushes what is left (bounded by the write deadline failLocked sets) and
// closes the net.Conn.
func (c *Conn) writeQueued(inline int) {
	if inline > 0 {
		// Let the goroutines that are ready to run (the other handlers a
		// read woke, callers whose responses just came) queue their frames
		// first: they join this batch instead of each making its own write.
		// With nothing else to run this returns at once.
		runtime.Gosched()
	}
	for n := 0; ; n++ {
		c.mu.Lock()
		ended := c.err != nil
		if inline > 0 && n == inline && !ended && c.hasOutputLocked() {
			go c.flush() // the role passes to the flusher
			c.mu.Unlock()
			return
		}
		if c.wbuf == nil {
			c.wbuf = writeBufPool.Get().(*[]byte)
		}
		batch := c.buildBatchLocked((*c.wbuf)[:0])
		if len(batch) == 0 {
			wbuf := c.wbuf
			c.wbuf = nil
			if !ended {
				c.writing = false
			}
			c.mu.Unlock()
			writeBufPool.Put(wbuf)
			if ended {
				c.closeWriter()
			}
			return
		}
		c.mu.Unlock()
		_, err := c.nc.Write(batch)
		if cap(batch) > 4*maxBatch {
			batch = nil // do not keep a burst's buffer forever
		}
		*c.wbuf = batch[:0]
		if err != nil {
			c.mu.Lock()
			c.failLocked(fmt.Errorf("conn: write: %w", err))
			c.mu.Unlock()
			c.closeWriter()
			return
		}
	}
}

// flushQueued is the flusher goroutine's body; c.flush holds it as a func
// value made once per connection, since "go c.writeQueued(0)" allocates a
// closure per start.
func (c *Conn) flushQueued() { c.writeQueued(0) }

// closeWriter ends the write side for good: the role holder calls it once,
// after the final flush.
func (c *Conn) closeWriter() {
	c.nc.Close()
	close(c.writerDone)
}

// buildBatchLocked appends the next batch to b.
func (c *Conn) buildBatchLocked(b []byte) []byte {
	b = append(b, c.ctrl...)
	c.ctrl = c.ctrl[:0]
	if cap(c.ctrl) > c.cfg.maxControlBytes {
		c.ctrl = nil
	}
	b = append(b, c.out...)
	c.out = c.out[:0]
	if cap(c.out) > 2*fastWriteLimit {
		c.out = nil
	}
	if c.err != nil {
		return b
	}
	// Serve the streams with pending DATA round-robin, one frame each per
	// turn, so a large message does not hold back the small ones.
	for len(b) < maxBatch && c.ready.len() > 0 && c.sendWin.Available() > 0 {
		s := c.ready.pop()
		s.inReady = false
		if !s.writing || s.removed {
			continue
		}
		left := len(s.pendingPre) + len(s.pending)
		n := min(int64(left), int64(c.peer.maxFrameSize), s.sendWin.Available(), c.sendWin.Available())
		if n <= 0 && left > 0 {
			continue // no stream credit: a WINDOW_UPDATE reschedules it
		}
		end := s.pendingEnd && int(n) == left
		b, s.pendingPre, s.pending = appendDataParts(b, s.id, end, s.pendingPre, s.pending, int(n))
		s.sendWin.Consume(uint32(n))
		c.sendWin.Consume(uint32(n))
		if int(n) < left {
			c.scheduleLocked(s)
			continue
		}
		s.pendingPre, s.pending, s.writing = nil, nil, false
		if end {
			c.sentEndLocked(s, frame.TypeData)
		}
		s.wakeWrite()
	}
	return b
}

var writeBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// streamQueue is a FIFO ring of streams.
type streamQueue struct {
	buf  []*Stream
	head int
	n    int
}

func (q *streamQueue) len() int { return q.n }

func (q *streamQueue) push(s *Stream) {
	if q.n == len(q.buf) {
		nb := make([]*Stream, max(8, 2*len(q.buf)))
		for i := range q.n {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = s
	q.n++
}

func (q *streamQueue) pop() *Stream {
	s := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return s
}

func (q *streamQueue) clear() {
	clear(q.buf)
	q.head, q.n = 0, 0
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
