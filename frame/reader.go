package frame

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"sync"
)

// Buffer sizing. An idle Reader holds only its small inline buffer: it
// reads into that while it waits, and moves to a pooled buffer when a burst
// of bytes or a frame does not fit. A pooled buffer is sized for the frame at
// hand with as much again of read-ahead (at least minPooled, a power of two),
// so one Read serves many small frames and a run of 16 KiB DATA frames is
// read 64 KiB at a time; it goes back to its pool when the Reader drains
// after a burst small enough for the inline buffer, so a quiet connection
// holds none.
const (
	smallBufSize = 512
	minPooled    = 4 << 10
	maxPooled    = 1 << 20 // larger buffers are allocated to size and not pooled
	readAhead    = 4 << 10 // read-ahead beyond a frame larger than maxPooled
	// growStep bounds each step of growth past 64 KiB while the frame's
	// bytes have not arrived: a header alone cannot make the Reader allocate
	// a buffer for a 16 MiB frame.
	growStep = 64 << 10
	// maxEmptyReads bounds a misbehaving io.Reader that keeps returning
	// (0, nil): after that many in a row ReadFrame fails with io.ErrNoProgress
	// instead of spinning forever.
	maxEmptyReads = 100
)

// bufPools holds the pooled read buffers by size class: class i holds
// buffers of minPooled<<i octets, 4 KiB to maxPooled.
var bufPools [9]sync.Pool

// sizeClass returns the pool class of a buffer of n octets (n a class size),
// or -1.
func sizeClass(n int) int {
	if n < minPooled || n > maxPooled || n&(n-1) != 0 {
		return -1
	}
	return bits.Len(uint(n/minPooled)) - 1
}

// bufSizeFor returns the buffer size for a frame of n octets (header
// included).
func bufSizeFor(n int) int {
	if n+n > maxPooled {
		return n + readAhead
	}
	return max(minPooled, 1<<bits.Len(uint(2*n-1)))
}

// scribbleByte overwrites a consumed frame's bytes in scribble mode.
const scribbleByte = 0xdb

// Reader reads frames from an io.Reader. It does its own buffering: one large
// read may serve many frames. It is not safe for concurrent use.
//
// Memory: while it waits for bytes after a quiet spell the Reader holds
// only a 512-octet inline buffer. Bursts and large frames are read into a
// buffer taken from a shared pool, sized for the frame with read-ahead (64
// KiB for 16 KiB frames, never more than twice HeaderLen + the max frame
// size, nor more than that plus 4 KiB past 512 KiB frames), and returned to
// the pool when the Reader drains after a small burst. A frame returned by
// ReadFrame is one of the Reader's own per-type structs and its slices point
// into the current buffer: both are valid only until the next ReadFrame (a
// pooled buffer may then serve another Reader). In steady state ReadFrame
// does not allocate.
//
// After a *ConnError every later ReadFrame returns the same error; after a
// *StreamError or an I/O error the Reader is still consistent and the caller
// may go on reading.
type Reader struct {
	r io.Reader

	buf        []byte  // small[:] or *pooled
	pooled     *[]byte // the pooled (or large) buffer in use, nil while small
	start, end int     // buf[start:end] is read but not yet consumed
	prevStart  int     // buf[prevStart:start] holds the last returned frame
	burst      int     // octets read since the buffer was last empty
	rerr       error   // error from r, reported once buffered data runs out

	maxFrameSize uint32
	scribble     bool

	// A DATA frame returned in parts (SetSplitData, UnreadData): dataLeft
	// octets of its data are still to be returned, then padLeft octets of
	// padding are skipped. lastPad is the padding consumed with the DATA
	// frame the last ReadFrame returned whole, and unreadable how many
	// octets of that call's Data UnreadData may give back.
	split      bool
	dataLeft   int
	padLeft    int
	lastPad    int
	unreadable int

	// contStream is the stream of an open field block (§6.10): after
	// HEADERS or PUSH_PROMISE without END_HEADERS the next frame must be a
	// CONTINUATION on this stream. Zero when no block is open.
	contStream uint32
	contType   Type

	err error // sticky *ConnError

	// One reusable struct per frame type: ReadFrame returns a pointer to one
	// of them, so reading does not allocate.
	data         DataFrame
	headers      HeadersFrame
	priority     PriorityFrame
	rstStream    RSTStreamFrame
	settings     SettingsFrame
	pushPromise  PushPromiseFrame
	ping         PingFrame
	goAway       GoAwayFrame
	windowUpdate WindowUpdateFrame
	continuation ContinuationFrame
	unknown      UnknownFrame

	small [smallBufSize]byte
}

// NewReader returns a Reader that reads from r, accepting frames up to
// DefaultMaxFrameSize until SetMaxFrameSize says otherwise.
func NewReader(r io.Reader) *Reader {
	fr := &Reader{
		r:            r,
		maxFrameSize: DefaultMaxFrameSize,
		scribble:     scribbleDefault,
	}
	fr.buf = fr.small[:]
	return fr
}

// Ready reports whether ReadFrame would return without reading from the
// underlying reader: a whole frame is buffered, or an error is pending. A
// connection whose readers take turns uses it to hand over at a point where
// the buffered frames have all been applied.
func (fr *Reader) Ready() bool {
	if fr.err != nil || fr.rerr != nil {
		return true
	}
	if fr.dataLeft > 0 {
		return fr.end > fr.start // the next part
	}
	n := fr.end - fr.start - fr.padLeft
	at := fr.start + fr.padLeft
	return n >= HeaderLen && n >= HeaderLen+int(parseHeader(fr.buf[at:at+HeaderLen]).Length)
}

// Next returns the header of the frame the next ReadFrame returns, if it
// is whole in the buffer and no error is pending (ok false otherwise), so a
// caller can decide whether to read it now. It reports nothing while a
// frame is being returned in parts (DataLeft).
func (fr *Reader) Next() (h Header, ok bool) {
	if fr.err != nil || fr.dataLeft > 0 || !fr.Ready() {
		return Header{}, false
	}
	at := fr.start + fr.padLeft
	return parseHeader(fr.buf[at : at+HeaderLen]), true
}

// SetSplitData turns on returning large DATA frames in parts: a DATA frame
// with a payload over DefaultMaxFrameSize whose octets are not all
// buffered is returned at once with the data buffered so far (its first
// part, More set), and the rest by later ReadFrame calls as it arrives
// (Cont set), or by ReadData straight into the caller's buffer. The
// Reader's buffer then never grows for a DATA frame: a frame up to the
// largest SETTINGS_MAX_FRAME_SIZE is read through a buffer of 64 KiB or
// less. Other frames are returned whole, as without it.
func (fr *Reader) SetSplitData(on bool) { fr.split = on }

// DataLeft reports how many octets of the data of the DATA frame being
// returned in parts are still to come (0 when none is).
func (fr *Reader) DataLeft() int { return fr.dataLeft }

// UnreadData gives back the last k octets of the Data of the DATA frame
// (or part of one) the last ReadFrame or ReadData returned: the next
// ReadFrame or ReadData returns them again, as a part of that frame (Cont
// set). It must be called before any other method; k is clamped to what
// that call returned from the buffer (octets ReadData read straight into
// the caller's slice cannot be given back). It returns the octets given
// back.
func (fr *Reader) UnreadData(k int) int {
	k = min(max(k, 0), fr.unreadable)
	if k == 0 {
		return 0
	}
	fr.unreadable -= k
	fr.start -= k + fr.lastPad
	fr.padLeft += fr.lastPad
	fr.lastPad = 0
	fr.dataLeft += k
	return k
}

// ReadData reads into p octets of the data of the DATA frame being
// returned in parts (DataLeft), never past its end: what is buffered
// first, else with one Read of the underlying reader straight into p, so
// that a large payload reaches its destination without passing through
// the Reader's buffer. It returns 0, nil if no frame is being returned in
// parts. Errors are ReadFrame's I/O errors; after a timeout the Reader
// stays consistent and reading may go on.
func (fr *Reader) ReadData(p []byte) (int, error) {
	fr.unreadable, fr.lastPad = 0, 0
	if fr.err != nil {
		return 0, fr.err
	}
	p = p[:min(len(p), fr.dataLeft)]
	if len(p) == 0 {
		return 0, nil
	}
	if fr.end > fr.start {
		k := copy(p, fr.buf[fr.start:fr.end])
		fr.start += k
		fr.dataLeft -= k
		fr.unreadable = k
		return k, nil
	}
	if fr.rerr != nil {
		err := fr.rerr
		fr.rerr = nil
		return 0, midFrame(err)
	}
	for range maxEmptyReads {
		m, err := fr.r.Read(p)
		if m < 0 || m > len(p) {
			return 0, fmt.Errorf("frame: invalid Read count %d from the underlying reader", m)
		}
		fr.dataLeft -= m
		if err != nil {
			if m > 0 {
				fr.rerr = err
				return m, nil
			}
			return 0, midFrame(err)
		}
		if m > 0 {
			return m, nil
		}
	}
	return 0, io.ErrNoProgress
}

// midFrame maps io.EOF inside a frame to io.ErrUnexpectedEOF.
func midFrame(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Release returns the Reader's pooled buffer, if it holds one, to the pool.
// Frames returned earlier become invalid; the Reader may still be used.
// A connection calls it when it ends.
func (fr *Reader) Release() {
	if fr.pooled == nil {
		return
	}
	n := copy(fr.small[:], fr.buf[fr.start:fr.end])
	if n < fr.end-fr.start {
		return // still holds more than the inline buffer can take
	}
	fr.putPooled()
	fr.buf = fr.small[:]
	fr.start, fr.end, fr.prevStart = 0, n, 0
}

// putPooled gives the pooled buffer back (or drops a large one).
func (fr *Reader) putPooled() {
	if c := sizeClass(cap(*fr.pooled)); c >= 0 {
		*fr.pooled = (*fr.pooled)[:cap(*fr.pooled)]
		bufPools[c].Put(fr.pooled)
	}
	fr.pooled = nil
}

// getBuf returns a buffer of n octets (a class size, or a large size).
func getBuf(n int) *[]byte {
	if c := sizeClass(n); c >= 0 {
		if p, ok := bufPools[c].Get().(*[]byte); ok {
			return p
		}
	}
	b := make([]byte, n)
	return &b
}

// SetMaxFrameSize sets the largest payload this endpoint accepts: the
// SETTINGS_MAX_FRAME_SIZE it advertised (16384..16777215). Larger frames are
// a FRAME_SIZE_ERROR. The Reader's buffer never grows past n+HeaderLen plus
// its read-ahead. Values outside the legal range are clamped to it.
func (fr *Reader) SetMaxFrameSize(n uint32) {
	fr.maxFrameSize = min(max(n, DefaultMaxFrameSize), MaxAllowedFrameSize)
}

// SetScribble turns scribble mode on or off. In scribble mode ReadFrame
// overwrites the bytes of the previously returned frame (header and payload)
// with 0xdb before it reads the next one, so code that keeps a payload slice
// past the next ReadFrame sees garbage at once instead of data that is
// silently replaced later. It is meant for tests; the build tag
// h2rpc_scribble turns it on for every Reader.
func (fr *Reader) SetScribble(on bool) { fr.scribble = on }

// ReadPreface reads and checks the 24-byte client connection preface
// (servers call it once before the first ReadFrame). A mismatch is a
// *ConnError of type PROTOCOL_ERROR, reported as soon as the bytes read so
// far differ, without waiting for all 24.
func (fr *Reader) ReadPreface() error {
	if fr.err != nil {
		return fr.err
	}
	const n = len(ClientPreface)
	for {
		got := fr.buf[fr.start:min(fr.end, fr.start+n)]
		// RFC 9113 §3.4: "Clients and servers MUST treat an invalid
		// connection preface as a connection error (Section 5.4.1) of type
		// PROTOCOL_ERROR."
		if string(got) != ClientPreface[:len(got)] {
			fr.err = connError(ErrCodeProtocol, "invalid client connection preface (RFC 9113 §3.4)")
			return fr.err
		}
		if len(got) == n {
			fr.start += n
			fr.prevStart = fr.start
			return nil
		}
		if err := fr.readMore(n); err != nil {
			if err == io.EOF && len(got) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

// ReadFrame reads the next frame. The returned frame and its slices are
// valid until the next call. Errors: *ConnError (the connection must end
// with GOAWAY), *StreamError (reset that stream; reading may go on), or an
// I/O error from the underlying reader (io.EOF at a frame boundary,
// io.ErrUnexpectedEOF inside a frame).
//
// With a *StreamError ReadFrame also returns the frame, parsed as far as it
// could be, so the connection can still account for it: in particular a
// HEADERS frame's field block must still be decoded to keep the HPACK state
// in step (RFC 9113 §4.3).
func (fr *Reader) ReadFrame() (Frame, error) {
	if fr.err != nil {
		return nil, fr.err
	}
	if fr.scribble {
		overwrite(fr.buf[fr.prevStart:fr.start])
	}
	fr.prevStart = fr.start
	fr.unreadable, fr.lastPad = 0, 0
	if fr.dataLeft > 0 {
		return fr.nextPart()
	}
	if err := fr.skipPadding(); err != nil {
		return nil, err
	}
	if err := fr.fill(HeaderLen); err != nil {
		return nil, err
	}
	h := parseHeader(fr.buf[fr.start : fr.start+HeaderLen])

	// RFC 9113 §4.2: "An endpoint MUST send an error code of FRAME_SIZE_ERROR
	// if a frame exceeds the size defined in SETTINGS_MAX_FRAME_SIZE". The
	// payload is never read, so this is a connection error: the stream of
	// frames cannot be resynchronised without consuming it.
	if h.Length > fr.maxFrameSize {
		fr.err = connError(ErrCodeFrameSize, fmt.Sprintf(
			"%v frame length %d exceeds SETTINGS_MAX_FRAME_SIZE %d (RFC 9113 §4.2)", h.Type, h.Length, fr.maxFrameSize))
		return nil, fr.err
	}
	if err := fr.checkSequence(h); err != nil {
		fr.err = err
		return nil, err
	}
	total := HeaderLen + int(h.Length)
	if fr.split && h.Type == TypeData && h.Length > DefaultMaxFrameSize && fr.end-fr.start < total {
		return fr.firstPart(h)
	}
	if err := fr.fill(total); err != nil {
		return nil, midFrame(err)
	}
	// The frame is whole: from here on it is consumed, whatever the parser
	// says of it, and it opens or closes a field block.
	fr.trackFieldBlock(h)
	payload := fr.buf[fr.start+HeaderLen : fr.start+total : fr.start+total]
	fr.start += total

	var parse parser = parseUnknown
	if int(h.Type) < len(parsers) {
		parse = parsers[h.Type]
	}
	f, err := parse(fr, h, payload)
	if _, ok := err.(*ConnError); ok {
		fr.err = err
		return nil, err
	}
	if d, ok := f.(*DataFrame); ok && err == nil {
		fr.unreadable, fr.lastPad = len(d.Data), int(d.PadLen)
	}
	return f, err
}

// partRead is how much room a read for the next part of a DATA frame asks
// for in the buffer.
const partRead = 32 << 10

// firstPart returns the first part of a DATA frame not all buffered
// (SetSplitData): its header is validated as parseData would, and the
// data buffered so far returned.
func (fr *Reader) firstPart(h Header) (Frame, error) {
	// RFC 9113 §6.1: "If a DATA frame is received whose Stream Identifier
	// field is 0x00, the recipient MUST respond with a connection error
	// (Section 5.4.1) of type PROTOCOL_ERROR."
	if h.StreamID == 0 {
		fr.err = errNeedStream(h, "§6.1")
		return nil, fr.err
	}
	hl := HeaderLen
	var padLen uint8
	if h.Flags.Has(FlagPadded) {
		if err := fr.fill(HeaderLen + 1); err != nil {
			return nil, midFrame(err)
		}
		padLen = fr.buf[fr.start+HeaderLen]
		hl++
		if int(padLen) > int(h.Length)-1 {
			fr.err = errPadding(h, padLen, "§6.1")
			return nil, fr.err
		}
	}
	fr.start += hl
	fr.dataLeft = int(h.Length) - (hl - HeaderLen) - int(padLen)
	fr.padLeft = int(padLen)
	f := &fr.data
	*f = DataFrame{Header: h, PadLen: padLen}
	fr.takePart(f)
	return f, nil
}

// nextPart returns the next part of a DATA frame being returned in parts,
// reading if nothing of it is buffered.
func (fr *Reader) nextPart() (Frame, error) {
	if fr.end == fr.start {
		if err := fr.readMore(min(fr.dataLeft, partRead)); err != nil {
			return nil, midFrame(err)
		}
	}
	f := &fr.data
	f.Cont = true
	fr.takePart(f)
	return f, nil
}

// takePart puts what is buffered of the data of a frame in parts into f.
func (fr *Reader) takePart(f *DataFrame) {
	k := min(fr.end-fr.start, fr.dataLeft)
	f.Data = fr.buf[fr.start : fr.start+k : fr.start+k]
	fr.start += k
	fr.dataLeft -= k
	f.More = fr.dataLeft > 0
	fr.unreadable = k
}

// skipPadding consumes the padding of a DATA frame returned in parts.
func (fr *Reader) skipPadding() error {
	for fr.padLeft > 0 {
		if fr.end == fr.start {
			if err := fr.readMore(fr.padLeft); err != nil {
				return midFrame(err)
			}
		}
		k := min(fr.padLeft, fr.end-fr.start)
		fr.start += k
		fr.padLeft -= k
	}
	return nil
}

// checkSequence enforces the CONTINUATION rules of §6.10 on the header of
// the next frame, before its payload is read.
func (fr *Reader) checkSequence(h Header) error {
	if fr.contStream != 0 {
		// RFC 9113 §6.10: "If the END_HEADERS flag is not set, this frame
		// MUST be followed by another CONTINUATION frame. A receiver MUST
		// treat the receipt of any other type of frame or a frame on a
		// different stream as a connection error (Section 5.4.1) of type
		// PROTOCOL_ERROR." (§6.2 and §6.6 say the same of HEADERS and
		// PUSH_PROMISE.)
		if h.Type != TypeContinuation {
			return connError(ErrCodeProtocol, fmt.Sprintf(
				"%v frame on stream %d inside the field block of %v on stream %d; want CONTINUATION (RFC 9113 §6.10)",
				h.Type, h.StreamID, fr.contType, fr.contStream))
		}
		if h.StreamID != fr.contStream {
			return connError(ErrCodeProtocol, fmt.Sprintf(
				"CONTINUATION frame on stream %d inside the field block of stream %d (RFC 9113 §6.10)",
				h.StreamID, fr.contStream))
		}
	} else if h.Type == TypeContinuation {
		// RFC 9113 §6.10: "A CONTINUATION frame MUST be preceded by a
		// HEADERS, PUSH_PROMISE or CONTINUATION frame without the
		// END_HEADERS flag set. A recipient that observes violation of this
		// rule MUST respond with a connection error (Section 5.4.1) of type
		// PROTOCOL_ERROR."
		return connError(ErrCodeProtocol, fmt.Sprintf(
			"CONTINUATION frame on stream %d without an open field block (RFC 9113 §6.10)", h.StreamID))
	}
	return nil
}

// trackFieldBlock opens or closes the field block of a consumed HEADERS,
// PUSH_PROMISE or CONTINUATION frame. It runs only once the whole frame is
// buffered, so a ReadFrame that fails on I/O half way can be retried.
func (fr *Reader) trackFieldBlock(h Header) {
	switch h.Type {
	case TypeHeaders, TypePushPromise, TypeContinuation:
		if h.Flags.Has(FlagEndHeaders) {
			fr.contStream = 0
		} else {
			fr.contStream = h.StreamID
			if h.Type != TypeContinuation {
				fr.contType = h.Type
			}
		}
	}
}

// fill makes at least n bytes available in buf[start:end], reading from r
// as needed. It returns io.EOF only if no byte at all is buffered.
func (fr *Reader) fill(n int) error {
	for fr.end-fr.start < n {
		if err := fr.readMore(n); err != nil {
			if err == io.EOF && fr.end > fr.start {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// readMore does one Read (or reports the pending read error), making room
// for a frame of n octets at buf[start:] first: it compacts the buffer when
// the frame would straddle its end and moves to a larger buffer when n does
// not fit at all. A drained Reader whose last burst fitted the inline buffer
// returns its pooled buffer before it reads, since the wait may be long.
func (fr *Reader) readMore(n int) error {
	if fr.rerr != nil {
		err := fr.rerr
		fr.rerr = nil
		return err
	}
	if fr.start == fr.end {
		if fr.pooled != nil && fr.burst <= smallBufSize {
			fr.putPooled()
			fr.buf = fr.small[:]
		}
		fr.start, fr.end, fr.prevStart, fr.burst = 0, 0, 0, 0
	}
	if fr.pooled == nil && fr.burst >= smallBufSize {
		fr.grow(n) // a burst larger than the inline buffer: read on in bulk
	} else if len(fr.buf)-fr.start < n {
		if n > len(fr.buf) && (len(fr.buf) < growStep || fr.end-fr.start == len(fr.buf)) {
			fr.grow(n)
		} else {
			fr.end = copy(fr.buf, fr.buf[fr.start:fr.end])
			fr.start, fr.prevStart = 0, 0
		}
	}
	for range maxEmptyReads {
		m, err := fr.r.Read(fr.buf[fr.end:])
		if m < 0 || m > len(fr.buf)-fr.end {
			return fmt.Errorf("frame: invalid Read count %d from the underlying reader", m)
		}
		fr.end += m
		fr.burst += m
		if err != nil {
			if m > 0 {
				fr.rerr = err
				return nil
			}
			return err
		}
		if m > 0 {
			return nil
		}
	}
	return io.ErrNoProgress
}

// grow moves the unconsumed bytes to a buffer sized for a frame of n octets,
// or, past growStep, at most twice the current size: a large frame's buffer
// grows as its bytes arrive.
func (fr *Reader) grow(n int) {
	size := bufSizeFor(n)
	if size > growStep && size > 2*len(fr.buf) {
		size = max(growStep, 2*len(fr.buf))
	}
	if size < n {
		size = max(size, fr.end-fr.start+1) // room for at least one more octet
	}
	nb := getBuf(size)
	m := copy(*nb, fr.buf[fr.start:fr.end])
	if fr.pooled != nil {
		fr.putPooled()
	}
	fr.pooled, fr.buf = nb, *nb
	fr.start, fr.end, fr.prevStart = 0, m, 0
}

func parseHeader(b []byte) Header {
	return Header{
		Length: uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		Type:   Type(b[3]),
		Flags:  Flags(b[4]),
		// RFC 9113 §4.1: the reserved bit "MUST remain unset (0x0) when
		// sending and MUST be ignored when receiving."
		StreamID: binary.BigEndian.Uint32(b[5:9]) & MaxStreamID,
	}
}

// overwrite fills b with scribbleByte.
func overwrite(b []byte) {
	for i := range b {
		b[i] = scribbleByte
	}
}
