package conn

import (
	"crypto/tls"
	"net"
	"sync"
)

// crypto/tls writes every record of a Write with a write of its own: a
// batch of 64 KiB of frames is four syscalls or more where h2c makes one.
// The connections ServerHandshake and ClientHandshake return put the
// records of one Write back together: the TLS layer writes into a
// coalescer, which holds what it is given while a batch is being sealed
// and writes it in one piece when the batch's Write returns.

// coalescer is the net.Conn under the tls.Conn: it writes through, except
// while a batched Write holds it (held), when it gathers the records.
type coalescer struct {
	net.Conn
	// wmu serializes the writes on the raw connection: a batch and its
	// flush, or a record written through (an alert sent by the read side).
	wmu sync.Mutex
	// bmu guards held and buf.
	bmu  sync.Mutex
	held bool
	buf  []byte
}

func (c *coalescer) Write(b []byte) (int, error) {
	c.bmu.Lock()
	if c.held {
		c.buf = append(c.buf, b...)
		c.bmu.Unlock()
		return len(b), nil
	}
	c.bmu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.Conn.Write(b)
}

// tlsConn is a *tls.Conn whose Write makes one write on the raw
// connection. Everything else is the tls.Conn's, ConnectionState
// included.
type tlsConn struct {
	*tls.Conn
	raw *coalescer
}

// Write seals b into records and writes them at once. A record the read
// side sends meanwhile (an alert) is sealed after ours, so it goes after
// them: either gathered into the same write, or written once it is done.
func (t *tlsConn) Write(b []byte) (int, error) {
	r := t.raw
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.bmu.Lock()
	r.held = true
	r.bmu.Unlock()
	n, err := t.Conn.Write(b)
	r.bmu.Lock()
	r.held = false
	out := r.buf
	r.bmu.Unlock()
	if len(out) > 0 {
		_, werr := r.Conn.Write(out)
		r.bmu.Lock()
		if cap(out) <= maxCoalesceBuf {
			r.buf = out[:0]
		} else {
			r.buf = nil // a burst's buffer is not kept for an idle connection
		}
		r.bmu.Unlock()
		if werr != nil {
			// The records were sealed (the sequence numbers moved on)
			// but not sent: the connection cannot go on.
			return 0, werr
		}
	}
	return n, err
}

// maxCoalesceBuf is the largest gathering buffer kept between writes.
const maxCoalesceBuf = 256 << 10
