package h2tls

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fakeTLS seals records as crypto/tls does, as far as the coalescer below
// can tell: every record, whether a Write's or one the read side sends (an
// alert, the answer to a peer's TLS 1.3 KeyUpdate), is numbered and handed
// to the connection below under one lock, tls.Conn's output lock. The
// numbers are the sequence numbers: the peer must receive the records in
// their order.
type fakeTLS struct {
	out       sync.Mutex
	seq       uint32 // guarded by out
	below     *coalescer
	maxRecord int
}

// record layout: sequence number, batch (0: a record of the read side),
// payload length, payload.
const recordHeader = 12

// Write seals b into records of at most maxRecord bytes, all tagged with
// batch (a stand-in for tls.Conn.Write; batch tells the writes apart).
func (f *fakeTLS) write(batch uint32, b []byte) (int, error) {
	f.out.Lock()
	defer f.out.Unlock()
	n := 0
	for len(b) > 0 {
		k := min(len(b), f.maxRecord)
		if err := f.recordLocked(batch, b[:k]); err != nil {
			return n, err
		}
		n += k
		b = b[k:]
	}
	return n, nil
}

// send is the read side sending a record of its own.
func (f *fakeTLS) send(payload []byte) error {
	f.out.Lock()
	defer f.out.Unlock()
	return f.recordLocked(0, payload)
}

func (f *fakeTLS) recordLocked(batch uint32, p []byte) error {
	f.seq++
	rec := binary.BigEndian.AppendUint32(nil, f.seq)
	rec = binary.BigEndian.AppendUint32(rec, batch)
	rec = binary.BigEndian.AppendUint32(rec, uint32(len(p)))
	rec = append(rec, p...)
	_, err := f.below.Write(rec)
	return err
}

// batchWriter is tls.Conn.Write for one batch: fakeTLS.write with the
// batch's tag.
type batchWriter struct {
	f     *fakeTLS
	batch uint32
}

func (w batchWriter) Write(b []byte) (int, error) { return w.f.write(w.batch, b) }

// rawRecorder is the raw connection: it keeps each Write's bytes, and calls
// hook (if set) first, with the number of the write, from 1.
type rawRecorder struct {
	net.Conn // nil: only Write is used
	mu       sync.Mutex
	writes   [][]byte
	hook     func(n int)
}

func (r *rawRecorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	n := len(r.writes) + 1
	r.writes = append(r.writes, nil)
	r.mu.Unlock()
	if r.hook != nil {
		r.hook(n)
	}
	r.mu.Lock()
	r.writes[n-1] = append([]byte(nil), b...)
	r.mu.Unlock()
	return len(b), nil
}

// check parses the raw writes: every record sealed arrives once, in the
// order of its sequence number, and all records of one batch arrive in one
// write. It returns the number of records.
func (r *rawRecorder) check(t *testing.T, sealed uint32) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var next uint32 = 1
	batchWrite := map[uint32]int{}
	for i, w := range r.writes {
		for len(w) > 0 {
			if len(w) < recordHeader {
				t.Fatalf("write %d: a record cut short", i+1)
			}
			seq, batch, n := binary.BigEndian.Uint32(w), binary.BigEndian.Uint32(w[4:]), binary.BigEndian.Uint32(w[8:])
			if seq != next {
				t.Fatalf("write %d: record %d, want %d: records out of their sealing order", i+1, seq, next)
			}
			next++
			if batch != 0 {
				if j, ok := batchWrite[batch]; ok && j != i {
					t.Fatalf("batch %d split over writes %d and %d", batch, j+1, i+1)
				}
				batchWrite[batch] = i
			}
			if int(n) > len(w)-recordHeader {
				t.Fatalf("write %d: record %d cut short", i+1, seq)
			}
			w = w[recordHeader+int(n):]
		}
	}
	if next-1 != sealed {
		t.Fatalf("%d records arrived, %d sealed", next-1, sealed)
	}
}

// waitAll waits for the goroutines of a test to report, failing if they do
// not within a bound far above what the work takes: they are stuck on each
// other's locks.
func waitAll(t *testing.T, what string, done <-chan error, n int) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for range n {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-timeout:
			buf := make([]byte, 1<<20)
			t.Fatalf("deadlock: %s did not finish\n%s", what, buf[:runtime.Stack(buf, true)])
		}
	}
}

// A record the read side sends while a batch is being written (held by
// its raw write) must not wait for the batch behind it: the writer goes on
// to its next batch at once, which needs tls's output lock, which the read
// side holds while it hands its record down.
func TestCoalescerRecordDuringFlush(t *testing.T) {
	raw := &rawRecorder{}
	c := newCoalescer(raw)
	f := &fakeTLS{below: c, maxRecord: 100}
	flushing, gate := make(chan struct{}), make(chan struct{})
	raw.hook = func(n int) {
		if n == 1 {
			close(flushing)
			<-gate
		}
	}
	done := make(chan error, 2)
	go func() {
		// The connection's writer: two batches in a row.
		for batch := uint32(1); batch <= 2; batch++ {
			if _, err := c.batch(batchWriter{f, batch}, make([]byte, 300)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	<-flushing
	// The read side answers (an alert, a KeyUpdate) while batch 1 is on
	// its way.
	sent := make(chan error, 1)
	go func() { sent <- f.send([]byte("key update")) }()
	select {
	case err := <-sent:
		done <- err
	case <-time.After(100 * time.Millisecond):
		// Stuck behind the write: let it go and see whether the next
		// batch and the read side get past each other.
		go func() { done <- <-sent }()
	}
	close(gate)
	waitAll(t, "the writer and the read side", done, 2)
	raw.check(t, 7)
}

// The same race, at random: a writer sealing batches of a few records and
// a read side sending records of its own (a peer that keeps asking for
// TLS 1.3 key updates), over a raw connection whose writes yield.
func TestCoalescerReadSideStress(t *testing.T) {
	const batches, sends = 3000, 3000
	raw := &rawRecorder{}
	raw.hook = func(n int) {
		if n%3 == 0 {
			runtime.Gosched()
		}
	}
	c := newCoalescer(raw)
	f := &fakeTLS{below: c, maxRecord: 64}
	done := make(chan error, 2)
	go func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for batch := uint32(1); batch <= batches; batch++ {
			n := 1 + rng.IntN(5*64)
			if k, err := c.batch(batchWriter{f, batch}, make([]byte, n)); err != nil || k != n {
				done <- fmt.Errorf("batch %d: wrote %d of %d bytes: %v", batch, k, n, err)
				return
			}
		}
		done <- nil
	}()
	go func() {
		for i := range sends {
			if err := f.send([]byte("key update")); err != nil {
				done <- err
				return
			}
			if i%2 == 0 {
				runtime.Gosched()
			}
		}
		done <- nil
	}()
	waitAll(t, "the writer and the read side", done, 2)
	f.out.Lock()
	sealed := f.seq
	f.out.Unlock()
	raw.check(t, sealed)
	t.Logf("%d records in %d raw writes for %d batches", sealed, len(raw.writes), batches)
}
