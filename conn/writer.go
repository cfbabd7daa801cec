package conn

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"

	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

// writer is a connection's write side. It alone touches the queues of
// frames to send, the streams waiting to send DATA, the batch buffer and the
// right to write; the rest of the package queues frames through its
// methods and then either asks for a flusher (kickLocked) or takes the right
// to write the batch itself (claimLocked, then flushInline).
//
// There is no writer goroutine while nothing is queued. Whoever finds frames
// queued and no one holding the right to write (busy) takes it:
//
//   - an application goroutine that queued a request or a reply (the first
//     write since it last read, see Stream.unlockAfterWrite), or the
//     WINDOW_UPDATEs its Read owes, claims it and writes one batch itself
//     once it unlocked c.mu: the frames reach the socket without waking
//     another goroutine. If more was queued meanwhile it hands the right to
//     a flusher goroutine rather than write on behalf of others for an
//     unbounded time;
//   - everything else (the reader goroutine's answers, DATA that waited for
//     credit, a run of writes, the final flush) kicks: a flusher goroutine
//     takes the right, writes until the queues are empty and ends.
//
// The holder of the right owns wbuf. Once the connection has ended, the
// holder that finds nothing left to write closes the net.Conn and done, and
// keeps the right for good.
type writer struct {
	c *Conn // immutable

	// ctrl queues control frames (SETTINGS, their ACKs, PING, WINDOW_UPDATE,
	// GOAWAY) that go before everything else. Guarded by c.mu.
	ctrl []byte
	// connCredit is the connection credit of the WINDOW_UPDATEs queued in
	// ctrl that nobody was asked to write yet (releaseConnLocked): the
	// peer does not have it until a batch takes ctrl. Guarded by c.mu.
	connCredit int64
	// ordered queues frames whose order matters within a stream: HEADERS
	// and CONTINUATION, RST_STREAM, and DATA framed at once (dataLocked).
	// Guarded by c.mu.
	ordered []byte
	// ready lists the streams whose blocked write has data and stream
	// credit; batches serve them round-robin. Guarded by c.mu.
	ready streamQueue
	// tails are the trailers of writes waiting in the round-robin
	// (WriteAll's), framed right behind the write's last DATA frame, in
	// the same batch (tailLocked). Guarded by c.mu.
	tails []tail
	// busy is set while someone holds the right to write. Guarded by c.mu.
	busy bool
	// wbuf is the batch buffer, taken from writeBufPool when there is
	// something to write and given back when the writer goes idle, so idle
	// connections pin no write buffer. Owned by the holder of the right.
	wbuf *[]byte
	// flusher is w.flushAll, the flusher goroutine's body, made once since
	// "go w.flushAll()" allocates a closure per start. Immutable.
	flusher func()
	// done is closed when the final flush closed the net.Conn.
	done chan struct{}

	// vec is set when DATA payloads may be written straight from the
	// application's buffers (see Vectored writes). Immutable.
	vec bool
	// behind is the size from which the net.Conn's writes return before
	// they are written (see writesBehind; 0: none do). Immutable.
	behind int
	// releaseIdle is the net.Conn's ReleaseIdle method, if it has one: the
	// reader calls it when the connection has had no stream for a while
	// (its idle move, idle.go), so that a layer below that keeps buffers
	// for bursts (h2tls's gathering buffers, up to 256 KiB each) lets
	// them go. Immutable.
	releaseIdle func()
	// segs are the payloads the batch being built or written refers to
	// instead of copying them, each with its place in wbuf; segBytes is
	// their total length; pinned are the streams whose data they are; iov
	// is the batch as handed to writev. Owned by the holder of the right.
	segs     []seg
	segBytes int
	pinned   []*Stream
	iov      net.Buffers
}

// tail is the trailer block that ends the pending write of s. It is kept
// in the writer, not on Stream: a slice there would take a server stream
// past its 896-byte size class (TestStreamSizeClasses), and few streams
// have one at a time.
type tail struct {
	s      *Stream
	fields []hpack.Field
}

// seg is a payload written from the application's buffer: p goes on the
// wire before the batch's byte at offset off.
type seg struct {
	off int
	p   []byte
}

// maxBatch is about how many bytes one write carries: a batch takes no
// more DATA frames past it.
const maxBatch = 128 << 10

// maxTurn is the most DATA the round-robin frames of one stream per turn
// (split at the peer's SETTINGS_MAX_FRAME_SIZE). A message up to it goes
// out in one piece, not one frame per stream in turn, which would
// interleave the messages of all the waiting streams so that each one's
// last frame, which its reader waits for, comes late; a larger write lets
// the others have a turn every maxTurn bytes.
const maxTurn = 128 << 10

// fastWriteLimit bounds the DATA a write may frame straight into the
// ordered queue without waiting for a batch (see dataLocked).
const fastWriteLimit = 64 << 10

// Vectored writes. A DATA payload framed from the round-robin (a write
// larger than fastWriteLimit, or one that waited for credit) is not copied
// into the batch buffer when it is at least vecMin bytes and the socket
// takes a vector of buffers (writev): the frame header goes in the batch
// buffer and the payload is written straight from the application's slice.
// The application's write then returns only once the batch holding its last
// frame has been written, not once it is framed (Stream.inflight), since
// until then the kernel may still read its slice. Over TLS every byte is
// sealed into records anyway, so the batch is copied as before; so it is
// with a tracer, which sees each batch as one slice.
const vecMin = 4 << 10

func (w *writer) init(c *Conn) {
	w.c = c
	w.flusher = w.flushAll
	w.done = make(chan struct{})
	w.vec = c.cfg.tracer == nil && vectorConn(c.nc)
	w.behind = writesBehind(c.nc)
	if r, ok := c.nc.(interface{ ReleaseIdle() }); ok {
		w.releaseIdle = r.ReleaseIdle
	}
}

// writesBehind returns the size from which nc's Write returns before the
// bytes are written, 0 if it never does. A net.Conn says so with a method
// WritesBehind() int: h2tls's connections, whose Write seals a batch of
// TLS records and leaves a large one to a goroutine of theirs to write,
// so that the caller can frame and seal the next batch meanwhile.
func writesBehind(nc net.Conn) int {
	if wb, ok := nc.(interface{ WritesBehind() int }); ok {
		return max(wb.WritesBehind(), 0)
	}
	return 0
}

// vectorConn reports whether nc writes a net.Buffers with one writev.
func vectorConn(nc net.Conn) bool {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}

// Queueing. Every method below runs with c.mu held; none writes.

// prefaceLocked queues what opens the connection: the client preface (if
// client), our SETTINGS, and the connection window's increment beyond the
// default (if connInc > 0).
func (w *writer) prefaceLocked(client bool, settings []frame.Setting, connInc uint32) {
	if client {
		w.ctrl = append(w.ctrl, frame.ClientPreface...)
	}
	w.ctrl = frame.AppendSettings(w.ctrl, settings...)
	if connInc > 0 {
		w.ctrl = frame.AppendWindowUpdate(w.ctrl, 0, connInc)
	}
}

// settingsAckLocked queues a SETTINGS ACK.
func (w *writer) settingsAckLocked() { w.ctrl = frame.AppendSettingsAck(w.ctrl) }

// pingLocked queues a PING (or its ACK).
func (w *writer) pingLocked(ack bool, data [8]byte) { w.ctrl = frame.AppendPing(w.ctrl, ack, data) }

// windowUpdateLocked queues a WINDOW_UPDATE (id 0: the connection's).
func (w *writer) windowUpdateLocked(id, inc uint32) {
	w.ctrl = frame.AppendWindowUpdate(w.ctrl, id, inc)
}

// goAwayLocked queues a GOAWAY.
func (w *writer) goAwayLocked(last uint32, code frame.ErrCode, debug string) {
	w.ctrl = frame.AppendGoAway(w.ctrl, last, code, []byte(debug))
}

// rstStreamLocked queues an RST_STREAM, after the stream's earlier frames.
func (w *writer) rstStreamLocked(id uint32, code frame.ErrCode) {
	w.ordered = frame.AppendRSTStream(w.ordered, id, code)
}

// headersLocked encodes fields and queues them as HEADERS plus
// CONTINUATION frames no larger than the peer's SETTINGS_MAX_FRAME_SIZE.
// Encoding happens here, under c.mu, in the order the blocks reach the
// wire, which keeps the peer's HPACK decoder in step. The block is encoded
// straight into the queue after room for the HEADERS frame header, which is
// filled in once the length is known.
func (w *writer) headersLocked(id uint32, fields []hpack.Field, endStream bool) {
	w.ordered = w.appendHeadersLocked(w.ordered, id, fields, endStream)
}

// appendHeadersLocked is headersLocked into b: the ordered queue, or the
// batch being built (a tail, see tailLocked), which goes on the wire
// before anything encoded later.
func (w *writer) appendHeadersLocked(b []byte, id uint32, fields []hpack.Field, endStream bool) []byte {
	c := w.c
	start := len(b)
	b = append(b, make([]byte, frame.HeaderLen)...)
	b = c.enc.AppendBlock(b, fields...)
	n := len(b) - start - frame.HeaderLen
	max := int(c.peer.maxFrameSize)
	flags := frame.Flags(0)
	if endStream {
		flags |= frame.FlagEndStream
	}
	if n <= max {
		frame.AppendFrameHeader(b[start:start], frame.Header{Length: uint32(n), Type: frame.TypeHeaders, Flags: flags | frame.FlagEndHeaders, StreamID: id})
		return b
	}
	// Rare: the block needs CONTINUATION frames; split a copy of it.
	block := append([]byte(nil), b[start+frame.HeaderLen:]...)
	b = frame.AppendHeaders(b[:start], id, endStream, false, block[:max])
	block = block[max:]
	for len(block) > 0 {
		n = min(len(block), max)
		b = frame.AppendContinuation(b, id, n == len(block), block[:n])
		block = block[n:]
	}
	return b
}

// tailLocked has fields, a trailer block, framed (ending the stream) right
// behind the last DATA frame of the pending write of s, in the same batch,
// instead of being queued by the writing goroutine once its data is
// framed: a large reply then goes out in one write, not a write for its
// headers and data and another for its trailers, and its goroutine does
// not queue anything after it was woken. The caller checked the block
// against the peer's limit; fields must stay unchanged until the write
// returns, which takes the tail back (takeTailLocked) if it was not
// framed.
func (w *writer) tailLocked(s *Stream, fields []hpack.Field) {
	w.tails = append(w.tails, tail{s: s, fields: fields})
	s.tailQueued = true
}

// takeTailLocked removes the trailer block queued for s and returns it.
func (w *writer) takeTailLocked(s *Stream) (fields []hpack.Field, ok bool) {
	if !s.tailQueued {
		return nil, false
	}
	s.tailQueued = false
	for i, t := range w.tails {
		if t.s == s {
			last := len(w.tails) - 1
			w.tails[i] = w.tails[last]
			w.tails[last] = tail{}
			w.tails = w.tails[:last]
			return t.fields, true
		}
	}
	return nil, false
}

// dataLocked queues pre followed by p as DATA on s, END_STREAM on the last
// frame if endStream. A write the stream and connection windows cover, made
// while no other stream waits for credit and small enough, is framed into
// the ordered queue at once and dataLocked reports false. Otherwise s
// joins the round-robin with the data as its pending write (s.writing) and
// dataLocked reports true: the caller must write the batch itself
// (claimLocked) or kick a flusher, keep pre and p unchanged and wait until
// s.writing is cleared (or s.err set; then it calls dropLocked).
// The caller checked that s may send.
func (w *writer) dataLocked(s *Stream, pre, p []byte, endStream bool) (wait bool) {
	c := w.c
	total := len(pre) + len(p)
	if total == 0 && !endStream {
		return false
	}
	n := int64(total)
	if n == 0 || (w.ready.len() == 0 && len(w.ordered)+total <= fastWriteLimit &&
		n <= s.sendWin.Available() && n <= c.sendWin.Available()) {
		w.ordered, _, _ = w.frameDataLocked(w.ordered, s, pre, p, total, endStream, false)
		return false
	}
	s.pendingPre, s.pending, s.pendingEnd, s.writing = pre, p, endStream, true
	w.enqueueLocked(s) // the caller writes it or kicks a flusher
	return true
}

// frameDataLocked appends to b DATA frames of s carrying the first n bytes
// of pre followed by p, each no larger than the peer's
// SETTINGS_MAX_FRAME_SIZE, and charges them to the stream's and the
// connection's send windows, which the caller checked cover n. If
// endStream and nothing is left, the last frame carries END_STREAM (an
// empty one if n is 0). It returns b and what is left of pre and p. This is
// the one place DATA is framed and credit spent. With ref, b is the batch
// being built and payloads of at least vecMin bytes are referred to, not
// copied (see Vectored writes).
func (w *writer) frameDataLocked(b []byte, s *Stream, pre, p []byte, n int, endStream, ref bool) ([]byte, []byte, []byte) {
	c := w.c
	end := endStream && n == len(pre)+len(p)
	c.pingStrikes.dataSent = true
	for first := true; first || n > 0; first = false {
		k := min(n, int(c.peer.maxFrameSize))
		if ref && k-min(k, len(pre)) >= vecMin {
			b, pre, p = w.appendDataRef(b, s, end && k == n, pre, p, k)
		} else {
			b, pre, p = appendDataParts(b, s.id, end && k == n, pre, p, k)
		}
		s.sendWin.Consume(uint32(k))
		c.sendWin.Consume(uint32(k))
		n -= k
	}
	if end {
		c.sentEndLocked(s, frame.TypeData)
	}
	return b, pre, p
}

// appendDataParts appends a DATA frame carrying the first n bytes of pre
// followed by p (n at most their total length), and returns the rest of
// both.
func appendDataParts(b []byte, id uint32, end bool, pre, p []byte, n int) ([]byte, []byte, []byte) {
	if len(pre) == 0 {
		return frame.AppendData(b, id, end, p[:n]), pre, p[n:]
	}
	var flags frame.Flags
	if end {
		flags = frame.FlagEndStream
	}
	b = frame.AppendFrameHeader(b, frame.Header{Length: uint32(n), Type: frame.TypeData, Flags: flags, StreamID: id})
	k := min(n, len(pre))
	b = append(b, pre[:k]...)
	b = append(b, p[:n-k]...)
	return b, pre[k:], p[n-k:]
}

// appendDataRef is appendDataParts for the batch buffer: it appends the
// frame header and the part of pre the frame carries, and refers to the
// part of p (in w.segs), pinning s until the batch is written.
func (w *writer) appendDataRef(b []byte, s *Stream, end bool, pre, p []byte, n int) ([]byte, []byte, []byte) {
	var flags frame.Flags
	if end {
		flags = frame.FlagEndStream
	}
	b = frame.AppendFrameHeader(b, frame.Header{Length: uint32(n), Type: frame.TypeData, Flags: flags, StreamID: s.id})
	k := min(n, len(pre))
	b = append(b, pre[:k]...)
	w.segs = append(w.segs, seg{off: len(b), p: p[:n-k]})
	w.segBytes += n - k
	if !s.inflight {
		s.inflight = true
		w.pinned = append(w.pinned, s)
	}
	return b, pre[k:], p[n-k:]
}

// inlineRunLocked reports whether a pending write of p in a run (a stream's
// later messages) is better written by its caller than by a flusher. So it
// is when the batch would be written from p itself (see Vectored writes):
// the caller waits for the batch to be written, not only framed, so a
// flusher would only add a goroutine hand-off, since the caller cannot go
// on producing meanwhile. And so it is when the net.Conn writes a batch
// that large behind (writesBehind: TLS): the caller's write returns once
// the batch is sealed, while a flusher would seal it with the caller,
// woken as soon as its data is framed, waiting for the flusher's
// processor; the stages would take turns instead of overlapping.
func (w *writer) inlineRunLocked(p []byte) bool {
	return w.vec && len(p) >= vecMin || w.behind > 0 && len(p) >= w.behind
}

// unpinLocked runs once the batch was written (or failed): the streams
// whose data it referred to may reuse their buffers, and a write whose
// last frame it held returns.
func (w *writer) unpinLocked() {
	for i, s := range w.pinned {
		s.inflight = false
		if !s.writing {
			s.wakeWrite()
		}
		w.pinned[i] = nil
	}
	w.pinned = w.pinned[:0]
}

// scheduleLocked puts s in the round-robin if it has a pending write and
// stream credit (or only END_STREAM to send), and kicks a flusher. It is
// called when s's credit may have grown.
func (w *writer) scheduleLocked(s *Stream) {
	if w.enqueueLocked(s) {
		w.kickLocked()
	}
}

// enqueueLocked is scheduleLocked without the kick; it reports whether s
// joined the round-robin.
func (w *writer) enqueueLocked(s *Stream) bool {
	if s.inReady || !s.writing || s.removed || s.sendWin.Available() <= 0 && len(s.pendingPre)+len(s.pending) > 0 {
		return false
	}
	s.inReady = true
	w.ready.push(s)
	return true
}

// dropLocked forgets the pending write of a stream that failed; a stream
// still in the round-robin is skipped when its turn comes.
func (w *writer) dropLocked(s *Stream) {
	s.pendingPre, s.pending = nil, nil
}

// Handing over the right to write.

// kickLocked makes sure someone writes what is queued (or, once the
// connection ended, does the final flush and close): if no one holds the
// right to write it starts a flusher goroutine.
func (w *writer) kickLocked() {
	if w.claimLocked() {
		go w.flusher()
	}
}

// claimLocked takes the right to write for the caller if no one holds it
// and there is something to do (frames queued, or the final flush); it
// reports whether the caller took it and must call flushInline once it
// unlocked c.mu.
func (w *writer) claimLocked() bool {
	c := w.c
	if c.err == nil && w.overLocked() {
		c.failLocked(&frame.ConnError{Code: frame.ErrCodeEnhanceYourCalm, Reason: "peer does not read the control frames it causes"})
		return false // failLocked kicked a flusher for the final flush
	}
	if w.busy || (c.err == nil && !w.hasOutputLocked()) {
		return false
	}
	w.busy = true
	return true
}

// overLocked reports whether the queues are over their bounds: a peer that
// never reads our answers (SETTINGS and PING ACKs, RST_STREAM for its bad
// streams) cannot make us buffer them without bound. The control queue
// holds at most MaxControlBytes; the ordered queue at most that plus the
// DATA framed at once.
func (w *writer) overLocked() bool {
	max := w.c.cfg.maxControlBytes
	return len(w.ctrl) > max || len(w.ordered) > max+fastWriteLimit
}

// hasOutputLocked reports whether frames are queued.
func (w *writer) hasOutputLocked() bool {
	return len(w.ctrl) > 0 || len(w.ordered) > 0 || w.ready.len() > 0 && w.c.sendWin.Available() > 0
}

// failedLocked runs when the connection ends: the streams' pending writes
// are failed (abortStreamLocked), so the round-robin empties; someone is
// made to do the final flush.
func (w *writer) failedLocked() {
	w.ready.clear()
	w.kickLocked()
}

// maxInlineWrites is how many batches an application goroutine writes
// inline before it hands what others queued meanwhile to a flusher.
const maxInlineWrites = 1

// flushInline writes the queued frames on the calling goroutine, which
// took the right to write with claimLocked; c.mu is not held.
func (w *writer) flushInline() { w.write(maxInlineWrites) }

// flushAll is the flusher goroutine's body.
func (w *writer) flushAll() { w.write(0) }

// write writes what is queued, one batch per Write call, while the caller
// holds the right to write. Frames queued during a write go out in the
// next one: many frames, one syscall. inline > 0 is an application
// goroutine's budget of batches; 0 means a flusher goroutine, which writes
// until nothing is left. When the connection has ended it flushes what is
// left (bounded by the write deadline failLocked sets) and closes the
// net.Conn.
func (w *writer) write(inline int) {
	c := w.c
	if inline > 0 {
		// Let the goroutines that are ready to run (the other handlers a
		// read woke, callers whose responses just came) queue their frames
		// first: they join this batch instead of each making its own write.
		// With nothing else to run this returns at once.
		runtime.Gosched()
	}
	for n := 0; ; n++ {
		c.mu.Lock()
		w.unpinLocked()
		ended := c.err != nil
		if inline > 0 && n == inline && !ended && w.hasOutputLocked() {
			go w.flusher() // the right passes to the flusher
			c.mu.Unlock()
			return
		}
		if w.wbuf == nil {
			w.wbuf = writeBufPool.Get().(*[]byte)
		}
		batch := w.batchLocked((*w.wbuf)[:0])
		if len(batch) == 0 {
			wbuf := w.wbuf
			w.wbuf = nil
			if !ended {
				w.busy = false
			}
			c.mu.Unlock()
			writeBufPool.Put(wbuf)
			if ended {
				w.close()
			}
			return
		}
		c.mu.Unlock()
		var err error
		if len(w.segs) > 0 {
			err = w.writeVec(batch)
		} else {
			if c.cfg.tracer != nil {
				c.cfg.tracer.TraceWrite(batch)
			}
			c.counters.wrote(batch, nil)
			_, err = c.nc.Write(batch)
		}
		if cap(batch) > 4*maxBatch {
			batch = nil // do not keep a burst's buffer forever
		}
		*w.wbuf = batch[:0]
		if err != nil {
			c.mu.Lock()
			w.unpinLocked()
			c.failLocked(fmt.Errorf("conn: write: %w", err))
			c.mu.Unlock()
			w.close()
			return
		}
	}
}

// writeVec writes batch with the payloads of w.segs in their places, in
// one writev, and forgets the payloads.
func (w *writer) writeVec(batch []byte) error {
	w.c.counters.wrote(batch, w.segs)
	iov := w.iov[:0]
	prev := 0
	for _, sg := range w.segs {
		if sg.off > prev {
			iov = append(iov, batch[prev:sg.off])
		}
		iov = append(iov, sg.p)
		prev = sg.off
	}
	if prev < len(batch) {
		iov = append(iov, batch[prev:])
	}
	w.iov = iov
	_, err := w.iov.WriteTo(w.c.nc)
	clear(iov) // WriteTo consumed w.iov; iov still holds the slices
	w.iov = iov[:0]
	clear(w.segs)
	w.segs, w.segBytes = w.segs[:0], 0
	return err
}

// close ends the write side for good: the holder of the right calls it
// once, after the final flush.
func (w *writer) close() {
	w.c.closeNetConn() // linger.go
	close(w.done)
}

// batchLocked appends the next batch to b: control frames first, then the
// ordered queue, then DATA of the streams in the round-robin, up to maxTurn
// bytes per stream in turn, as far as flow control allows, so a large
// message holds back the others by at most maxTurn.
func (w *writer) batchLocked(b []byte) []byte {
	c := w.c
	b = append(b, w.ctrl...)
	w.ctrl = w.ctrl[:0]
	w.connCredit = 0
	if cap(w.ctrl) > c.cfg.maxControlBytes {
		w.ctrl = nil
	}
	b = append(b, w.ordered...)
	w.ordered = w.ordered[:0]
	if cap(w.ordered) > 2*fastWriteLimit {
		w.ordered = nil
	}
	if c.err != nil {
		return b
	}
	for len(b)+w.segBytes < maxBatch && w.ready.len() > 0 && c.sendWin.Available() > 0 {
		s := w.ready.pop()
		s.inReady = false
		if !s.writing || s.removed {
			continue
		}
		left := len(s.pendingPre) + len(s.pending)
		n := min(int64(left), maxTurn, s.sendWin.Available(), c.sendWin.Available())
		if n <= 0 && left > 0 {
			continue // no stream credit: a WINDOW_UPDATE reschedules it
		}
		b, s.pendingPre, s.pending = w.frameDataLocked(b, s, s.pendingPre, s.pending, int(n), s.pendingEnd, w.vec)
		if len(s.pendingPre)+len(s.pending) > 0 {
			w.scheduleLocked(s)
			continue
		}
		s.pendingPre, s.pending, s.writing = nil, nil, false
		if s.tailQueued && s.err == nil && s.state.CanSendData() {
			fields, _ := w.takeTailLocked(s)
			b = w.appendHeadersLocked(b, s.id, fields, true)
			s.headersSent = true
			c.sentEndLocked(s, frame.TypeHeaders)
		}
		if !s.inflight { // else unpinLocked wakes it once the batch is written
			s.wakeWrite()
		}
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

// clear empties the queue; its streams are no longer in it.
func (q *streamQueue) clear() {
	for q.n > 0 {
		q.pop().inReady = false
	}
	q.head = 0
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
