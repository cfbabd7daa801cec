package conn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/h2rpc/h2rpc/flowcontrol"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
	"github.com/h2rpc/h2rpc/stream"
)

// Stream is one HTTP/2 stream of a Conn.
//
// A Stream is used by at most one reading goroutine (ReadHeaders, Read,
// ReadFull, Trailers) and one writing goroutine (WriteData, WriteAll) at a time;
// ID, Context, Err and Reset may be called from anywhere.
type Stream struct {
	c   *Conn
	ctx context.Context // immutable
	// sctx is a server stream's context (ctx points to it), allocated with
	// the stream (serverStreamMem); nil on the client. Immutable.
	sctx *serverContext
	// stopWatch stops the client's context watcher; nil on the server.
	// Set before the stream is published, then immutable.
	stopWatch func() bool

	// All fields below but id are guarded by c.mu. (The small ones are
	// grouped at the end, so the struct packs into an 896-byte size class.)

	// readWake and writeWake are the gates of a blocked reader and writer
	// (capacity 1, signalled without blocking): headers, data, the end or an
	// error arrived; a blocked Write's data was handed over, or an error.
	// Each is set only while a call waits on it (see waitLocked), nil
	// otherwise.
	readWake, writeWake chan struct{}
	// leadStop stops the watcher registered on the context of an
	// Unwatched client stream when its goroutine first led (lead.go); nil
	// if none. Guarded by mu.
	leadStop func() bool

	// sendWin is the credit the peer gave this stream; recvWin the credit we
	// gave it.
	sendWin flowcontrol.SendWindow
	recvWin flowcontrol.RecvWindow
	// buf holds received DATA the application has not read yet.
	buf stream.RecvBuffer
	// direct is the rest of the buffer of a ReadFull waiting for DATA
	// (buf is then empty): arriving DATA is copied straight into it, not
	// through buf, and the reader is woken only once it is full. directN
	// counts the bytes copied into it; directCredited those of them whose
	// credit was already returned because the peer needed it to fill direct
	// (see onData). nil while no ReadFull waits.
	direct                  []byte
	directN, directCredited int
	// headers is the request block (server) or the final response block
	// (client); trailers the trailer block. They live in fieldStore while
	// it has room (see keepFields): an array allocated with the stream, of
	// a size for its role (clientFields, serverFields). fieldStore is
	// immutable.
	headers, trailers []hpack.Field
	fieldStore        []hpack.Field
	// err fails reads and writes: a *ResetError, a *GoAwayError or ErrClosed.
	err error
	// pending is the rest of a blocked write's data, framed by the writer;
	// pendingEnd asks for END_STREAM on its last frame; writing is set while
	// a write waits for its data to be framed.
	pending []byte
	// pendingPre goes before pending (see WriteData's prefix).
	pendingPre []byte
	// contentLength is the declared content-length, or -1; dataLen counts
	// the DATA received (RFC 9113 §8.1.1).
	contentLength int64
	dataLen       int64

	id uint32 // immutable
	// state is the RFC 9113 §5.1 state: open or half-closed while the
	// stream is in c.streams, closed (one of three ways) once removed.
	state        stream.State
	nStored      uint8 // fields used in fieldStore
	endRecv      bool  // END_STREAM arrived: after the buffered data, Read says io.EOF
	gotHeaders   bool  // client: the final response headers (or trailers-only) arrived
	trailersOnly bool  // client: the first response block ended the stream
	headersSent  bool  // server: the response headers were queued
	pendingEnd   bool
	writing      bool
	inflight     bool // the batch being written refers to this stream's data (writer.go, Vectored writes)
	inReady      bool // in c.ready
	removed      bool // no longer in c.streams
	dropped      bool // client: the context ended with received data unread, and the data was dropped
	// readWoken says that the gate of the goroutine waiting on readWake,
	// which may take the read role (lead.go), was signalled since its wait
	// began.
	readWoken bool
	// headMethod: the client sent a HEAD request, so the response carries
	// no content whatever its content-length says.
	headMethod  bool
	handlerDone bool
	// handlerWaits: server, the stream is in c.waiting, its handler not
	// started (handlers.go).
	handlerWaits bool
	// tailQueued: the writer holds a trailer block to frame behind the
	// pending write's data (writer.tailLocked).
	tailQueued bool
	// writeRun counts the application's writes since it last read
	// (saturating): the first is written inline, the rest of a run go to
	// a flusher, which batches a stream of messages.
	writeRun uint8
}

// How many decoded header fields a stream holds without allocating more:
// on the server a gRPC request's block (eight or nine fields), on the
// client a response's headers and trailers (two, and one or two). A
// client stream is the smaller: it falls in the 640-byte size class, a
// server stream with its context in the 896-byte one
// (TestStreamSizeClasses).
const (
	serverFields = 9
	clientFields = 4
)

// serverStreamMem and clientStreamMem are what a stream is allocated in:
// the Stream, with its context on the server, and its field store.
type serverStreamMem struct {
	s      Stream
	ctx    serverContext
	fields [serverFields]hpack.Field
}

type clientStreamMem struct {
	s      Stream
	fields [clientFields]hpack.Field
}

// keepFields returns a copy of fields that s owns (fields are the decoding
// scratch space): in s.fieldStore while it has room, else on the heap. The
// copy is capped, so appending to it cannot overwrite a later block's
// fields; it is not nil even when empty (an empty trailer block is still a
// trailer block).
func (s *Stream) keepFields(fields []hpack.Field) []hpack.Field {
	n, used := len(fields), int(s.nStored)
	if n > len(s.fieldStore)-used {
		return append(make([]hpack.Field, 0, n), fields...)
	}
	kept := s.fieldStore[used : used+n : used+n]
	copy(kept, fields)
	s.nStored += uint8(n)
	return kept
}

// sentEnd reports whether we sent END_STREAM (or the stream closed).
func (s *Stream) sentEnd() bool { return !s.state.CanSendData() }

// recvEnded reports whether the peer ended its side with END_STREAM (a
// reset that follows does not take the received data back).
func (s *Stream) recvEnded() bool { return s.endRecv }

// newStreamLocked makes stream id: on the server with its own context
// (ctx is ignored), on the client under ctx.
func (c *Conn) newStreamLocked(id uint32, ctx context.Context) *Stream {
	c.noteBusyLocked()
	var s *Stream
	if c.role == roleServer {
		m := &serverStreamMem{}
		s = &m.s
		m.ctx.c, m.ctx.dlIndex = c, -1
		s.sctx, s.ctx = &m.ctx, &m.ctx
		s.fieldStore = m.fields[:]
	} else {
		m := &clientStreamMem{}
		s = &m.s
		s.ctx = ctx
		s.fieldStore = m.fields[:]
	}
	s.c, s.id, s.contentLength = c, id, -1
	s.sendWin.Init(int32(c.peer.initialWindowSize))
	win := c.recvStreamWindowLocked()
	s.recvWin.Init(int32(win))
	s.buf.SetLimit(int(win))
	return s
}

// recvStreamWindowLocked is the receive window a new stream starts with:
// our SETTINGS_INITIAL_WINDOW_SIZE, or, while the peer has not acknowledged
// our SETTINGS and ours is smaller, the default 65535 the peer may still be
// using (RFC 9113 §6.9.2: it may send that much before our SETTINGS reach
// it). The ACK shrinks such windows (shrinkPreAckWindowsLocked).
func (c *Conn) recvStreamWindowLocked() uint32 {
	if c.settingsTimer != nil && c.cfg.initialWindowSize < flowcontrol.DefaultWindow {
		return flowcontrol.DefaultWindow
	}
	return c.cfg.initialWindowSize
}

// shrinkPreAckWindowsLocked applies our smaller SETTINGS_INITIAL_WINDOW_SIZE,
// now acknowledged, to the streams opened before the ACK with the default
// window: the peer adjusted its send windows by the difference when it
// applied our SETTINGS (§6.9.2), so ours move by the same, possibly below
// zero, to be paid back by reading.
func (c *Conn) shrinkPreAckWindowsLocked() {
	if c.cfg.initialWindowSize >= flowcontrol.DefaultWindow {
		return
	}
	want := int64(c.cfg.initialWindowSize)
	for _, s := range c.streams {
		if size := s.recvWin.Size(); size > want {
			// Cannot fail: the size stays within 0..2^31-1.
			_ = s.recvWin.Adjust(want - size)
		}
	}
}

// ID returns the stream identifier, for logs; a *ResetError names the
// stream by it.
func (s *Stream) ID() uint32 { return s.id }

// Context returns the stream's context. On the server it is cancelled when
// the peer resets the stream, the connection ends or the stream completes;
// on the client it is the context given to OpenStream.
func (s *Stream) Context() context.Context { return s.ctx }

// RequestHeaders returns the decoded request header block (server; nil on
// the client). The slice must not be modified.
func (s *Stream) RequestHeaders() []hpack.Field {
	if s.c.role != roleServer {
		return nil
	}
	return s.headers
}

// wakeRead and wakeWrite signal a waiting reader or writer; c.mu is held.
func (s *Stream) wakeRead() {
	if s.readWake == nil {
		return
	}
	signal(s.readWake)
	if c := s.c; c.leader == s {
		if c.inRead {
			c.interruptLeaderLocked() // lead.go
		}
	} else {
		c.woken, s.readWoken = s, true
	}
}

func (s *Stream) wakeWrite() { signal(s.writeWake) }

// OpenFlags modify OpenStream.
type OpenFlags uint8

const (
	// EndStream ends the request with the body: END_STREAM goes on the
	// body's last DATA frame, or on HEADERS if the body is empty.
	EndStream OpenFlags = 1 << iota
	// Unwatched is for a caller that stays in the stream's calls until the
	// stream completes, as a unary RPC does (send the request, read the
	// response to its end): ctx is then watched only while a call of the
	// stream waits (ReadHeaders, Read, WriteData), which resets the stream
	// with CANCEL and fails, not in between. That spares the watcher
	// OpenStream otherwise registers with ctx (three allocations). A caller
	// that leaves such a stream before it completes must Reset it.
	Unwatched
)

// OpenStream opens a client stream: it sends HEADERS with fields and then
// body (if not empty) as DATA, queued as one batch, so a small request goes
// out in one write; body may be reused when OpenStream returns. It waits,
// while ctx allows, for a slot under the peer's
// SETTINGS_MAX_CONCURRENT_STREAMS. The stream lives under ctx: if ctx is
// done before the stream completes, the stream is reset with CANCEL (see
// Unwatched for the exception). OpenStream fails with an error wrapping
// ErrNotAvailable (a *GoAwayError after the peer's GOAWAY) on a draining
// connection, or ErrClosed on a closed one; such requests were not sent and
// are safe to retry elsewhere. On a server connection it fails at once.
func (c *Conn) OpenStream(ctx context.Context, fields []hpack.Field, body []byte, flags OpenFlags) (*Stream, error) {
	return c.OpenStreamPrefixed(ctx, fields, nil, body, flags)
}

// OpenStreamPrefixed is OpenStream with a body of prefix followed by body,
// as one byte sequence (as WriteData's prefix): a message goes out behind
// its length prefix without being copied next to it. Both may be reused
// when OpenStreamPrefixed returns.
func (c *Conn) OpenStreamPrefixed(ctx context.Context, fields []hpack.Field, prefix, body []byte, flags OpenFlags) (*Stream, error) {
	endStream, watch := flags&EndStream != 0, flags&Unwatched == 0
	if c.role != roleClient {
		return nil, errors.New("conn: OpenStream on a server connection")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if err := c.acquireSlotLocked(ctx); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	// RFC 9113 §5.1.1: "Stream identifiers cannot be reused. Long-lived
	// connections can result in an endpoint exhausting the available range
	// of stream identifiers. A client that is unable to establish a new
	// stream identifier can establish a new connection for new streams."
	if err := c.checkHeaderListLocked(fields); err != nil {
		c.releaseSlotLocked()
		c.mu.Unlock()
		return nil, err
	}
	id, err := c.ids.Next()
	if err == nil && id > c.idLimit {
		err = stream.ErrIDsExhausted
	}
	if err != nil {
		c.startDrainLocked()
		c.releaseSlotLocked()
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", ErrNotAvailable, err)
	}
	s := c.newStreamLocked(id, ctx)
	for _, f := range fields {
		if f.Name == ":method" && f.Value == "HEAD" {
			s.headMethod = true
		}
	}
	headersEnd := endStream && len(prefix)+len(body) == 0
	s.state, _ = stream.Idle.Send(frame.TypeHeaders, headersEnd)
	c.w.headersLocked(id, fields, headersEnd)
	c.streams[id] = s
	if watch && ctx.Done() != nil {
		s.stopWatch = context.AfterFunc(ctx, s.onContextDone)
	}
	if !headersEnd {
		// An error here ends the stream, which Read and ReadHeaders report.
		_, _ = s.writePartsLocked(prefix, body, endStream, nil)
	}
	inline := c.w.claimLocked()
	c.mu.Unlock()
	if inline {
		c.w.flushInline()
	}
	return s, nil
}

// onContextDone runs (on its own goroutine) when a client stream's context
// ends.
func (s *Stream) onContextDone() {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.onContextDoneLocked()
}

// onContextDoneLocked handles the end of a client stream's context: a
// stream still open is reset with CANCEL; the unread data of a finished one
// is dropped and its connection credit returned.
func (s *Stream) onContextDoneLocked() {
	c := s.c
	if !s.removed {
		c.resetLocked(s, frame.ErrCodeCancel, &ResetError{StreamID: s.id, Code: frame.ErrCodeCancel})
		return
	}
	if s.buf.Len() > 0 {
		// The body was complete but unread: Read must not turn its loss
		// into a clean io.EOF.
		s.dropped = true
	}
	c.discardLocked(s)
}

// checkHeaderListLocked enforces the peer's SETTINGS_MAX_HEADER_LIST_SIZE
// before anything is encoded (an encoded block cannot be taken back from
// the HPACK state).
func (c *Conn) checkHeaderListLocked(fields []hpack.Field) error {
	if c.peer.maxHeaderListSize == 0 {
		return nil
	}
	var n uint64
	for _, f := range fields {
		n += uint64(len(f.Name)) + uint64(len(f.Value)) + 32
	}
	if n > uint64(c.peer.maxHeaderListSize) {
		return fmt.Errorf("conn: header list of %d bytes exceeds the peer's SETTINGS_MAX_HEADER_LIST_SIZE %d", n, c.peer.maxHeaderListSize)
	}
	return nil
}

// ReadHeaders waits for the response header block (client). Informational
// (1xx) responses are skipped. In a trailers-only response (the first block
// ended the stream) TrailersOnly reports true, Read returns io.EOF and
// Trailers returns the same block.
func (s *Stream) ReadHeaders() ([]hpack.Field, error) {
	c := s.c
	if c.role != roleClient {
		return nil, errors.New("conn: ReadHeaders on a server stream (use RequestHeaders)")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s.writeRun = 0
	for {
		if s.gotHeaders {
			return s.headers, nil
		}
		if s.err != nil {
			return nil, s.err
		}
		c.waitLocked(s, &s.readWake)
	}
}

// TrailersOnly reports whether the response's first header block ended the
// stream (client, once ReadHeaders returned; false on the server).
func (s *Stream) TrailersOnly() bool {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.trailersOnly
}

// Read reads DATA into p. It returns io.EOF once the peer ended the stream
// and all data was read, and a *ResetError if the stream was reset (or an
// error wrapping ErrClosed if the connection ended). Reading is what returns
// flow-control credit to the peer.
func (s *Stream) Read(p []byte) (int, error) {
	c := s.c
	c.mu.Lock()
	n, err := s.readLocked(p)
	if n > 0 && c.consumedLocked(s, n) && c.w.claimLocked() {
		// The reading goroutine writes the WINDOW_UPDATEs it owes itself,
		// inline: the peer's next DATA does not wait for a flusher
		// goroutine to be scheduled.
		c.mu.Unlock()
		c.w.flushInline()
		return n, nil
	}
	c.mu.Unlock()
	return n, err
}

// readLocked is Read without the credit it returns; it waits, releasing
// c.mu, while there is nothing to read.
func (s *Stream) readLocked(p []byte) (int, error) {
	c := s.c
	s.writeRun = 0
	for {
		if s.buf.Len() > 0 {
			if len(p) == 0 {
				return 0, nil
			}
			return s.buf.Read(p), nil
		}
		if err := s.readEndLocked(); err != nil {
			return 0, err
		}
		c.waitLocked(s, &s.readWake)
	}
}

// readEndLocked says why a stream with nothing buffered will give no more
// DATA (io.EOF, the stream's error), or nil while more may come.
func (s *Stream) readEndLocked() error {
	if s.dropped {
		return fmt.Errorf("conn: stream %d: unread data dropped: %w", s.id, context.Cause(s.ctx))
	}
	if s.recvEnded() {
		if s.removed && s.stopWatch != nil {
			s.stopWatch()
		}
		return io.EOF
	}
	return s.err
}

// ReadFull reads exactly len(p) bytes into p, as io.ReadFull(s, p) would:
// it returns io.EOF if the stream's DATA ended before the first byte,
// io.ErrUnexpectedEOF if it ended part way, or the error that failed the
// stream (with the count read before it). It is for a caller that knows
// how much it needs (a length-prefixed message): while it waits, arriving
// DATA is copied straight into p rather than through the stream's buffer,
// and it is woken once, when p is full or the stream ends, not per frame.
// Stream credit for the bytes goes back to the peer as Read's does, and
// earlier when p is larger than what the peer may still send; connection
// credit goes back as they arrive or leave the stream's buffer, so waiting
// ReadFulls never hold back the connection window. p must not be used by
// others until ReadFull returns.
func (s *Stream) ReadFull(p []byte) (int, error) {
	c := s.c
	c.mu.Lock()
	n, credited, err := s.readFullLocked(p)
	if n > credited && c.streamConsumedLocked(s, n-credited) && c.w.claimLocked() {
		c.mu.Unlock()
		c.w.flushInline() // as Read does
		return n, err
	}
	c.mu.Unlock()
	return n, err
}

// readFullLocked is ReadFull without the credit it returns: it reports how
// many of the n bytes read had their credit returned already. It waits,
// releasing c.mu, with the rest of p published in s.direct.
func (s *Stream) readFullLocked(p []byte) (n, credited int, err error) {
	c := s.c
	s.writeRun = 0
	for n < len(p) {
		if s.buf.Len() > 0 {
			k := s.buf.Read(p[n:])
			n += k
			// The bytes left the stream's buffer: the connection credit
			// withheld for them goes back now, not when p is full, or
			// ReadFulls waiting on many streams could hold back all of
			// the connection's credit (lifecycle.go).
			if inc := c.unbufferedLocked(k); inc > 0 {
				c.w.windowUpdateLocked(0, inc)
				c.w.kickLocked()
			}
			continue
		}
		if err = s.readEndLocked(); err != nil {
			break
		}
		if n > credited && c.needCreditLocked(s, len(p)-n) {
			// The peer cannot send the rest without the credit of what
			// was read so far.
			if c.streamConsumedLocked(s, n-credited) {
				c.w.kickLocked()
			}
			credited = n
		}
		s.direct, s.directN, s.directCredited = p[n:], 0, 0
		c.waitLocked(s, &s.readWake)
		n += s.directN
		credited += s.directCredited
		s.direct, s.directN, s.directCredited = nil, 0, 0
	}
	if err == io.EOF && n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, credited, err
}

// Trailers returns the trailer block, valid after Read returned io.EOF (nil
// if there were none). The slice must not be modified.
func (s *Stream) Trailers() []hpack.Field {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.trailers
}

// WriteData sends prefix followed by p as DATA, as one byte sequence, with
// END_STREAM on the last frame if endStream (an empty DATA frame with
// END_STREAM half-closes the stream). The prefix spares the caller a copy:
// a small header in front of a large payload (a length-prefixed message).
// WriteData blocks until all of it is handed to the connection (it waits
// for flow-control credit); both may be reused when it returns. On the
// server the response headers (WriteAll) must come first.
//
// Small writes that the stream and connection windows already cover, made
// while no other stream waits for credit, are framed at once into the
// connection's queue; others wait their turn in the writer's round-robin.
func (s *Stream) WriteData(prefix, p []byte, endStream bool) error {
	c := s.c
	c.mu.Lock()
	err := s.writableLocked()
	if err == nil && c.role == roleServer && !s.headersSent {
		err = errors.New("conn: WriteData before the response headers")
	}
	if err == nil {
		_, err = s.writePartsLocked(prefix, p, endStream, nil)
	}
	s.unlockAfterWrite()
	return err
}

// Err reports the stream's fate without writing: the *ResetError, the
// *GoAwayError or the error wrapping ErrClosed that fails its writes, or
// nil. A stream whose response arrived complete may have been reset after
// it (Read then still ends with io.EOF); Err tells.
func (s *Stream) Err() error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.err
}

// unlockAfterWrite unlocks mu after an application write on s and sees the
// queued frames written: inline by the caller if this is the first write
// since the application last read (a request, a reply: the caller is about
// to wait for the peer, so the frames should go now), else by a flusher, so
// that a run of writes (a stream of messages) is batched into few syscalls
// while the caller goes on producing.
func (s *Stream) unlockAfterWrite() {
	c := s.c
	run := s.writeRun
	if run < math.MaxUint8 {
		s.writeRun++
	}
	if run == 0 && c.w.claimLocked() {
		c.mu.Unlock()
		c.w.flushInline()
		return
	}
	c.w.kickLocked()
	c.mu.Unlock()
}

// WriteAll sends header blocks, as one batch: the response headers (server
// only, if headers is not nil), then data (if not empty), then the trailers
// (if trailers is not nil), which end the stream. Either role sends
// trailers; a server that sent no headers before sends a trailers-only
// response. A small message thus goes out in one write. data may be reused
// when WriteAll returns. WriteAll checks the blocks against the peer's
// header list limit before it queues anything, so an error other than the
// stream's end means nothing was sent.
func (s *Stream) WriteAll(headers []hpack.Field, data []byte, trailers []hpack.Field) error {
	return s.WriteAllPrefixed(headers, nil, data, trailers)
}

// WriteAllPrefixed is WriteAll with data preceded by prefix, as one byte
// sequence (as WriteData's prefix): a message goes out behind its length
// prefix without being copied next to it.
func (s *Stream) WriteAllPrefixed(headers []hpack.Field, prefix, data []byte, trailers []hpack.Field) error {
	c := s.c
	c.mu.Lock()
	err := s.writeAllLocked(headers, prefix, data, trailers)
	s.unlockAfterWrite()
	return err
}

// writeAllLocked checks everything before it queues anything, so an error
// other than the stream's end means nothing was sent.
func (s *Stream) writeAllLocked(headers []hpack.Field, prefix, data []byte, trailers []hpack.Field) error {
	c := s.c
	if err := s.writableLocked(); err != nil {
		return err
	}
	if headers != nil && (c.role != roleServer || s.headersSent) {
		// RFC 9113 §8.1: trailers are "a HEADERS frame ... with the
		// END_STREAM flag set"; a second block without it is malformed.
		return errors.New("conn: trailers must end the stream (endStream=true)")
	}
	if len(prefix)+len(data) > 0 && headers == nil && c.role == roleServer && !s.headersSent {
		return errors.New("conn: WriteData before the response headers")
	}
	if err := c.checkHeaderListLocked(headers); err != nil {
		return err
	}
	if err := c.checkHeaderListLocked(trailers); err != nil {
		return err
	}
	if headers != nil {
		s.headersSent = true
		c.w.headersLocked(s.id, headers, false)
	}
	tailSent, err := s.writePartsLocked(prefix, data, false, trailers)
	if err != nil {
		return err
	}
	if trailers != nil && !tailSent {
		if err := s.writableLocked(); err != nil {
			return err // reset while data waited for credit
		}
		s.headersSent = true
		c.w.headersLocked(s.id, trailers, true)
		c.sentEndLocked(s, frame.TypeHeaders)
	}
	return nil
}

// writePartsLocked queues pre followed by p as DATA (END_STREAM on the
// last frame if endStream): framed at once, or handed to the writer's
// round-robin, and then it waits, releasing mu, until all of it is framed
// and no batch being written refers to it any more. The caller checked that
// the stream may send.
//
// Data handed to the round-robin by the first write since the application
// last read (a request, a reply; see unlockAfterWrite) is written by the
// caller itself when nobody else writes: one batch, inline, releasing mu.
// A message that fits in it (up to maxTurn, within the windows) is then
// written when the caller gets mu back, and it returns without waiting for
// a flusher goroutine to start, write and wake it. The later writes of a
// run go to a flusher, as small ones do.
//
// trailers, if not nil, end the stream (the caller checked them): a write
// that joins the round-robin has the writer frame them right behind its
// data (writer.tailLocked), and tailSent says so; otherwise the caller
// queues them.
func (s *Stream) writePartsLocked(pre, p []byte, endStream bool, trailers []hpack.Field) (tailSent bool, err error) {
	c := s.c
	if !c.w.dataLocked(s, pre, p, endStream) {
		return false, nil
	}
	if trailers != nil {
		c.w.tailLocked(s, trailers)
	}
	if (s.writeRun == 0 || c.w.inlineRunLocked(p)) && c.w.claimLocked() {
		c.mu.Unlock()
		c.w.flushInline()
		c.mu.Lock()
	} else {
		c.w.kickLocked()
	}
	for {
		if s.err != nil && s.writing {
			c.w.dropLocked(s)
			s.writing = false
			err = s.err
		}
		if !s.writing && !s.inflight {
			if _, ok := c.w.takeTailLocked(s); ok {
				return false, err // not framed: the stream failed
			}
			return trailers != nil && err == nil, err
		}
		c.waitLocked(s, &s.writeWake)
	}
}

// writableLocked says why the stream cannot send, or nil.
func (s *Stream) writableLocked() error {
	if s.err != nil {
		return s.err
	}
	if !s.state.CanSendData() {
		return errors.New("conn: write after the stream's end (END_STREAM sent)")
	}
	return nil
}

// Reset resets the stream with RST_STREAM code, waking blocked readers and
// writers with a *ResetError. It does nothing once the stream has completed
// or was reset.
func (s *Stream) Reset(code frame.ErrCode) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.removed {
		c.discardLocked(s)
		return
	}
	c.resetLocked(s, code, &ResetError{StreamID: s.id, Code: code})
}
