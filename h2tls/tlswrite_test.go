package h2tls

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
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
	seq       uint32        // guarded by out
	sealed    atomic.Uint32 // seq, for a test to wait on without out
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
	f.sealed.Store(f.seq)
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
// hook (if set) first, with the number of the write, from 1; a write whose
// hook returns an error fails with it and writes nothing. Close makes
// closed (for a hook blocked in a write to see) and fails later writes.
type rawRecorder struct {
	net.Conn // nil: only Write and Close are used
	mu       sync.Mutex
	writes   [][]byte
	hook     func(n int) error
	closed   chan struct{}
	once     sync.Once
}

func newRawRecorder() *rawRecorder { return &rawRecorder{closed: make(chan struct{})} }

var errRawClosed = errors.New("raw connection closed")

func (r *rawRecorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	n := len(r.writes) + 1
	r.writes = append(r.writes, nil)
	r.mu.Unlock()
	select {
	case <-r.closed:
		return 0, errRawClosed
	default:
	}
	if r.hook != nil {
		if err := r.hook(n); err != nil {
			return 0, err
		}
	}
	r.mu.Lock()
	r.writes[n-1] = append([]byte(nil), b...)
	r.mu.Unlock()
	return len(b), nil
}

func (r *rawRecorder) Close() error {
	r.once.Do(func() { close(r.closed) })
	return nil
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
	raw := newRawRecorder()
	c := newCoalescer(raw)
	f := &fakeTLS{below: c, maxRecord: 100}
	flushing, gate := make(chan struct{}), make(chan struct{})
	raw.hook = func(n int) error {
		if n == 1 {
			close(flushing)
			<-gate
		}
		return nil
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
	for _, async := range []int{asyncWrite, 256} {
		t.Run(fmt.Sprintf("async=%d", async), func(t *testing.T) { readSideStress(t, async) })
	}
}

// readSideStress is TestCoalescerReadSideStress with batches of async
// sealed bytes or more handed to the writer goroutine (256: about half of
// them, so that batches written inline, batches left to the writer and
// records written through meet).
func readSideStress(t *testing.T, async int) {
	const batches, sends = 3000, 3000
	raw := newRawRecorder()
	raw.hook = func(n int) error {
		if n%3 == 0 {
			runtime.Gosched()
		}
		return nil
	}
	c := newCoalescer(raw)
	c.async = async
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
	c.idle()
	raw.check(t, sealed)
	t.Logf("%d records in %d raw writes for %d batches", sealed, len(raw.writes), batches)
	c.Close()
	if c.writingNow() {
		t.Error("the writer goroutine outlived Close")
	}
}

// idle waits until the writer goroutine, if any, has written all it took.
func (c *coalescer) idle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.writing {
		c.done.Wait()
	}
}

// writingNow reports whether the writer goroutine runs.
func (c *coalescer) writingNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writing
}

// asyncBatch is a batch of sealed records over the writer goroutine's
// threshold (asyncWrite) with fakeTLS's 16 KiB records.
const asyncBatch = 3 * 16 << 10

// waitSealed waits until f has sealed n records (handed down or not).
func waitSealed(f *fakeTLS, n uint32) {
	for f.sealed.Load() < n {
		runtime.Gosched()
	}
}

// A large batch returns once its records are handed to the writer
// goroutine, before they are written; the next batch is sealed while they
// are, and returns once the writer took it. The read side's records sent
// meanwhile keep their place.
func TestCoalescerAsyncWriteOverlaps(t *testing.T) {
	raw := newRawRecorder()
	c := newCoalescer(raw)
	f := &fakeTLS{below: c, maxRecord: 16 << 10}
	writing, gate := make(chan struct{}), make(chan struct{})
	raw.hook = func(n int) error {
		if n == 1 {
			close(writing)
			<-gate
		}
		return nil
	}
	if _, err := c.batch(batchWriter{f, 1}, make([]byte, asyncBatch)); err != nil {
		t.Fatal(err)
	}
	<-writing // batch 1 returned while its write had not even begun, or has not ended
	done := make(chan error, 1)
	go func() {
		_, err := c.batch(batchWriter{f, 2}, make([]byte, asyncBatch))
		done <- err
	}()
	waitSealed(f, 6) // batch 2 is sealed while batch 1 is being written
	// The read side's record, sent while batch 2 waits for the writer,
	// is gathered behind it and returns at once.
	if err := f.send([]byte("key update")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("batch 2 returned (%v) before the writer took it", err)
	default:
	}
	close(gate)
	waitAll(t, "the second batch", done, 1)
	if _, err := c.batch(batchWriter{f, 3}, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	raw.check(t, 8)
	if c.writingNow() {
		t.Error("the writer goroutine outlived Close")
	}
}

// A failed write of the writer goroutine fails the next batch and every
// record after it, and nothing is written after it.
func TestCoalescerAsyncWriteError(t *testing.T) {
	raw := newRawRecorder()
	c := newCoalescer(raw)
	f := &fakeTLS{below: c, maxRecord: 16 << 10}
	boom := errors.New("boom")
	failing := make(chan struct{})
	raw.hook = func(n int) error {
		if n == 1 {
			<-failing
			return boom
		}
		return nil
	}
	if _, err := c.batch(batchWriter{f, 1}, make([]byte, asyncBatch)); err != nil {
		t.Fatalf("batch 1: %v, want it handed to the writer", err)
	}
	close(failing)
	if _, err := c.batch(batchWriter{f, 2}, make([]byte, asyncBatch)); !errors.Is(err, boom) {
		t.Fatalf("batch 2: %v, want %v", err, boom)
	}
	if err := f.send([]byte("alert")); !errors.Is(err, boom) {
		t.Fatalf("a record after the failure: %v, want %v", err, boom)
	}
	if _, err := c.batch(batchWriter{f, 3}, make([]byte, 10)); !errors.Is(err, boom) {
		t.Fatalf("batch 3: %v, want %v", err, boom)
	}
	c.Close()
	raw.mu.Lock()
	defer raw.mu.Unlock()
	for i, w := range raw.writes {
		if len(w) > 0 {
			t.Errorf("write %d carried %d bytes after the failed write", i+1, len(w))
		}
	}
	if len(raw.writes) != 1 {
		t.Errorf("%d writes on the raw connection, want only the one that failed", len(raw.writes))
	}
}

// Close with records queued behind a write that does not end (a peer
// that does not read) does not hang: the write fails, the writer goroutine
// ends, the batch waiting behind it fails, and Close returns after the
// writer ended. A record written through after a queued batch (crypto/tls's
// close_notify) is written after it, before it returns.
func TestCoalescerCloseWithQueuedBytes(t *testing.T) {
	t.Run("stuck", func(t *testing.T) {
		raw := newRawRecorder()
		c := newCoalescer(raw)
		f := &fakeTLS{below: c, maxRecord: 16 << 10}
		writing := make(chan struct{})
		raw.hook = func(n int) error {
			if n == 1 {
				close(writing)
				<-raw.closed // the peer never reads
				return errRawClosed
			}
			return nil
		}
		if _, err := c.batch(batchWriter{f, 1}, make([]byte, asyncBatch)); err != nil {
			t.Fatal(err)
		}
		<-writing
		done := make(chan error, 1)
		go func() {
			_, err := c.batch(batchWriter{f, 2}, make([]byte, asyncBatch))
			if err == nil {
				err = errors.New("batch 2 behind a write that failed: no error")
			} else {
				err = nil
			}
			done <- err
		}()
		waitSealed(f, 6)
		closed := make(chan error, 1)
		go func() { closed <- c.Close() }()
		waitAll(t, "Close and the batch behind the stuck write", done, 1)
		waitAll(t, "Close", closed, 1)
		if c.writingNow() {
			t.Error("the writer goroutine outlived Close")
		}
	})
	t.Run("close_notify", func(t *testing.T) {
		raw := newRawRecorder()
		c := newCoalescer(raw)
		f := &fakeTLS{below: c, maxRecord: 16 << 10}
		writing, gate := make(chan struct{}), make(chan struct{})
		second, gate2 := make(chan struct{}), make(chan struct{})
		raw.hook = func(n int) error {
			switch n {
			case 1:
				close(writing)
				<-gate
			case 2:
				close(second)
				<-gate2
			}
			return nil
		}
		if _, err := c.batch(batchWriter{f, 1}, make([]byte, asyncBatch)); err != nil {
			t.Fatal(err)
		}
		<-writing
		sent := make(chan error, 1)
		go func() { sent <- f.send([]byte("close_notify")) }()
		waitSealed(f, 4)
		close(gate)
		<-second // the writer took close_notify and writes it
		for range 100 {
			runtime.Gosched() // time for a send that does not wait to return
		}
		select {
		case err := <-sent:
			t.Fatalf("close_notify returned (%v) before it was written", err)
		default:
		}
		close(gate2)
		waitAll(t, "close_notify", sent, 1)
		c.Close()
		raw.check(t, 4)
	})
}

// kept is the capacity of the buffers the coalescer keeps between writes.
func (c *coalescer) kept() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cap(c.buf) + cap(c.spare)
}

// After a burst of large batches the coalescer keeps a gathering buffer
// and a spare one for the next burst; releaseIdle lets both go, and the
// connection works as before after it.
func TestCoalescerReleaseIdle(t *testing.T) {
	raw := newRawRecorder()
	c := newCoalescer(raw)
	f := &fakeTLS{below: c, maxRecord: 16 << 10}
	for i := range uint32(4) {
		if _, err := c.batch(batchWriter{f, i + 1}, make([]byte, asyncBatch)); err != nil {
			t.Fatal(err)
		}
	}
	c.idle()
	if n := c.kept(); n < asyncBatch {
		t.Fatalf("%d bytes of buffers kept after a burst, want at least a batch (%d)", n, asyncBatch)
	}
	c.releaseIdle()
	if n := c.kept(); n != 0 {
		t.Errorf("%d bytes of buffers kept after releaseIdle, want 0", n)
	}
	if _, err := c.batch(batchWriter{f, 5}, make([]byte, asyncBatch)); err != nil {
		t.Fatal(err)
	}
	c.idle()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	raw.check(t, 15)
}

// conn finds the two methods it looks for on a net.Conn.
var _ interface {
	WritesBehind() int
	ReleaseIdle()
} = (*tlsConn)(nil)
