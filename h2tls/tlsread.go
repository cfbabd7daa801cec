package h2tls

import (
	"sync"
	"sync/atomic"
)

// crypto/tls opens every record on the goroutine that reads: the
// connection's reader then decrypts a record, parses its frames and copies
// their payloads, one after the other. For a large transfer the AES-GCM
// pass is a third of the receiving side's work, and nothing else runs
// meanwhile. The connections ServerHandshake and ClientHandshake return
// read ahead while records arrive full-sized, back to back: a goroutine
// (readAhead) reads and opens the next records into a bounded queue while
// the connection's reader parses and copies those it has, so opening
// overlaps with the rest of the receiving side's work.
//
// It costs a goroutine hand-off per wait and a copy (the record's
// plaintext into the queue, then into the reader's buffer), which a small
// message does not repay: a connection reads directly (Read calls the
// tls.Conn's) until a read returns a whole full-sized record, and the
// goroutine stops after readAheadUntil short records in a row. So a run
// of small calls never starts it, and a burst keeps it only while it
// lasts.
//
// The consumer reads directly only while the goroutine does not run and
// the queue is empty, and only the consumer starts the goroutine, which
// stops on its own: with one consumer at a time (conn's read role) only
// one of the two reads the tls.Conn, and the order of the bytes is the
// order of the records. (Reads that overlap, as conn's linger after a
// graceful close, have no order to keep: what they read is dropped.) Errors need no
// hand-over: the goroutine stops at its first error, and the consumer's
// next direct read meets it again, in its place after the queued bytes.
// crypto/tls keeps every read error but a timeout (a bad record MAC, EOF,
// a close_notify, a closed connection), and a timeout is not one to keep:
// the deadline that made it may have been moved since (conn interrupts a
// blocked read with a deadline in the past, then clears it). A direct read
// honours the deadline that is set when it runs, as before. A consumer
// waiting for the queue is woken when the goroutine stops, so a deadline
// that ends the goroutine's read ends the consumer's wait too.

const (
	// maxPlaintext is the largest payload of a TLS record (RFC 8446
	// §5.1, RFC 5246 §6.2.1): a "full-sized" record carries that much.
	maxPlaintext = 16 << 10
	// readAheadRecords bounds the queue: at most that many records'
	// plaintext (128 KiB) is held ahead of the consumer.
	readAheadRecords = 8
	// readAheadUntil is how many short records in a row stop it.
	readAheadUntil = 2
)

// recordPool holds the queue's record buffers, maxPlaintext octets each.
var recordPool = sync.Pool{New: func() any { b := make([]byte, maxPlaintext); return &b }}

// record is the plaintext of one record in the queue.
type record struct {
	p *[]byte
	n int // (*p)[:n] holds the plaintext
}

// readAhead is a tlsConn's read-ahead state, guarded by mu but active.
type readAhead struct {
	// active is set while the goroutine runs or records are queued: a
	// Read must look at the queue. While it is clear a Read goes straight
	// to the tls.Conn, taking no lock.
	active atomic.Bool
	mu     sync.Mutex
	// cond is signalled when a record is queued, when the consumer took
	// one, when the goroutine stops and when the connection is closed.
	cond sync.Cond
	// running is set while the goroutine runs: it alone reads the
	// tls.Conn then.
	running bool
	closed  bool
	// consumerWaits and goroutineWaits say who waits on cond.
	consumerWaits, goroutineWaits bool
	queue                         [readAheadRecords]record
	head, count                   int // queue[head], … count of them, in order
	off                           int // octets of queue[head] already taken
	// starts counts the goroutine's starts (for tests).
	starts int
}

// read is tlsConn.Read before its handshake explanations.
func (t *tlsConn) read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	ra := &t.ra
	if ra.active.Load() {
		ra.mu.Lock()
		for ra.count == 0 && ra.running {
			ra.consumerWaits = true
			ra.cond.Wait()
			ra.consumerWaits = false
		}
		if ra.count > 0 {
			n := ra.takeLocked(b)
			if ra.goroutineWaits {
				ra.cond.Broadcast()
			}
			if ra.count == 0 && !ra.running {
				ra.active.Store(false)
			}
			ra.mu.Unlock()
			return n, nil
		}
		ra.active.Store(false)
		ra.mu.Unlock()
	}
	n, err := t.Conn.Read(b)
	if n == maxPlaintext && err == nil {
		// A whole full-sized record: a burst has begun.
		ra.mu.Lock()
		if !ra.running && !ra.closed {
			ra.running = true
			ra.active.Store(true)
			ra.starts++
			go t.readAhead()
		}
		ra.mu.Unlock()
	}
	return n, err
}

// takeLocked copies queued plaintext into b, in order, and returns the
// buffers it emptied to the pool.
func (ra *readAhead) takeLocked(b []byte) int {
	n := 0
	for n < len(b) && ra.count > 0 {
		r := &ra.queue[ra.head]
		m := copy(b[n:], (*r.p)[ra.off:r.n])
		n += m
		ra.off += m
		if ra.off == r.n {
			recordPool.Put(r.p)
			*r = record{}
			ra.head = (ra.head + 1) % len(ra.queue)
			ra.count--
			ra.off = 0
		}
	}
	return n
}

// readAhead is the read-ahead goroutine: it reads and opens records into
// the queue until readAheadUntil short ones in a row, an error, or the
// connection's Close. The consumer started it (read); it ends on its own.
func (t *tlsConn) readAhead() {
	ra := &t.ra
	short := 0
	for {
		p := recordPool.Get().(*[]byte)
		n, err := t.Conn.Read((*p)[:maxPlaintext])
		if n == maxPlaintext {
			short = 0
		} else {
			short++
		}
		ra.mu.Lock()
		if n > 0 && !ra.closed {
			ra.queue[(ra.head+ra.count)%len(ra.queue)] = record{p: p, n: n}
			ra.count++
		} else {
			recordPool.Put(p)
		}
		stop := err != nil || ra.closed || short >= readAheadUntil
		if stop {
			ra.running = false
		}
		if ra.consumerWaits {
			ra.cond.Broadcast()
		}
		for !stop && ra.count == len(ra.queue) && !ra.closed {
			ra.goroutineWaits = true
			ra.cond.Wait()
			ra.goroutineWaits = false
		}
		if !stop && ra.closed {
			stop = true
			ra.running = false
		}
		ra.mu.Unlock()
		if stop {
			return
		}
	}
}

// Close stops reading ahead, drops what was read ahead, and closes the
// tls.Conn (which ends a read of the goroutine's).
func (t *tlsConn) Close() error {
	ra := &t.ra
	ra.mu.Lock()
	ra.closed = true
	for ra.count > 0 {
		r := &ra.queue[ra.head]
		recordPool.Put(r.p)
		*r = record{}
		ra.head = (ra.head + 1) % len(ra.queue)
		ra.count--
	}
	ra.off = 0
	ra.cond.Broadcast()
	ra.mu.Unlock()
	return t.Conn.Close()
}
