package h2tls

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// crypto/tls writes every record of a Write with a write of its own: a
// batch of 64 KiB of frames is four syscalls or more where h2c makes one.
// The connections ServerHandshake and ClientHandshake return put the
// records of one Write back together: the TLS layer writes into a
// coalescer, which holds what it is given while a batch is being sealed
// and writes it in one piece when the batch's records are all sealed.
//
// crypto/tls hands every record down while it holds its output lock: a
// Write's records, and those its read side sends (an alert, the answer to
// a TLS 1.3 KeyUpdate). So the order of those calls is the order of the
// sequence numbers, and the peer must receive the records in it. The
// coalescer keeps that order with two rules: whoever owns the coalescer
// (own) is the only one handing gathered records on, and the raw
// connection is written by one goroutine at a time, in the order the
// records were handed on.
//
//   - A batch (tlsConn.Write) waits to own the coalescer, then has its
//     records sealed (they are gathered), then hands what was gathered on,
//     again while more was gathered meanwhile, and lets go.
//   - A record handed down while nobody owns the coalescer (the
//     handshake's flights, or the read side's records between batches)
//     is written through by the goroutine that hands it down, which owns
//     the coalescer until it is written.
//   - A record handed down while someone owns it is gathered, and its
//     Write returns at once.
//
// Handing on is a write on the raw connection made by the owner, except
// for large batches: a batch of at least asyncWrite bytes of records is
// handed to a writer goroutine, and the batch returns while the writer
// makes the write, so the caller can frame and seal the next batch
// meanwhile (the write of a large batch is long: on loopback it does the
// receiver's TCP work too). The writer holds one batch at a time: what is
// handed on while it writes (a next batch, records written through) waits
// for it to finish, then the writer takes it (a batch returns once the
// writer took its records; a record written through, once it is written,
// since crypto/tls may set a deadline right after it, as for close_notify).
// The writer ends when nothing is waiting for it. A failed write fails
// every later one: the next Write returns its error. Close closes the raw
// connection and waits for the writer to end; tls.Conn.Close sends its
// close_notify first, written through after what the writer holds.
//
// The read side never waits for a batch: it holds tls's output lock, which
// the batch needs to seal, so it must not. A batch and a record written
// through wait only for a write on the raw connection, by their owner or
// by the writer, which needs no other lock to finish.

// coalescer is the net.Conn under the tls.Conn.
type coalescer struct {
	net.Conn
	// own holds a token while someone owns the coalescer: a batch, from
	// before it seals to after it handed on what was gathered, or a
	// record written through.
	own chan struct{}
	// async is the smallest batch of records (sealed bytes) handed to the
	// writer goroutine: asyncWrite, or another size in tests. Immutable.
	async int
	// mu guards the fields below. A record is gathered only while own is
	// held, and own is let go only when buf is empty, both under mu:
	// nothing gathered is left behind.
	mu  sync.Mutex
	buf []byte
	// err is the first failed write on the raw connection: records were
	// sealed (their sequence numbers used) but not sent, so nothing may be
	// written after them.
	err error

	// The writer goroutine, while writing: it writes out, then takes buf
	// if the owner asked it to (take), else ends.
	writing bool
	out     []byte
	take    bool
	taken   uint64 // buffers the writer took, for the owner to wait on
	spare   []byte // a written buffer, for buf to reuse
	done    sync.Cond
	// loop is c.writeLoop, made once: "go c.writeLoop()" allocates a
	// closure per start. Immutable.
	loop func()
}

func newCoalescer(nc net.Conn) *coalescer {
	c := &coalescer{Conn: nc, own: make(chan struct{}, 1), async: asyncWrite}
	c.done.L = &c.mu
	c.loop = c.writeLoop
	return c
}

// Write is what crypto/tls calls, under its output lock, for every record
// or flight it sends.
func (c *coalescer) Write(b []byte) (int, error) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	select {
	case c.own <- struct{}{}:
	default:
		// Someone owns the coalescer: it hands b on after what it has,
		// before it lets go.
		c.buf = append(c.buf, b...)
		c.mu.Unlock()
		return len(b), nil
	}
	if c.writing {
		// After what the writer holds, and written before Write
		// returns.
		c.buf = append(c.buf, b...)
		c.mu.Unlock()
		if err := c.release(nil, false); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	c.mu.Unlock()
	n, err := c.Conn.Write(b)
	if ferr := c.release(err, false); err == nil && ferr != nil {
		return n, ferr
	}
	return n, err
}

// batch has tc seal b into records while it owns the coalescer, and
// writes them in one write (tc is the tls.Conn above it).
func (c *coalescer) batch(tc io.Writer, b []byte) (int, error) {
	c.own <- struct{}{} // a record written through is finishing
	n, err := tc.Write(b)
	if ferr := c.release(nil, true); ferr != nil {
		// The records were sealed (the sequence numbers moved on)
		// but not sent: the connection cannot go on.
		return 0, ferr
	}
	return n, err
}

// asyncWrite is the smallest batch of records (sealed bytes) handed to the
// writer goroutine rather than written by the batch's caller.
const asyncWrite = 32 << 10

// release hands on what was gathered while the caller owned the
// coalescer, until nothing is left, and lets go. failed is the caller's
// own failed write, if any: nothing more is written after it. batch says
// the caller is a batch, which may leave its records to the writer
// goroutine; otherwise release returns once they are written. It returns
// the first write error.
func (c *coalescer) release(failed error, batch bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if failed != nil && c.err == nil {
		c.err = failed
	}
	for c.err == nil && len(c.buf) > 0 {
		switch {
		case c.writing:
			// The writer takes buf after what it writes now. What is
			// gathered meanwhile (the read side's records) goes with
			// it, or after it.
			c.take = true
			for t := c.taken; c.taken == t && c.err == nil; {
				c.done.Wait()
			}
		case batch && len(c.buf) >= c.async:
			c.writing, c.out, c.buf, c.spare = true, c.buf, c.spare, nil
			go c.loop()
		default:
			out := c.buf
			c.buf = nil // what is handed down during the write goes after out
			c.mu.Unlock()
			_, err := c.Conn.Write(out)
			c.mu.Lock()
			if len(c.buf) == 0 && cap(out) <= maxCoalesceBuf {
				c.buf = out[:0] // a burst's buffer is not kept for an idle connection
			}
			if err != nil && c.err == nil {
				c.err = err
			}
		}
	}
	if !batch {
		// Written, not only handed on: crypto/tls may set a write
		// deadline in the past as soon as Write returns.
		for c.writing {
			c.done.Wait()
		}
	}
	if c.err != nil {
		c.buf = nil
	}
	<-c.own
	return c.err
}

// writeLoop is the writer goroutine: it writes out, and what it is asked
// to take after it, then ends. Its owner is the coalescer; it ends when
// nothing waits for it, and Close waits for it to end.
func (c *coalescer) writeLoop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		out := c.out
		c.mu.Unlock()
		_, err := c.Conn.Write(out)
		c.mu.Lock()
		if err != nil && c.err == nil {
			c.err = err
		}
		if cap(out) <= maxCoalesceBuf && c.spare == nil {
			c.spare = out[:0]
		}
		if c.err == nil && c.take && len(c.buf) > 0 {
			c.out, c.buf, c.spare = c.buf, c.spare, nil
			c.take = false
			c.taken++
			c.done.Broadcast()
			continue
		}
		c.writing, c.out, c.take = false, nil, false
		c.done.Broadcast()
		return
	}
}

// Close closes the raw connection and waits for the writer goroutine to
// end (its write fails at once, if it has not finished).
func (c *coalescer) Close() error {
	err := c.Conn.Close()
	c.mu.Lock()
	for c.writing {
		c.done.Wait()
	}
	c.mu.Unlock()
	return err
}

// tlsConn is a *tls.Conn whose Write makes one write on the raw
// connection, and whose first reads explain their failures. Everything
// else is the tls.Conn's, ConnectionState included.
type tlsConn struct {
	*tls.Conn
	raw    *coalescer
	client bool        // the client's side
	spoke  atomic.Bool // a Read has returned data: the handshake is well over
}

// Read is the tls.Conn's. Until one has returned data, a failure may be
// the end of the handshake (TLS 1.3 ends the client's side before the
// server checks the client's certificate, and the refusal comes with the
// first read): it says so, as the handshake's errors do.
func (t *tlsConn) Read(b []byte) (int, error) {
	n, err := t.Conn.Read(b)
	if n > 0 {
		t.spoke.Store(true)
	} else if err != nil && !t.spoke.Load() {
		err = explainTLS(err, t.client)
	}
	return n, err
}

// Write seals b into records and writes them in one write
// (coalescer.batch); from asyncWrite bytes of records on it returns once
// they are sealed and handed to the coalescer's writer goroutine, and an
// error of that write is the next Write's. A record the read side sends
// meanwhile goes in its sealing order: in the same write, or in the next.
func (t *tlsConn) Write(b []byte) (int, error) { return t.raw.batch(t.Conn, b) }

// maxCoalesceBuf is the largest gathering buffer kept between writes.
const maxCoalesceBuf = 256 << 10

// releaseIdle lets go of the buffers kept for the next burst: the
// gathering buffer, if empty, and the spare one. Up to maxCoalesceBuf each,
// they are worth keeping while a stream's messages follow each other, and
// not on a connection that has carried nothing for a while. What is in use
// (bytes gathered, the batch being written) stays; the next burst
// allocates anew.
func (c *coalescer) releaseIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.buf) == 0 {
		c.buf = nil
	}
	c.spare = nil
}

// ReleaseIdle is what conn calls once the connection has had no stream for
// a while (its reader's idle move): the coalescer lets go of the buffers it
// keeps between bursts.
func (t *tlsConn) ReleaseIdle() { t.raw.releaseIdle() }

// WritesBehind tells conn that a Write of at least this many bytes returns
// once sealed, before it is written: conn then has a stream's later writes
// that large sealed by their caller rather than by a flusher goroutine.
// (The records of a Write outweigh its bytes, so such a Write is always
// written behind.)
func (t *tlsConn) WritesBehind() int { return asyncWrite }
