package conn

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/h2rpc/h2rpc/frame"
)

// maxBatch is about how many bytes one write carries: the writer stops
// adding DATA frames to a batch past it.
const maxBatch = 128 << 10

// writeLoop is the writer goroutine. It sleeps until woken through
// writeWake, then writes everything queued as one batch per Write call:
// control frames first, then the ordered queue (HEADERS, RST_STREAM, small
// DATA), then DATA of blocked writers, one frame per stream in turn, as far
// as flow control allows. It loops without sleeping while there is more, so
// frames queued during a write go out in the next one: many frames, one
// syscall. When the connection has ended it flushes what is left (bounded by
// the write deadline failLocked sets) and closes the net.Conn.
func (c *Conn) writeLoop() {
	defer close(c.writerDone)
	for {
		if c.wbuf == nil {
			c.wbuf = writeBufPool.Get().(*[]byte)
		}
		c.mu.Lock()
		batch := c.buildBatchLocked((*c.wbuf)[:0])
		ended := c.err != nil
		c.mu.Unlock()
		if len(batch) > 0 {
			_, err := c.nc.Write(batch)
			if cap(batch) > 4*maxBatch {
				batch = nil // do not keep a burst's buffer forever
			}
			*c.wbuf = batch[:0]
			if err != nil {
				c.mu.Lock()
				c.failLocked(fmt.Errorf("conn: write: %w", err))
				c.mu.Unlock()
				c.nc.Close()
				return
			}
			continue
		}
		if ended {
			c.nc.Close()
			return
		}
		writeBufPool.Put(c.wbuf) // going idle
		c.wbuf = nil
		select {
		case <-c.writeWake:
		case <-c.done:
		}
	}
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
		n := min(int64(len(s.pending)), int64(c.peer.maxFrameSize), s.sendWin.Available(), c.sendWin.Available())
		if n <= 0 && len(s.pending) > 0 {
			continue // no stream credit: a WINDOW_UPDATE reschedules it
		}
		end := s.pendingEnd && int(n) == len(s.pending)
		b = frame.AppendData(b, s.id, end, s.pending[:n])
		s.sendWin.Consume(uint32(n))
		c.sendWin.Consume(uint32(n))
		s.pending = s.pending[n:]
		if len(s.pending) > 0 {
			c.scheduleLocked(s)
			continue
		}
		s.pending, s.writing = nil, false
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
