package trace

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/h2rpc/h2rpc/frame"
	xhpack "golang.org/x/net/http2/hpack"
)

// Bounds that keep a Recorder's memory small whatever crosses the wire.
const (
	maxTrackedStreams = 4096     // streams whose windows are followed at once
	maxBlock          = 1 << 20  // a header block being reassembled
	maxTableSize      = 64 << 10 // the HPACK dynamic table a decoder allows
	maxStringLength   = 64 << 10 // one decoded header name or value
	maxDebug          = 256      // GOAWAY debug data kept
	initialWindow     = 65535    // RFC 9113 §6.9.2
)

// Recorder turns the frames of one connection into Events. It decodes
// header blocks (with an HPACK decoder per direction, as the peers do),
// follows the flow-control windows both ways, and finds gRPC message
// prefixes in DATA. Its methods are safe for concurrent use: a
// connection's reader and writer call it from their own goroutines.
//
// A Recorder at an endpoint satisfies conn.Tracer: TraceWrite sees the
// frames the endpoint writes, TraceRead those it reads. A proxy feeds it
// the raw bytes of each direction with Bytes.
type Recorder struct {
	w    *Writer
	conn int
	at   Endpoint

	mu      sync.Mutex
	dirs    [2]direction // by sender: index 0 client, 1 server
	connWin [2]int64     // send credit of the client, the server
	initial [2]int64     // initial stream send credit of the client, the server
	streams map[uint32]*streamState
}

// direction is the decoding state of the frames one endpoint sends.
type direction struct {
	pending  []byte        // raw bytes not yet parsed (Bytes only)
	preface  bool          // the client preface is still expected (Bytes only)
	fr       *frame.Reader // parses pending (Bytes only)
	feed     feeder
	dec      *xhpack.Decoder
	block    []byte // a header block being reassembled
	blockID  uint32
	blockErr bool   // the block outgrew maxBlock
	broken   string // why decoding stopped; "" while it goes on
}

type streamState struct {
	win   [2]int64
	ended [2]bool
	grpc  bool
	msg   [2]msgState
}

// msgState finds gRPC length prefixes in one direction of a stream.
type msgState struct {
	left   uint64  // octets of the current message body still to come
	hdr    [5]byte // a prefix split across frames
	hdrLen int
}

func index(e Endpoint) int {
	if e == Server {
		return 1
	}
	return 0
}

func newRecorder(w *Writer, conn int, at Endpoint) *Recorder {
	r := &Recorder{w: w, conn: conn, at: at, streams: make(map[uint32]*streamState)}
	for i := range r.dirs {
		d := &r.dirs[i]
		d.dec = xhpack.NewDecoder(4096, nil)
		d.dec.SetMaxStringLength(maxStringLength)
		r.connWin[i] = initialWindow
		r.initial[i] = initialWindow
	}
	r.dirs[index(Client)].preface = true
	return r
}

// TraceWrite records the frames in b, which the recording endpoint wrote:
// whole frames, the client preface first on a client.
func (r *Recorder) TraceWrite(b []byte) {
	if r.at == Client || r.at == Server {
		r.Bytes(r.at, b)
	}
}

// TraceRead records f, a frame the recording endpoint read.
func (r *Recorder) TraceRead(f frame.Frame) {
	if r.at != Client && r.at != Server {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.observeLocked(r.at.other(), f, "")
}

// Bytes records the frames in b, raw octets sent by from (the client
// preface, then frames) in the order they crossed the wire; a frame may be
// split across calls. b is not retained. When the bytes stop making sense
// as HTTP/2 an event with Error says why, and that direction is no longer
// decoded.
func (r *Recorder) Bytes(from Endpoint, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := &r.dirs[index(from)]
	if d.broken != "" {
		return
	}
	d.pending = append(d.pending, b...)
	if d.preface {
		n := min(len(d.pending), len(frame.ClientPreface))
		if string(d.pending[:n]) != frame.ClientPreface[:n] {
			r.breakLocked(from, "the client connection preface is missing")
			return
		}
		if n < len(frame.ClientPreface) {
			return
		}
		d.pending = d.pending[len(frame.ClientPreface):]
		d.preface = false
	}
	if d.fr == nil {
		d.fr = frame.NewReader(&d.feed)
		d.fr.SetMaxFrameSize(frame.MaxAllowedFrameSize)
	}
	// Hand the parser only whole frames, so it never waits for more.
	off, frames := 0, 0
	for len(d.pending)-off >= frame.HeaderLen {
		n := frame.HeaderLen + int(uint32(d.pending[off])<<16|uint32(d.pending[off+1])<<8|uint32(d.pending[off+2]))
		if len(d.pending)-off < n {
			break
		}
		off += n
		frames++
	}
	d.feed.b = d.pending[:off]
	for range frames {
		f, err := d.fr.ReadFrame()
		if err != nil {
			if _, ok := err.(*frame.StreamError); ok && f != nil {
				r.observeLocked(from, f, err.Error())
				continue
			}
			r.breakLocked(from, err.Error())
			return
		}
		r.observeLocked(from, f, "")
	}
	d.pending = append(d.pending[:0], d.pending[off:]...)
	if cap(d.pending) > 64<<10 && len(d.pending) < 1<<10 {
		d.pending = append([]byte(nil), d.pending...) // do not keep a large frame's buffer
	}
}

// breakLocked stops decoding the frames from from and records why.
func (r *Recorder) breakLocked(from Endpoint, why string) {
	d := &r.dirs[index(from)]
	d.broken = why
	d.pending, d.block = nil, nil
	if d.fr != nil {
		d.fr.Release()
	}
	r.w.emit(&Event{Conn: r.conn, From: from, Type: "ERROR", Error: why, Window: r.windowLocked(nil)})
}

// feeder is the io.Reader a direction's frame.Reader parses from.
type feeder struct{ b []byte }

func (f *feeder) Read(p []byte) (int, error) {
	n := copy(p, f.b)
	f.b = f.b[n:]
	if n == 0 {
		return 0, fmt.Errorf("trace: internal error: parser read past the whole frames it was given")
	}
	return n, nil
}

// observeLocked records one parsed frame sent by from.
func (r *Recorder) observeLocked(from Endpoint, f frame.Frame, errText string) {
	h := f.FrameHeader()
	e := Event{
		Conn:   r.conn,
		From:   from,
		Type:   h.Type.String(),
		Stream: h.StreamID,
		Flags:  flagNames(h.Type, h.Flags),
		Len:    h.Length,
		Error:  errText,
	}
	me, peer := index(from), 1-index(from)
	d := &r.dirs[me]
	var st *streamState
	if h.StreamID != 0 {
		st = r.streamLocked(h.StreamID, h.Type)
	}
	switch f := f.(type) {
	case *frame.DataFrame:
		n := int64(h.Length)
		r.connWin[me] -= n
		if st != nil {
			st.win[me] -= n
			if st.grpc {
				e.Msgs = st.msg[me].scan(f.Data)
			}
		}
		r.endLocked(st, h.StreamID, me, f.StreamEnded())
	case *frame.HeadersFrame:
		d.block, d.blockID, d.blockErr = d.block[:0], h.StreamID, false
		r.fragmentLocked(&e, d, st, f.BlockFragment, f.HeadersEnded())
		r.endLocked(st, h.StreamID, me, f.StreamEnded())
	case *frame.PushPromiseFrame:
		d.block, d.blockID, d.blockErr = d.block[:0], h.StreamID, false
		r.fragmentLocked(&e, d, nil, f.BlockFragment, f.HeadersEnded())
	case *frame.ContinuationFrame:
		r.fragmentLocked(&e, d, st, f.BlockFragment, f.HeadersEnded())
	case *frame.RSTStreamFrame:
		e.Code = f.Code.String()
		delete(r.streams, h.StreamID)
		st = nil
	case *frame.SettingsFrame:
		if !f.IsAck() {
			f.ForEach(func(s frame.Setting) error {
				e.Settings = append(e.Settings, Setting{ID: s.ID.String(), Value: s.Val})
				r.settingLocked(me, peer, s)
				return nil
			})
		}
	case *frame.PingFrame:
		e.Ping = hex.EncodeToString(f.Data[:])
	case *frame.GoAwayFrame:
		e.Code = f.Code.String()
		e.LastStream = f.LastStreamID
		e.Debug = strings.ToValidUTF8(string(f.DebugData[:min(len(f.DebugData), maxDebug)]), "?")
	case *frame.WindowUpdateFrame:
		e.Increment = f.Increment
		// An update from one endpoint is credit for the other to send.
		if h.StreamID == 0 {
			r.connWin[peer] += int64(f.Increment)
		} else if st != nil {
			st.win[peer] += int64(f.Increment)
		}
	}
	e.Window = r.windowLocked(st)
	r.w.emit(&e)
}

// streamLocked returns the state of stream id, starting to track it on a
// frame that opens it, or nil.
func (r *Recorder) streamLocked(id uint32, t frame.Type) *streamState {
	if st, ok := r.streams[id]; ok {
		return st
	}
	if t != frame.TypeHeaders || len(r.streams) >= maxTrackedStreams {
		return nil
	}
	st := &streamState{win: r.initial}
	r.streams[id] = st
	return st
}

// endLocked notes an END_STREAM from index me and forgets a stream ended
// both ways.
func (r *Recorder) endLocked(st *streamState, id uint32, me int, end bool) {
	if st == nil || !end {
		return
	}
	st.ended[me] = true
	if st.ended[0] && st.ended[1] {
		delete(r.streams, id)
	}
}

// settingLocked applies a setting sent by index me: INITIAL_WINDOW_SIZE
// sets the peer's initial stream credit (and moves its open streams' by the
// difference, RFC 9113 §6.9.2); HEADER_TABLE_SIZE bounds the table of the
// peer's encoder, so of our decoder of its blocks.
func (r *Recorder) settingLocked(me, peer int, s frame.Setting) {
	switch s.ID {
	case frame.SettingInitialWindowSize:
		delta := int64(s.Val) - r.initial[peer]
		r.initial[peer] = int64(s.Val)
		for _, st := range r.streams {
			st.win[peer] += delta
		}
	case frame.SettingHeaderTableSize:
		r.dirs[peer].dec.SetAllowedMaxDynamicTableSize(min(max(s.Val, 4096), maxTableSize))
	}
}

// fragmentLocked adds a header block fragment and decodes the block when it
// ends, recording its fields on e.
func (r *Recorder) fragmentLocked(e *Event, d *direction, st *streamState, frag []byte, end bool) {
	if len(d.block)+len(frag) > maxBlock {
		d.blockErr = true
		d.block = d.block[:0]
	}
	if !d.blockErr {
		d.block = append(d.block, frag...)
	}
	if !end {
		return
	}
	if d.blockErr {
		e.Error = "header block larger than the trace decodes"
		return
	}
	fields, err := d.dec.DecodeFull(d.block)
	d.block = d.block[:0]
	if cap(d.block) > 64<<10 {
		d.block = nil
	}
	if err != nil {
		e.Error = "decoding the header block: " + err.Error()
		return
	}
	e.Fields = make([]Field, len(fields))
	for i, hf := range fields {
		v := hf.Value
		if hf.Sensitive || Redacted(hf.Name) {
			v = "[redacted]"
		}
		e.Fields[i] = Field{Name: hf.Name, Value: v}
		if st != nil && hf.Name == "content-type" && strings.HasPrefix(hf.Value, "application/grpc") {
			st.grpc = true
		}
	}
}

func (r *Recorder) windowLocked(st *streamState) Window {
	w := Window{ClientConn: r.connWin[0], ServerConn: r.connWin[1]}
	if st != nil {
		c, s := st.win[0], st.win[1]
		w.ClientStream, w.ServerStream = &c, &s
	}
	return w
}

// scan returns the lengths of the messages whose 5-byte prefix completes
// in p, a stream's next DATA payload.
func (m *msgState) scan(p []byte) []uint32 {
	var lens []uint32
	for len(p) > 0 {
		if m.left > 0 {
			n := min(uint64(len(p)), m.left)
			m.left -= n
			p = p[n:]
			continue
		}
		n := copy(m.hdr[m.hdrLen:], p)
		m.hdrLen += n
		p = p[n:]
		if m.hdrLen < len(m.hdr) {
			break
		}
		m.hdrLen = 0
		l := binary.BigEndian.Uint32(m.hdr[1:])
		lens = append(lens, l)
		m.left = uint64(l)
	}
	return lens
}

// flagNames names the flags set in f for a frame of type t.
func flagNames(t frame.Type, f frame.Flags) []string {
	if f == 0 {
		return nil
	}
	var names []string
	add := func(bit frame.Flags, name string) {
		if f&bit != 0 {
			names = append(names, name)
			f &^= bit
		}
	}
	switch t {
	case frame.TypeData:
		add(frame.FlagEndStream, "END_STREAM")
		add(frame.FlagPadded, "PADDED")
	case frame.TypeHeaders:
		add(frame.FlagEndStream, "END_STREAM")
		add(frame.FlagEndHeaders, "END_HEADERS")
		add(frame.FlagPadded, "PADDED")
		add(frame.FlagPriority, "PRIORITY")
	case frame.TypeSettings, frame.TypePing:
		add(frame.FlagAck, "ACK")
	case frame.TypePushPromise:
		add(frame.FlagEndHeaders, "END_HEADERS")
		add(frame.FlagPadded, "PADDED")
	case frame.TypeContinuation:
		add(frame.FlagEndHeaders, "END_HEADERS")
	}
	for bit := frame.Flags(1); bit != 0; bit <<= 1 {
		if f&bit != 0 {
			names = append(names, fmt.Sprintf("0x%02x", uint8(bit)))
		}
	}
	return names
}
