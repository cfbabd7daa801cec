package stream

import (
	"fmt"
	"sync"

	"github.com/h2rpc/h2rpc/flowcontrol"
)

// ErrBufferFull is returned by RecvBuffer.Write when the data would not fit
// under the buffer's limit. It wraps flowcontrol.ErrExceeded: the peer sent
// more than the stream window allowed, a FLOW_CONTROL_ERROR (RFC 9113
// §6.9.1).
var ErrBufferFull = fmt.Errorf("stream: receive buffer full: %w", flowcontrol.ErrExceeded)

// chunkSize is the size of the pooled chunks a RecvBuffer stores data in:
// the default SETTINGS_MAX_FRAME_SIZE, so a typical DATA frame needs at most
// two chunks and small frames share one.
const chunkSize = 16 << 10

type chunk = [chunkSize]byte

var chunkPool = sync.Pool{New: func() any { return new(chunk) }}

// RecvBuffer queues the DATA a stream received until the application reads
// it. The connection's reader goroutine appends with Write (a copy: a frame's
// data is only valid until the next frame is read); the application drains
// with Read. Data lives in pooled 16 KiB chunks that go back to the pool as
// soon as they are drained, so steady-state streaming allocates nothing per
// frame, and an idle stream holds no memory at all. The price: a stream
// holding even one unread byte holds a whole chunk, so the memory behind
// unread data is at most (bytes + one chunk) per stream — bounded by the
// connection's concurrent-stream limit times (window + 16 KiB).
//
// The buffer never holds more than its limit, which the connection sets to
// the stream's receive window size: as long as the peer obeys flow control
// the buffer cannot fill, and a peer that does not gets ErrBufferFull.
//
// RecvBuffer takes no locks; the connection synchronises it (it already
// serialises the window accounting that must change with every Write and
// Read, so a lock inside would be a second lock for the same state). The zero
// value is an empty buffer with limit 0; call SetLimit. A RecvBuffer must not
// be copied after its first Write: its queue starts in an array inside it.
type RecvBuffer struct {
	chunks []*chunk // queue of chunks; chunks[head:] are live
	// inline backs chunks while at most six are queued, which covers a
	// message of up to 96 KiB (a 64 KiB one and its gRPC prefix take five)
	// buffered whole before it is read, as a writer that sends a message in
	// one piece makes it: a stream that never buffers more allocates
	// nothing for the queue.
	inline [6]*chunk
	head   int // index of the first live chunk
	off    int // read offset in chunks[head]
	end    int // write offset in the last chunk
	n      int // bytes buffered
	limit  int // the most bytes the buffer may hold
}

// SetLimit sets the most bytes the buffer may hold. Lowering it below Len
// does not drop data; it only refuses further writes.
func (b *RecvBuffer) SetLimit(n int) { b.limit = n }

// Limit returns the most bytes the buffer may hold.
func (b *RecvBuffer) Limit() int { return b.limit }

// Len returns the number of buffered bytes.
func (b *RecvBuffer) Len() int { return b.n }

// Write appends a copy of p. If p does not fit under the limit it appends
// nothing and returns ErrBufferFull.
func (b *RecvBuffer) Write(p []byte) error {
	if len(p) > b.limit-b.n {
		return fmt.Errorf("%w: %d bytes buffered, %d more, limit %d", ErrBufferFull, b.n, len(p), b.limit)
	}
	for len(p) > 0 {
		if b.head == len(b.chunks) || b.end == chunkSize {
			b.push()
		}
		c := copy(b.chunks[len(b.chunks)-1][b.end:], p)
		b.end += c
		b.n += c
		p = p[c:]
	}
	return nil
}

// push appends an empty chunk to the queue, compacting the queue first when
// its backing array is full, so the slice never grows beyond the most chunks
// ever live at once.
func (b *RecvBuffer) push() {
	if len(b.chunks) == cap(b.chunks) && b.head > 0 {
		live := copy(b.chunks, b.chunks[b.head:])
		clear(b.chunks[live:])
		b.chunks = b.chunks[:live]
		b.head = 0
	}
	if b.head == len(b.chunks) { // empty queue: start afresh
		b.off = 0
	}
	if b.chunks == nil {
		b.chunks = b.inline[:0]
	}
	b.chunks = append(b.chunks, chunkPool.Get().(*chunk))
	b.end = 0
}

// Read moves up to len(p) buffered bytes into p and returns how many; 0 means
// the buffer is empty (or p is). Whether an empty buffer means "wait" or
// "end of stream" is the caller's knowledge.
func (b *RecvBuffer) Read(p []byte) int {
	n := 0
	for len(p) > 0 && b.n > 0 {
		last := b.head == len(b.chunks)-1
		stop := chunkSize
		if last {
			stop = b.end
		}
		c := copy(p, b.chunks[b.head][b.off:stop])
		b.off += c
		b.n -= c
		n += c
		p = p[c:]
		if b.off == stop {
			b.pop()
		}
	}
	return n
}

// pop returns the drained head chunk to the pool.
func (b *RecvBuffer) pop() {
	chunkPool.Put(b.chunks[b.head])
	b.chunks[b.head] = nil
	b.head++
	b.off = 0
	if b.head == len(b.chunks) { // empty: reuse the slice from the start
		b.chunks = b.chunks[:0]
		b.head = 0
		b.end = 0
	}
}

// Reset discards everything buffered, returns the chunks to the pool and
// returns how many bytes were discarded, so the caller can release them to
// flow control (e.g. when the stream is reset before the application read
// them). The limit is kept.
func (b *RecvBuffer) Reset() int {
	n := b.n
	for b.head < len(b.chunks) {
		b.pop()
	}
	b.n = 0
	return n
}
