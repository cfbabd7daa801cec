package conn

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
	"github.com/h2rpc/h2rpc/stream"
)

// errEnded stops the reader once the connection has ended for another reason.
var errEnded = errors.New("conn: connection ended")

func connErr(code frame.ErrCode, format string, args ...any) error {
	return &frame.ConnError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// readLoop is the reader goroutine: it reads frames and applies them, and
// ends the connection when reading fails or a frame breaks a connection-level
// rule. A reader of a connection that stays idle hands reading on to a
// fresh goroutine (readMoved) and ends, to wait on a small stack (idle.go).
func (c *Conn) readLoop() {
	err := c.readPreface()
	if err == nil {
		err = c.readFrames()
	}
	c.endReading(err)
}

// readMoved is a reader goroutine that took over from an idle one.
func (c *Conn) readMoved() { c.endReading(c.readFrames()) }

// endReading ends a reader goroutine, and the connection with err unless
// the reader moved.
func (c *Conn) endReading(err error) {
	switch err {
	case errMoved:
		go c.readOn()
		return
	case errReplaced:
		return // the new reader holds the place and its count in c.reading
	}
	defer c.reading.Done()
	c.fr.Release() // nothing holds its frames any more
	c.mu.Lock()
	c.startKeptLocked() // inline.go
	if err != errEnded {
		c.failLocked(err)
	}
	c.mu.Unlock()
}

// readPreface reads the peer's connection preface and applies its first
// SETTINGS.
func (c *Conn) readPreface() error {
	// RFC 9113 §3.4: the client preface is the 24-byte string followed by a
	// SETTINGS frame; "The server connection preface consists of a
	// potentially empty SETTINGS frame ... that MUST be the first frame the
	// server sends". A peer that sends neither in time is dropped.
	c.nc.SetReadDeadline(time.Now().Add(c.cfg.prefaceTimeout))
	if c.role == roleServer {
		if err := c.fr.ReadPreface(); err != nil {
			return c.readErr(err, "reading the client connection preface")
		}
	}
	f, err := c.fr.ReadFrame()
	if f != nil {
		c.counters.read(f.FrameHeader())
		if c.cfg.tracer != nil {
			c.cfg.tracer.TraceRead(f)
		}
	}
	if err != nil {
		return c.readErr(err, "reading the peer's first SETTINGS frame")
	}
	sf, ok := f.(*frame.SettingsFrame)
	if !ok || sf.IsAck() {
		// "Clients and servers MUST treat an invalid connection preface as a
		// connection error (Section 5.4.1) of type PROTOCOL_ERROR."
		return connErr(frame.ErrCodeProtocol, "first frame is %v, not SETTINGS (RFC 9113 §3.4)", f.FrameHeader().Type)
	}
	c.nc.SetReadDeadline(time.Time{})
	if err := c.onSettings(sf); err != nil {
		return err
	}
	c.mu.Lock()
	c.noteIdleLocked() // the handshake may have grown the stack
	c.mu.Unlock()
	return nil
}

// readFrames reads and applies frames until an error, or until the reader
// should move (errMoved).
func (c *Conn) readFrames() error {
	for {
		f, err := c.readFrame()
		if err != nil && isTimeout(err) {
			if move, ours := c.idleTimeout(); move {
				if c.w.releaseIdle != nil {
					c.w.releaseIdle()
				}
				return errMoved
			} else if ours {
				continue
			}
		}
		if err := c.applyFrame(f, err); err != nil {
			return err
		}
		if !c.fr.Ready() {
			// About to Read: a new stream's whole request may be
			// answered on this goroutine first (inline.go), and a caller
			// may read its own frames instead (lead.go).
			c.mu.Lock()
			ran, reader := c.runInlineLocked()
			if !ran {
				c.parkReaderLocked()
			}
			c.mu.Unlock()
			if !reader {
				return errReplaced
			}
		}
	}
}

// readErr turns a read failure into the connection's cause.
func (c *Conn) readErr(err error, doing string) error {
	var ce *frame.ConnError
	if errors.As(err, &ce) {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.err != nil:
		return errEnded
	case isTimeout(err) && doing != "":
		return fmt.Errorf("conn: peer too slow %s (PrefaceTimeout %v): %w", doing, c.cfg.prefaceTimeout, err)
	case c.goAwayRecv != nil && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)):
		return fmt.Errorf("conn: peer closed the connection after GOAWAY: %w", c.goAwayRecv)
	case doing != "":
		return fmt.Errorf("conn: %s: %w", doing, err)
	}
	return fmt.Errorf("conn: read: %w", err)
}

func (c *Conn) onFrame(f frame.Frame) error {
	switch f := f.(type) {
	case *frame.DataFrame:
		return c.onData(f)
	case *frame.HeadersFrame:
		return c.onHeaders(f, nil)
	case *frame.ContinuationFrame:
		return c.onContinuation(f)
	case *frame.PriorityFrame:
		// RFC 9113 §5.3.2: the priority signalling of RFC 7540 is
		// deprecated; the frame was validated by the frame reader and is
		// otherwise ignored. PRIORITY is allowed in every stream state.
		return nil
	case *frame.RSTStreamFrame:
		return c.onRSTStream(f)
	case *frame.SettingsFrame:
		return c.onSettings(f)
	case *frame.PushPromiseFrame:
		// RFC 9113 §8.4: "A client cannot push. Thus, servers MUST treat the
		// receipt of a PUSH_PROMISE frame as a connection error (Section
		// 5.4.1) of type PROTOCOL_ERROR." and §6.6: "PUSH_PROMISE MUST NOT be
		// sent if the SETTINGS_ENABLE_PUSH setting of the peer endpoint is
		// set to 0. An endpoint that has set this setting and has received
		// acknowledgment MUST treat the receipt of a PUSH_PROMISE frame as a
		// connection error (Section 5.4.1) of type PROTOCOL_ERROR."
		return connErr(frame.ErrCodeProtocol, "PUSH_PROMISE received but push is disabled (RFC 9113 §6.6, §8.4)")
	case *frame.PingFrame:
		return c.onPing(f)
	case *frame.GoAwayFrame:
		return c.onGoAway(f)
	case *frame.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	}
	// RFC 9113 §4.1: "Implementations MUST ignore and discard frames of
	// unknown types."
	return nil
}

// onStreamErrorFrame handles a frame the frame reader parsed but found
// breaking a stream-level rule.
func (c *Conn) onStreamErrorFrame(f frame.Frame, se *frame.StreamError) error {
	if h, ok := f.(*frame.HeadersFrame); ok {
		// The field block must still be decoded to keep the HPACK state in
		// step (RFC 9113 §4.3); the stream is reset afterwards.
		return c.onHeaders(h, se)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return errEnded
	}
	return c.streamErrorLocked(se.StreamID, se.Code, se.Reason)
}

// streamErrorLocked answers a stream error we detected with RST_STREAM
// (RFC 9113 §5.4.2). Provoking them is cheap for a peer, so they count
// against the reset budget with the peer's own resets.
func (c *Conn) streamErrorLocked(id uint32, code frame.ErrCode, reason string) error {
	if s := c.streams[id]; s != nil {
		c.resetLocked(s, code, &ResetError{StreamID: id, Code: code, Reason: reason})
	} else {
		c.w.rstStreamLocked(id, code)
		c.w.kickLocked()
	}
	return c.countResetLocked()
}

// countResetLocked enforces Config.MaxPeerResets per ResetInterval (the
// Rapid Reset defence, CVE-2023-44487).
func (c *Conn) countResetLocked() error {
	now := time.Now()
	if now.Sub(c.resetStart) > c.cfg.resetInterval {
		c.resetStart = now
		c.resetCount = 0
	}
	c.resetCount++
	if c.resetCount > c.cfg.maxPeerResets {
		return connErr(frame.ErrCodeEnhanceYourCalm, "more than %d stream resets in %v", c.cfg.maxPeerResets, c.cfg.resetInterval)
	}
	if c.err != nil {
		return errEnded
	}
	return nil
}

// isIdleLocked reports whether stream id is idle: never opened by the side
// that may open it (RFC 9113 §5.1).
func (c *Conn) isIdleLocked(id uint32) bool {
	if c.isLocal(id) {
		// Servers never open streams (no push): every even id is idle.
		return c.role == roleServer || c.ids.IsIdle(id)
	}
	return c.peerIDs.IsIdle(id)
}

// unknownStreamLocked handles a frame of type t (DATA or HEADERS) for a
// stream that is not open: idle, or closed (RFC 9113 §5.1). The closed
// stream's remembered state gives the answer; a forgotten or skipped one
// counts as closed by END_STREAM, the strictest, if the peer opened it, and
// as reset by us (its frames ignored) if we did.
func (c *Conn) unknownStreamLocked(id uint32, t frame.Type, end bool) error {
	if c.isIdleLocked(id) {
		// §5.1 idle: "Receiving any frame other than HEADERS or PRIORITY on a
		// stream in this state MUST be treated as a connection error
		// (Section 5.4.1) of type PROTOCOL_ERROR."
		return connErr(frame.ErrCodeProtocol, "%v frame on idle stream %d (RFC 9113 §5.1)", t, id)
	}
	st := c.closed.get(id)
	if st == stream.Idle && c.isLocal(id) {
		// A stream we opened and no longer remember: its peer's frames
		// can only be late ones (§5.1 closed: "An endpoint MUST ignore
		// frames that it receives on closed streams after it has sent a
		// RST_STREAM frame"), such as the answers to calls cancelled in a
		// storm, which may arrive after closedMemory later streams closed.
		// §5.1 lets an endpoint limit how long it ignores them, but a
		// connection error here would end every other stream for a late
		// reply, so they are ignored for as long as the connection lives.
		st = stream.ClosedResetSent
	}
	if st == stream.Idle {
		if t == frame.TypeHeaders {
			// Never opened (skipped, so implicitly closed) or long gone: a
			// new stream with an old id. §5.1.1: "The identifier of a newly
			// established stream MUST be numerically greater than all
			// streams that the initiating endpoint has opened or reserved.
			// ... An endpoint that receives an unexpected stream identifier
			// MUST respond with a connection error (Section 5.4.1) of type
			// PROTOCOL_ERROR."
			return connErr(frame.ErrCodeProtocol, "HEADERS on stream %d, not above the last stream opened (RFC 9113 §5.1.1)", id)
		}
		st = stream.Closed
	}
	if _, err := st.Recv(t, end); err != nil {
		var se *frame.StreamError
		if errors.As(err, &se) {
			return c.streamErrorLocked(id, se.Code, se.Reason)
		}
		var ce *frame.ConnError
		if errors.As(err, &ce) {
			return connErr(ce.Code, "stream %d: %s (RFC 9113 §5.1)", id, ce.Reason)
		}
		return err
	}
	return nil // closed by our RST_STREAM: §5.1 "MUST ignore"
}

func (c *Conn) onData(f *frame.DataFrame) error {
	if f.Cont {
		return c.onDataPart(f.Data, !f.More)
	}
	id, n, end := f.StreamID, f.Length, f.StreamEnded()
	// The frame's data: Data, unless the frame comes in parts.
	dlen := int(n) - int(f.PadLen)
	if f.Flags.Has(frame.FlagPadded) {
		dlen--
	}
	if dlen == 0 && !end {
		// Empty DATA frames cost us work and the peer nothing.
		c.emptyData++
		if c.emptyData > c.cfg.maxEmptyDataFrames {
			return connErr(frame.ErrCodeEnhanceYourCalm, "more than %d empty DATA frames in a row", c.cfg.maxEmptyDataFrames)
		}
	} else {
		c.emptyData = 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Until the frame is accepted below, the rest of it, if it comes in
	// parts, goes nowhere: a rejected frame's credit goes back whole.
	c.part = dataPart{id: id}
	if c.err != nil {
		return errEnded
	}
	// RFC 9113 §6.9.1: "A receiver MAY respond with a stream error ... or
	// connection error ... of type FLOW_CONTROL_ERROR if it is unable to
	// accept a frame"; a sender "MUST NOT send a flow-controlled frame with
	// a length that exceeds the space available in either of the
	// flow-control windows advertised by the receiver."
	if err := c.recvWin.Receive(n); err != nil {
		return connErr(frame.ErrCodeFlowControl, "DATA on stream %d exceeds the connection window: %v", id, err)
	}
	if c.bdp.Received(n) {
		c.bdp.Sent(time.Now())
		c.w.pingLocked(false, bdpPing)
		c.w.kickLocked()
	}
	s := c.streams[id]
	if s == nil {
		// The data never reaches an application: return its credit now, or
		// the connection window would shrink for good.
		c.releaseConnLocked(n)
		return c.unknownStreamLocked(id, frame.TypeData, end)
	}
	if !s.state.CanRecvData() {
		// §5.1 half-closed (remote), §6.1: a stream error of type
		// STREAM_CLOSED.
		c.releaseConnLocked(n)
		_, err := c.recvLocked(s, frame.TypeData, end)
		return err
	}
	if c.role == roleClient && !s.gotHeaders {
		// RFC 9113 §8.1: a response is a HEADERS block then DATA; DATA
		// first makes it malformed, a stream error of type PROTOCOL_ERROR
		// (§8.1.1).
		c.releaseConnLocked(n)
		return c.streamErrorLocked(id, frame.ErrCodeProtocol, "DATA before the response headers")
	}
	if err := s.recvWin.Receive(n); err != nil {
		c.releaseConnLocked(n)
		return c.streamErrorLocked(id, frame.ErrCodeFlowControl, err.Error())
	}
	if pad := n - uint32(dlen); pad > 0 {
		// Padding is flow-controlled but never read: count it as consumed.
		if inc := s.recvWin.Consume(pad); inc > 0 && !end {
			c.w.windowUpdateLocked(id, inc)
			c.w.kickLocked()
		}
		c.releaseConnLocked(pad)
	}
	s.dataLen += int64(dlen)
	if s.contentLength >= 0 && s.dataLen > s.contentLength && !s.headMethod {
		// §8.1.1: "A request or response is also malformed if the value of
		// a content-length header field does not equal the sum of the DATA
		// frame payload lengths that form the content".
		c.releaseConnLocked(uint32(dlen))
		return c.streamErrorLocked(id, frame.ErrCodeProtocol, "more DATA than content-length")
	}
	c.part = dataPart{id: id, end: end, live: true}
	if !c.deliverLocked(s, f.Data) || f.More {
		return nil // the rest of the frame comes later (onDataPart, readDirectLocked)
	}
	return c.dataEndLocked(s)
}

// dataPart is the DATA frame whose data arrives in parts (the frame reader
// returns a large one as its bytes come, and a leader may leave part of
// one for its next ReadFull): its first part was charged to the windows
// for the whole frame and checked; live reports that the rest goes to the
// stream (otherwise its credit went back with the first part). Owned by
// the read role.
type dataPart struct {
	id   uint32
	end  bool
	live bool
}

// onDataPart applies a later part of a DATA frame (dataPart); last
// reports that it ends the frame's data.
func (c *Conn) onDataPart(data []byte, last bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return errEnded
	}
	if !c.part.live {
		return nil // rejected: its credit went back with the first part
	}
	s := c.streams[c.part.id]
	if s == nil {
		// Reset by us since the first part: nobody reads the rest, whose
		// connection credit was charged with the first part.
		c.releaseConnLocked(uint32(len(data)))
		return nil
	}
	if !c.deliverLocked(s, data) || !last {
		return nil
	}
	return c.dataEndLocked(s)
}

// dataEndLocked applies the END_STREAM of the DATA frame whose data s just
// got whole, if it has it.
func (c *Conn) dataEndLocked(s *Stream) error {
	if !c.part.end {
		return nil
	}
	c.part.end = false
	if s.contentLength >= 0 && s.dataLen != s.contentLength && !s.headMethod {
		return c.streamErrorLocked(s.id, frame.ErrCodeProtocol, "DATA shorter than content-length")
	}
	if ok, err := c.recvLocked(s, frame.TypeData, true); !ok {
		return err
	}
	c.recvEndedLocked(s)
	return nil
}

// deliverLocked hands data, a DATA frame's or a part of one, to s: into
// the buffer of a waiting ReadFull first, then into the stream's buffer.
// What a leader reading for its own ReadFull cannot take it leaves in the
// frame reader (at least minDirectFrame octets of the frame left), for
// its next ReadFull to take straight into that call's buffer; then it
// reports false: the frame is not applied whole.
func (c *Conn) deliverLocked(s *Stream, data []byte) (whole bool) {
	if s.direct != nil && len(data) > 0 {
		// A ReadFull waits: the data goes straight into its buffer.
		k := copy(s.direct[s.directN:], data)
		s.directN += k
		data = data[k:]
		// The bytes are the caller's, not in a buffer of ours: their
		// connection credit goes back now, whatever is withheld, so a
		// ReadFull waiting for the rest cannot hold back the credit the
		// peer needs to send it (lifecycle.go).
		c.releaseConnLocked(uint32(k))
		if s.directN == len(s.direct) {
			s.wakeRead()
		} else {
			c.creditDirectLocked(s)
		}
		if len(data) > 0 && c.leader == s && len(data)+c.fr.DataLeft() >= minDirectFrame {
			c.fr.UnreadData(len(data))
			return false
		}
	}
	if len(data) > 0 {
		if err := s.buf.Write(data); err != nil {
			// Cannot happen while the window check holds.
			c.releaseConnLocked(uint32(len(data)))
			c.streamErrorLocked(s.id, frame.ErrCodeFlowControl, err.Error())
			return false
		}
		c.bufferedLocked(len(data))
		s.wakeRead()
	}
	return true
}

// readDirectLocked reads the rest of the DATA frame in parts, for s, from
// the connection straight into the buffer of s's waiting ReadFull, as its
// leader (leadLocked); ok false says that is not the next thing to read.
// It is called and returns with c.mu held, releasing it while it reads;
// the buffer is the leader's own, so nobody else touches it meanwhile.
// err is what ends the connection, as applyFrame's: the read's error (a
// timeout the read role absorbs is none) or one applying the frame's end.
func (c *Conn) readDirectLocked(s *Stream) (ok bool, err error) {
	if s.direct == nil || s.directN == len(s.direct) || c.fr.DataLeft() == 0 ||
		!c.part.live || c.part.id != s.id || c.streams[s.id] != s {
		return false, nil
	}
	c.inRead = true
	c.mu.Unlock()
	k, readErr := c.fr.ReadData(s.direct[s.directN:])
	c.mu.Lock()
	c.inRead = false
	if k == 0 || c.err != nil {
		// ReadData reports an error only with nothing read.
		if readErr == nil || isTimeout(readErr) && c.readTimeoutLocked() {
			return true, nil
		}
		c.mu.Unlock()
		err = c.applyFrame(nil, readErr)
		c.mu.Lock()
		return true, err
	}
	s.directN += k
	c.releaseConnLocked(uint32(k)) // as in deliverLocked
	if s.directN == len(s.direct) {
		s.wakeRead()
	} else {
		c.creditDirectLocked(s)
	}
	if c.fr.DataLeft() == 0 && c.streams[s.id] == s {
		err = c.dataEndLocked(s)
	}
	return true, err
}

func (c *Conn) onHeaders(f *frame.HeadersFrame, se *frame.StreamError) error {
	block, done, err := c.block.Start(f.StreamID, f.BlockFragment, f.HeadersEnded())
	if err != nil {
		return mapBlockErr(err)
	}
	if !done {
		c.blockEnd, c.blockErr = f.StreamEnded(), se
		return nil
	}
	return c.onHeaderBlock(f.StreamID, f.StreamEnded(), block, se)
}

func (c *Conn) onContinuation(f *frame.ContinuationFrame) error {
	block, done, err := c.block.Continue(f.StreamID, f.BlockFragment, f.HeadersEnded())
	if err != nil {
		return mapBlockErr(err)
	}
	if !done {
		return nil
	}
	return c.onHeaderBlock(f.StreamID, c.blockEnd, block, c.blockErr)
}

// blockErr maps a BlockBuffer error to a connection error.
func mapBlockErr(err error) error {
	switch {
	case errors.Is(err, hpack.ErrTooManyContinuations), errors.Is(err, hpack.ErrBlockTooLarge):
		// CVE-2023-45288: a block that never ends is cut off.
		return connErr(frame.ErrCodeEnhanceYourCalm, "%v", err)
	}
	return connErr(frame.ErrCodeProtocol, "%v (RFC 9113 §6.10)", err)
}

// decodeLocked decodes a complete block. A non-nil connection error ends
// the connection; a stream error code (non-zero ok=false) resets the stream.
// The fields are in c.fields, scratch space valid until onHeaderBlock
// returns: a stream keeps them with keepFields.
func (c *Conn) decodeLocked(block []byte, kind hpack.Kind) (fields []hpack.Field, streamErr error, connError error) {
	fields, err := c.dec.Decode(block, kind, c.fields[:0])
	c.fields = fields // its length is what clearFieldsLocked clears
	switch {
	case err == nil:
		return fields, nil, nil
	case errors.Is(err, hpack.ErrCompression):
		// RFC 9113 §4.3: "A decoding error in a field block MUST be treated
		// as a connection error (Section 5.4.1) of type COMPRESSION_ERROR."
		return nil, nil, connErr(frame.ErrCodeCompression, "%v", err)
	case errors.Is(err, hpack.ErrBlockTooLarge):
		return nil, nil, connErr(frame.ErrCodeEnhanceYourCalm, "%v", err)
	}
	return nil, err, nil
}

func (c *Conn) onHeaderBlock(id uint32, end bool, block []byte, se *frame.StreamError) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.clearFieldsLocked()
	if c.err != nil {
		return errEnded
	}
	if s := c.streams[id]; s != nil {
		return c.onStreamHeadersLocked(s, end, block, se)
	}
	if c.isLocal(id) || !c.peerIDs.IsIdle(id) || c.role == roleClient {
		// Not a new stream: decode for the table's sake, then treat as a
		// frame on an idle or closed stream.
		if _, _, cerr := c.decodeLocked(block, hpack.Trailers); cerr != nil {
			return cerr
		}
		if c.isIdleLocked(id) {
			// RFC 9113 §5.1.1: "Streams initiated by a client MUST use
			// odd-numbered stream identifiers; those initiated by the server
			// MUST use even-numbered stream identifiers." A server opens
			// streams only by PUSH_PROMISE, which we disable. "An endpoint
			// that receives an unexpected stream identifier MUST respond with
			// a connection error (Section 5.4.1) of type PROTOCOL_ERROR."
			return connErr(frame.ErrCodeProtocol, "HEADERS opening stream %d, which the peer may not open (RFC 9113 §5.1.1)", id)
		}
		return c.unknownStreamLocked(id, frame.TypeHeaders, end)
	}
	return c.onNewStreamLocked(id, end, block, se)
}

// maxScratchFields bounds the scratch space for decoded fields that a
// connection keeps between header blocks.
const maxScratchFields = 32

// clearFieldsLocked empties the decoding scratch space, so it pins no
// strings between blocks, and drops it if a large block grew it.
func (c *Conn) clearFieldsLocked() {
	if cap(c.fields) > maxScratchFields {
		c.fields = nil
		return
	}
	clear(c.fields) // past its length it is already clear
	c.fields = c.fields[:0]
}

// onNewStreamLocked opens a stream the peer started with HEADERS (server).
func (c *Conn) onNewStreamLocked(id uint32, end bool, block []byte, se *frame.StreamError) error {
	if err := c.peerIDs.Open(id); err != nil {
		return err
	}
	fields, serr, cerr := c.decodeLocked(block, hpack.Request)
	if cerr != nil {
		return cerr
	}
	if c.goAwaySent && id > c.goAwayLastID {
		// §6.8: after sending GOAWAY, "the sender can ignore frames sent by
		// the receiver on streams initiated by the receiver after" the
		// last stream id; the peer retries them elsewhere.
		c.closed.add(id, stream.ClosedResetSent)
		return nil
	}
	if se != nil {
		c.closed.add(id, stream.ClosedResetSent)
		return c.streamErrorLocked(id, se.Code, se.Reason)
	}
	if serr != nil {
		c.closed.add(id, stream.ClosedResetSent)
		if errors.Is(serr, hpack.ErrHeaderListTooLarge) {
			// RFC 9113 §10.5.1: a server that receives a larger header
			// list than it is willing to handle can send 431.
			c.w.headersLocked(id, []hpack.Field{{Name: ":status", Value: "431"}}, true)
			if !end {
				c.w.rstStreamLocked(id, frame.ErrCodeNo)
			}
			c.w.kickLocked()
			return c.countResetLocked()
		}
		return c.streamErrorLocked(id, frame.ErrCodeProtocol, serr.Error())
	}
	// RFC 9113 §5.1.2: "An endpoint that receives a HEADERS frame that causes
	// its advertised concurrent stream limit to be exceeded MUST treat this
	// as a stream error (Section 5.4.2) of type PROTOCOL_ERROR or
	// REFUSED_STREAM." REFUSED_STREAM tells the client it may retry.
	if c.nPeer >= c.cfg.maxConcurrentStreams {
		c.closed.add(id, stream.ClosedResetSent)
		c.w.rstStreamLocked(id, frame.ErrCodeRefusedStream)
		c.w.kickLocked()
		return nil
	}
	if c.draining {
		c.closed.add(id, stream.ClosedResetSent)
		c.w.rstStreamLocked(id, frame.ErrCodeRefusedStream)
		c.w.kickLocked()
		return nil
	}
	cl, err := contentLength(fields)
	if err != nil || (end && cl > 0) {
		c.closed.add(id, stream.ClosedResetSent)
		return c.streamErrorLocked(id, frame.ErrCodeProtocol, "bad content-length")
	}
	s := c.newStreamLocked(id, nil)
	s.headers = s.keepFields(fields)
	s.contentLength = cl
	s.state, _ = stream.Idle.Recv(frame.TypeHeaders, end)
	s.endRecv = end
	c.streams[id] = s
	c.nPeer++
	c.startHandlerLocked(s)
	return nil
}

// onStreamHeadersLocked handles a header block on an open stream: response
// headers or trailers.
func (c *Conn) onStreamHeadersLocked(s *Stream, end bool, block []byte, se *frame.StreamError) error {
	kind := hpack.Trailers
	if c.role == roleClient && !s.gotHeaders {
		kind = hpack.Response
	}
	fields, serr, cerr := c.decodeLocked(block, kind)
	if cerr != nil {
		return cerr
	}
	if se != nil {
		return c.streamErrorLocked(s.id, se.Code, se.Reason)
	}
	if !s.state.CanRecvData() {
		// §5.1 half-closed (remote): frames other than WINDOW_UPDATE,
		// PRIORITY and RST_STREAM are a stream error of type STREAM_CLOSED.
		_, err := c.recvLocked(s, frame.TypeHeaders, end)
		return err
	}
	if serr != nil {
		reason := serr.Error()
		if errors.Is(serr, hpack.ErrHeaderListTooLarge) {
			reason = fmt.Sprintf("the peer's header list is over our SETTINGS_MAX_HEADER_LIST_SIZE of %d octets (Config.MaxHeaderListSize)", c.cfg.maxHeaderListSize)
		}
		return c.streamErrorLocked(s.id, frame.ErrCodeProtocol, reason)
	}
	if kind == hpack.Response {
		status := ""
		for _, f := range fields {
			if f.Name == ":status" {
				status = f.Value
			}
		}
		if len(status) == 3 && status[0] == '1' {
			// An informational response (§8.1): skip it; it cannot end the
			// stream.
			if end {
				return c.streamErrorLocked(s.id, frame.ErrCodeProtocol, "informational response with END_STREAM")
			}
			return nil
		}
		cl, err := contentLength(fields)
		if err != nil {
			return c.streamErrorLocked(s.id, frame.ErrCodeProtocol, "bad content-length")
		}
		s.contentLength = cl
		s.headers = s.keepFields(fields)
		s.gotHeaders = true
		if end {
			s.trailersOnly = true
			s.trailers = s.headers
		}
	} else {
		if !end {
			// RFC 9113 §8.1: "An endpoint that receives a HEADERS frame
			// without the END_STREAM flag set after receiving the HEADERS
			// frame that opens a request or after receiving a final
			// (non-informational) status code MUST treat the corresponding
			// request or response as malformed (Section 8.1.1)."
			return c.streamErrorLocked(s.id, frame.ErrCodeProtocol, "trailers without END_STREAM")
		}
		s.trailers = s.keepFields(fields)
	}
	s.wakeRead()
	if end {
		if kind == hpack.Trailers && s.contentLength >= 0 && s.dataLen != s.contentLength && !s.headMethod {
			return c.streamErrorLocked(s.id, frame.ErrCodeProtocol, "DATA shorter than content-length")
		}
		if ok, err := c.recvLocked(s, frame.TypeHeaders, true); !ok {
			return err
		}
		c.recvEndedLocked(s)
	}
	return nil
}

// contentLength returns the value of the content-length fields, -1 if
// there are none, or an error if they are invalid or disagree (RFC 9110
// §8.6, RFC 9113 §8.1.1).
func contentLength(fields []hpack.Field) (int64, error) {
	cl := int64(-1)
	for _, f := range fields {
		if f.Name != "content-length" {
			continue
		}
		v, err := strconv.ParseUint(f.Value, 10, 63)
		if err != nil {
			return 0, fmt.Errorf("invalid content-length %q", f.Value)
		}
		if cl >= 0 && int64(v) != cl {
			return 0, errors.New("conflicting content-length values")
		}
		cl = int64(v)
	}
	return cl, nil
}

func (c *Conn) onRSTStream(f *frame.RSTStreamFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return errEnded
	}
	s := c.streams[f.StreamID]
	if s == nil {
		if c.isIdleLocked(f.StreamID) {
			// RFC 9113 §6.4: "If a RST_STREAM frame identifying an idle stream
			// is received, the recipient MUST treat this as a connection
			// error (Section 5.4.1) of type PROTOCOL_ERROR."
			return connErr(frame.ErrCodeProtocol, "RST_STREAM on idle stream %d (RFC 9113 §6.4)", f.StreamID)
		}
		return nil // closed: allowed for a while, ignored
	}
	local := c.isLocal(s.id)
	s.err = &ResetError{StreamID: s.id, Code: f.Code, Remote: true}
	s.state = stream.ClosedResetRecv
	c.closeStreamLocked(s)
	if !s.endRecv || s.handlerWaits {
		c.discardLocked(s)
	}
	// Otherwise the peer had ended its side: the data stays readable, to
	// io.EOF. This is RFC 9113 §8.1's complete response followed by
	// RST_STREAM NO_ERROR, which stops only our sending. (A stream still
	// waiting for its handler will never be read: its credit goes back now.)
	c.w.dropLocked(s)
	s.wakeRead()
	s.wakeWrite()
	if local {
		// A peer resetting streams we opened (refusing them, say) costs
		// us nothing: Rapid Reset is about streams the peer opens.
		return nil
	}
	return c.countResetLocked()
}

func (c *Conn) onSettings(f *frame.SettingsFrame) error {
	if f.IsAck() {
		c.mu.Lock()
		first := c.settingsTimer != nil
		if first {
			c.settingsTimer.Stop()
			c.settingsTimer = nil
			c.shrinkPreAckWindowsLocked()
		}
		c.mu.Unlock()
		if first {
			// Our SETTINGS_HEADER_TABLE_SIZE applies from the ACK on.
			c.dec.SetMaxTableSize(c.cfg.headerTableSize)
		}
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return errEnded
	}
	// RFC 9113 §6.5.3: "The values in the SETTINGS frame MUST be processed
	// in the order they appear, with no other frame processing between
	// values." and "Upon receiving a SETTINGS frame with the ACK flag not
	// set, ... the recipient MUST immediately emit a SETTINGS frame with
	// the ACK flag set."
	if !c.gotPeerSettings {
		c.gotPeerSettings = true
		if _, ok := f.Value(frame.SettingMaxConcurrentStreams); !ok {
			c.peer.maxConcurrentStreams = 1<<31 - 1 // §6.5.2: no limit
			c.grantSlotsLocked()
		}
	}
	if err := f.ForEach(c.applySettingLocked); err != nil {
		return err
	}
	c.w.settingsAckLocked()
	c.w.kickLocked()
	return nil
}

// applySettingLocked applies one of the peer's settings. The frame reader
// already checked the values' ranges (RFC 9113 §6.5.2).
func (c *Conn) applySettingLocked(st frame.Setting) error {
	switch st.ID {
	case frame.SettingHeaderTableSize:
		c.peer.headerTableSize = st.Val
		c.enc.SetMaxTableSize(st.Val)
	case frame.SettingEnablePush:
		// §6.5.2: "A client MUST treat receipt of a SETTINGS frame with
		// SETTINGS_ENABLE_PUSH set to 1 as a connection error (Section
		// 5.4.1) of type PROTOCOL_ERROR."
		if c.role == roleClient && st.Val == 1 {
			return connErr(frame.ErrCodeProtocol, "server sent SETTINGS_ENABLE_PUSH=1 (RFC 9113 §6.5.2)")
		}
	case frame.SettingMaxConcurrentStreams:
		c.peer.maxConcurrentStreams = st.Val
		c.grantSlotsLocked()
	case frame.SettingInitialWindowSize:
		// §6.9.2: "When the value of SETTINGS_INITIAL_WINDOW_SIZE changes, a
		// receiver MUST adjust the size of all stream flow-control windows
		// that it maintains by the difference between the new value and the
		// old value." Windows may go negative; overflow is a connection
		// error of type FLOW_CONTROL_ERROR.
		delta := int64(st.Val) - int64(c.peer.initialWindowSize)
		c.peer.initialWindowSize = st.Val
		for _, s := range c.streams {
			if err := s.sendWin.Adjust(delta); err != nil {
				return connErr(frame.ErrCodeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE overflows stream %d's window: %v (RFC 9113 §6.9.2)", s.id, err)
			}
			if delta > 0 {
				c.w.scheduleLocked(s)
			}
		}
	case frame.SettingMaxFrameSize:
		c.peer.maxFrameSize = st.Val
	case frame.SettingMaxHeaderListSize:
		c.peer.maxHeaderListSize = st.Val
	}
	// §6.5.2: "An endpoint that receives a SETTINGS frame with any unknown or
	// unsupported identifier MUST ignore that setting."
	return nil
}

func (c *Conn) onPing(f *frame.PingFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return errEnded
	}
	if f.IsAck() {
		if f.Data == bdpPing && c.bdp.Pinging() {
			c.bdpAckedLocked()
			return nil
		}
		if ch, ok := c.pings[f.Data]; ok {
			delete(c.pings, f.Data)
			close(ch)
		}
		return nil
	}
	if err := c.checkPingLocked(); err != nil {
		return err
	}
	// RFC 9113 §6.7: "Receivers of a PING frame that does not include an ACK
	// flag MUST send a PING frame with the ACK flag set in response, with an
	// identical frame payload."
	c.w.pingLocked(true, f.Data)
	c.w.kickLocked()
	return nil
}

// bdpPing is the payload of the PINGs that time a bandwidth-delay sample;
// Ping's payloads are a counter that never reaches it.
var bdpPing = [8]byte{'h', '2', 'r', 'p', 'c', 'b', 'd', 'p'}

// bdpAckedLocked ends a bandwidth-delay sample and grows the connection
// receive window if the sample says the window limited the transfer.
func (c *Conn) bdpAckedLocked() {
	w := c.bdp.Acked(time.Now())
	if w == 0 {
		return
	}
	if inc := c.recvWin.Resize(int32(w)); inc > 0 {
		c.w.windowUpdateLocked(0, inc)
		c.w.kickLocked()
	}
}

// maxGoAwayDebug bounds the GOAWAY debug data we keep.
const maxGoAwayDebug = 256

func (c *Conn) onGoAway(f *frame.GoAwayFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return errEnded
	}
	last := f.LastStreamID
	if c.goAwayRecv != nil && c.goAwayRecv.LastStreamID < last {
		last = c.goAwayRecv.LastStreamID // the id may only go down (§6.8)
	}
	debug := f.DebugData
	if len(debug) > maxGoAwayDebug {
		debug = debug[:maxGoAwayDebug]
	}
	g := &GoAwayError{LastStreamID: last, Code: f.Code, Debug: string(debug)}
	c.goAwayRecv = g
	if f.Code != frame.ErrCodeNo {
		// An error code reports a connection error, after which the peer
		// "MUST close the TCP connection" (§5.4.1): nothing more will
		// come, for any stream. Not every peer closes at once (Node's
		// HTTP/2 keeps the socket open), so the connection ends here
		// rather than wait for the streams at or below the last id; each
		// fails with g, whose id tells the RPC layer which were processed.
		c.failLocked(g)
		return nil
	}
	c.startDrainLocked()
	// §6.8: streams above the last id were not processed: fail them so the
	// caller can retry them elsewhere; those up to it go on.
	for id, s := range c.streams {
		if c.isLocal(id) && id > last {
			s.err = g
			s.state = stream.ClosedResetSent // nothing more will come
			c.closeStreamLocked(s)
			c.discardLocked(s)
			c.w.dropLocked(s)
			s.wakeRead()
			s.wakeWrite()
		}
	}
	c.closeIfDrainedLocked()
	return nil
}

func (c *Conn) onWindowUpdate(f *frame.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return errEnded
	}
	if f.StreamID == 0 {
		if err := c.sendWin.Add(f.Increment); err != nil {
			// §6.9.1: "If a sender receives a WINDOW_UPDATE that causes a
			// flow-control window to exceed this maximum, it MUST terminate
			// either the stream or the connection, as appropriate."
			return connErr(frame.ErrCodeFlowControl, "connection window: %v (RFC 9113 §6.9.1)", err)
		}
		c.w.kickLocked() // streams waiting for connection credit
		return nil
	}
	s := c.streams[f.StreamID]
	if s == nil {
		if c.isIdleLocked(f.StreamID) {
			// §5.1 idle: only HEADERS and PRIORITY are allowed.
			return connErr(frame.ErrCodeProtocol, "WINDOW_UPDATE on idle stream %d (RFC 9113 §5.1)", f.StreamID)
		}
		return nil // closed: allowed for a while, ignored
	}
	if err := s.sendWin.Add(f.Increment); err != nil {
		return c.streamErrorLocked(s.id, frame.ErrCodeFlowControl, err.Error())
	}
	c.w.scheduleLocked(s)
	return nil
}
