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
// coalescer keeps that order with one rule: whoever owns the raw
// connection (own) is the only one writing on it, and writes what others
// hand down meanwhile (gathered in buf) before it lets go.
//
//   - A batch (tlsConn.Write) waits to own the raw connection, then has its
//     records sealed (they are gathered), then writes what was gathered, in
//     one write, and again while more was gathered meanwhile, and lets go.
//   - A record handed down while nobody owns the raw connection (the
//     handshake's flights, or the read side's records between batches)
//     is written through by the goroutine that hands it down, which owns
//     the connection for that write.
//   - A record handed down while someone owns it is gathered, and its
//     Write returns at once.
//
// The read side never waits for a batch: it holds tls's output lock, which
// the batch needs to seal, so it must not. A batch waits only for a record
// written through, which needs no other lock to finish.

// coalescer is the net.Conn under the tls.Conn.
type coalescer struct {
	net.Conn
	// own holds a token while someone owns the raw connection: a batch,
	// from before it seals to after it wrote what was gathered, or a
	// record written through.
	own chan struct{}
	// mu guards buf and err. A record is gathered only while own is held,
	// and own is let go only when buf is empty, both under mu: nothing
	// gathered is left behind.
	mu  sync.Mutex
	buf []byte
	// err is the first failed write on the raw connection: records were
	// sealed (their sequence numbers used) but not sent, so nothing may be
	// written after them.
	err error
}

func newCoalescer(nc net.Conn) *coalescer {
	return &coalescer{Conn: nc, own: make(chan struct{}, 1)}
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
		// Someone owns the raw connection: it writes b after what it
		// has, before it lets go.
		c.buf = append(c.buf, b...)
		c.mu.Unlock()
		return len(b), nil
	}
	c.mu.Unlock()
	n, err := c.Conn.Write(b)
	if ferr := c.release(err); err == nil && ferr != nil {
		return n, ferr
	}
	return n, err
}

// batch has tc seal b into records while it owns the raw connection, and
// writes them in one write (tc is the tls.Conn above it).
func (c *coalescer) batch(tc io.Writer, b []byte) (int, error) {
	c.own <- struct{}{} // a record written through is finishing
	n, err := tc.Write(b)
	if ferr := c.release(nil); ferr != nil {
		// The records were sealed (the sequence numbers moved on)
		// but not sent: the connection cannot go on.
		return 0, ferr
	}
	return n, err
}

// release writes what was gathered while the caller owned the raw
// connection, until nothing is left, and lets go. failed is the caller's
// own failed write, if any: nothing more is written after it. It returns
// the first write error.
func (c *coalescer) release(failed error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := failed
	for err == nil && c.err == nil && len(c.buf) > 0 {
		out := c.buf
		c.buf = nil // what is handed down during the write goes after out
		c.mu.Unlock()
		_, err = c.Conn.Write(out)
		c.mu.Lock()
		if len(c.buf) == 0 && cap(out) <= maxCoalesceBuf {
			c.buf = out[:0] // a burst's buffer is not kept for an idle connection
		}
	}
	if err != nil && c.err == nil {
		c.err = err
	}
	if c.err != nil {
		c.buf = nil
		err = c.err
	}
	<-c.own
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

// Write seals b into records and writes them at once (coalescer.batch).
// A record the read side sends meanwhile goes in its sealing order: in the
// same write, or in the next.
func (t *tlsConn) Write(b []byte) (int, error) { return t.raw.batch(t.Conn, b) }

// maxCoalesceBuf is the largest gathering buffer kept between writes.
const maxCoalesceBuf = 256 << 10
