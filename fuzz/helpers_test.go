package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing/iotest"

	"github.com/h2rpc/h2rpc/frame"
	"golang.org/x/net/http2"
)

// An input is the first byte of a fuzz input decoded as a configuration,
// followed by the bytes of the connection.
//
//	bit 0     FuzzReadFrame reads the client preface first
//	bits 1-2  max frame size: unset (default 16384), 100 (below the legal
//	          minimum: the Reader clamps it to 16384), 65535, 2^24-1
//	bits 3-4  how the bytes arrive: all at once, one byte per Read, half of
//	          each Read, data together with io.EOF
//	bit 5     some Reads of frame.Reader also fail with errFlaky, which the
//	          caller retries
type input struct {
	preface  bool
	maxSize  uint32 // 0: SetMaxFrameSize not called
	chunking int
	flaky    bool
	stream   []byte
}

var maxSizes = [4]uint32{0, 100, 65535, frame.MaxAllowedFrameSize}

func decodeInput(data []byte) input {
	if len(data) == 0 {
		return input{}
	}
	c := data[0]
	return input{
		preface:  c&1 != 0,
		maxSize:  maxSizes[c>>1&3],
		chunking: int(c >> 3 & 3),
		flaky:    c&flakyBit != 0,
		stream:   data[1:],
	}
}

// flakyBit is the configuration bit of input.flaky.
const flakyBit = 1 << 5

// configByte is decodeInput's inverse for the seed generator.
func configByte(preface bool, maxSizeIndex, chunking int) byte {
	var c byte
	if preface {
		c |= 1
	}
	return c | byte(maxSizeIndex&3)<<1 | byte(chunking&3)<<3
}

// effectiveMax is the max frame size a Reader configured by in enforces:
// SetMaxFrameSize clamps its argument to the legal range of RFC 9113 §6.5.2.
func (in input) effectiveMax() uint32 {
	return min(max(in.maxSize, frame.DefaultMaxFrameSize), frame.MaxAllowedFrameSize)
}

// reader returns the bytes of the connection as the chunking asks.
func (in input) reader() io.Reader {
	var r io.Reader = bytes.NewReader(in.stream)
	switch in.chunking {
	case 1:
		r = iotest.OneByteReader(r)
	case 2:
		r = iotest.HalfReader(r)
	case 3:
		r = iotest.DataErrReader(r)
	}
	if in.flaky {
		r = &flakyReader{r: r}
	}
	return r
}

// errFlaky is a transient read error: the caller retries.
var errFlaky = errors.New("flaky read")

// flakyReader fails some of its Reads with errFlaky: every third call
// returns nothing, every fifth returns a short read together with the error.
type flakyReader struct {
	r     io.Reader
	calls int
}

func (r *flakyReader) Read(p []byte) (int, error) {
	r.calls++
	switch {
	case r.calls%3 == 0:
		return 0, errFlaky
	case r.calls%5 == 0 && len(p) > 1:
		n, err := r.r.Read(p[:len(p)/2])
		if err != nil {
			return n, err
		}
		return n, errFlaky
	}
	return r.r.Read(p)
}

// rawHeader decodes the frame header at the start of b, independently of
// package frame. ok is false when b is shorter than a header.
func rawHeader(b []byte) (h frame.Header, ok bool) {
	if len(b) < frame.HeaderLen {
		return frame.Header{}, false
	}
	return frame.Header{
		Length:   uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		Type:     frame.Type(b[3]),
		Flags:    frame.Flags(b[4]),
		StreamID: binary.BigEndian.Uint32(b[5:9]) &^ (1 << 31),
	}, true
}

// norm is a frame flattened into the fields both readers must agree on, with
// every slice copied so it outlives the next ReadFrame.
type norm struct {
	Type     uint8
	Flags    uint8
	StreamID uint32
	Length   uint32

	PadLen   uint8
	Priority *prio // HEADERS with the PRIORITY flag, PRIORITY
	Code     uint32
	ID       uint32 // GOAWAY last stream, PUSH_PROMISE promised stream, WINDOW_UPDATE increment
	Settings []setting
	Ping     [8]byte
	// View is the variable part: DATA data, field block fragments, GOAWAY
	// debug data, an unknown frame's payload.
	View []byte
}

type prio struct {
	StreamDep uint32
	Exclusive bool
	Weight    uint8
}

type setting struct {
	ID  uint16
	Val uint32
}

func clone(b []byte) []byte { return append([]byte{}, b...) }

// normOurs flattens a frame returned by frame.Reader.
func normOurs(f frame.Frame) norm {
	h := f.FrameHeader()
	n := norm{Type: uint8(h.Type), Flags: uint8(h.Flags), StreamID: h.StreamID, Length: h.Length}
	switch f := f.(type) {
	case *frame.DataFrame:
		n.PadLen, n.View = f.PadLen, clone(f.Data)
	case *frame.HeadersFrame:
		n.PadLen, n.View = f.PadLen, clone(f.BlockFragment)
		if f.Flags.Has(frame.FlagPriority) {
			n.Priority = &prio{f.Priority.StreamDep, f.Priority.Exclusive, f.Priority.Weight}
		}
	case *frame.PriorityFrame:
		n.Priority = &prio{f.StreamDep, f.Exclusive, f.Weight}
	case *frame.RSTStreamFrame:
		n.Code = uint32(f.Code)
	case *frame.SettingsFrame:
		n.Settings = []setting{}
		for i := range f.NumSettings() {
			s := f.Setting(i)
			n.Settings = append(n.Settings, setting{uint16(s.ID), s.Val})
		}
	case *frame.PushPromiseFrame:
		n.PadLen, n.ID, n.View = f.PadLen, f.PromisedID, clone(f.BlockFragment)
	case *frame.PingFrame:
		n.Ping = f.Data
	case *frame.GoAwayFrame:
		n.ID, n.Code, n.View = f.LastStreamID, uint32(f.Code), clone(f.DebugData)
	case *frame.WindowUpdateFrame:
		n.ID = f.Increment
	case *frame.ContinuationFrame:
		n.View = clone(f.BlockFragment)
	case *frame.UnknownFrame:
		n.View = clone(f.Payload)
	default:
		panic("normOurs: unexpected frame type")
	}
	return n
}

// normXnet flattens a frame returned by x/net's Framer. x/net does not
// expose the pad length; it is what the declared length leaves over.
func normXnet(f http2.Frame) norm {
	h := f.Header()
	n := norm{Type: uint8(h.Type), Flags: uint8(h.Flags), StreamID: h.StreamID, Length: h.Length}
	padded := 0
	if h.Flags.Has(http2.FlagDataPadded) { // 0x8 for DATA, HEADERS and PUSH_PROMISE alike
		padded = 1
	}
	padLen := func(fixed, view int) uint8 {
		if padded == 0 {
			return 0
		}
		return uint8(int(h.Length) - 1 - fixed - view)
	}
	switch f := f.(type) {
	case *http2.DataFrame:
		n.View = clone(f.Data())
		n.PadLen = padLen(0, len(n.View))
	case *http2.HeadersFrame:
		n.View = clone(f.HeaderBlockFragment())
		fixed := 0
		if f.HasPriority() {
			n.Priority = &prio{f.Priority.StreamDep, f.Priority.Exclusive, f.Priority.Weight}
			fixed = 5
		}
		n.PadLen = padLen(fixed, len(n.View))
	case *http2.PriorityFrame:
		n.Priority = &prio{f.StreamDep, f.Exclusive, f.Weight}
	case *http2.RSTStreamFrame:
		n.Code = uint32(f.ErrCode)
	case *http2.SettingsFrame:
		n.Settings = []setting{}
		for i := range f.NumSettings() {
			s := f.Setting(i)
			n.Settings = append(n.Settings, setting{uint16(s.ID), s.Val})
		}
	case *http2.PushPromiseFrame:
		n.ID, n.View = f.PromiseID, clone(f.HeaderBlockFragment())
		n.PadLen = padLen(4, len(n.View))
	case *http2.PingFrame:
		n.Ping = f.Data
	case *http2.GoAwayFrame:
		n.ID, n.Code, n.View = f.LastStreamID, uint32(f.ErrCode), clone(f.DebugData())
	case *http2.WindowUpdateFrame:
		n.ID = f.Increment
	case *http2.ContinuationFrame:
		n.View = clone(f.HeaderBlockFragment())
	case *http2.UnknownFrame:
		n.View = clone(f.Payload())
	default:
		// *http2.PriorityUpdateFrame (RFC 9218) and anything newer: no
		// counterpart in package frame; see knownDifferences.
		n.View = nil
	}
	return n
}

// viewLayout returns where a frame's variable part starts in its payload
// (after the Pad Length field and the fixed fields) and its padding length.
func viewLayout(f frame.Frame) (start int, view []byte, padLen uint8) {
	h := f.FrameHeader()
	padded := 0
	if h.Flags.Has(frame.FlagPadded) {
		padded = 1
	}
	switch f := f.(type) {
	case *frame.DataFrame:
		return padded, f.Data, f.PadLen
	case *frame.HeadersFrame:
		if h.Flags.Has(frame.FlagPriority) {
			return padded + 5, f.BlockFragment, f.PadLen
		}
		return padded, f.BlockFragment, f.PadLen
	case *frame.PushPromiseFrame:
		return padded + 4, f.BlockFragment, f.PadLen
	case *frame.GoAwayFrame:
		return 8, f.DebugData, 0
	case *frame.ContinuationFrame:
		return 0, f.BlockFragment, 0
	case *frame.UnknownFrame:
		return 0, f.Payload, 0
	case *frame.SettingsFrame:
		return 0, nil, 0 // checked through the settings list
	}
	return -1, nil, 0 // fixed-size frames: no view
}
