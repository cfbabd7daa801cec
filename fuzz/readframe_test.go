package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/h2rpc/h2rpc/frame"
)

// FuzzReadFrame reads every frame of an arbitrary input through frame.Reader
// and checks, independently of the Reader's own code:
//
//   - it never panics and always ends: every returned frame or stream error
//     consumes a whole frame, so an input holds at most len/9 of them;
//   - every error is io.EOF (exactly at a frame boundary),
//     io.ErrUnexpectedEOF (only inside a truncated frame), *frame.ConnError
//     (after which every call returns it again) or *frame.StreamError on the
//     frame's own stream (after which reading goes on), with a reason;
//   - every frame's header is the header on the wire, no larger than the max
//     frame size, and its payload views are exactly the bytes the wire
//     layout puts there: they never reach beyond the declared frame;
//   - AppendTo re-encodes the frame to its declared length, and a fresh
//     Reader parses that encoding back to an equal frame;
//   - a transient error from the underlying reader comes back unchanged and
//     a retry continues exactly where the read stopped.
func FuzzReadFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReadFrame(t, decodeInput(data))
	})
}

func checkReadFrame(t *testing.T, in input) {
	fr := frame.NewReader(in.reader())
	if in.maxSize != 0 {
		fr.SetMaxFrameSize(in.maxSize)
	}
	stream := in.stream
	off := 0 // where the next frame starts in stream
	// retries bounds the errFlaky retries: the flaky reader fails at most
	// two Reads in three, and every good Read returns at least a byte.
	retries := 3*len(stream) + 10
	if in.preface {
		err := fr.ReadPreface()
		for ; errors.Is(err, errFlaky) && retries > 0; retries-- {
			err = fr.ReadPreface()
		}
		if !checkPreface(t, err, stream) {
			return
		}
		off = len(frame.ClientPreface)
	}

	limit := len(stream)/frame.HeaderLen + 1
	for n := 0; ; n++ {
		if n > limit {
			t.Fatalf("ReadFrame returned %d frames or stream errors from %d bytes: some frame consumed less than a header", n, len(stream))
		}
		h, whole := rawHeader(stream[off:])
		complete := whole && off+frame.HeaderLen+int(h.Length) <= len(stream)
		f, err := fr.ReadFrame()
		for ; errors.Is(err, errFlaky); retries-- {
			if retries == 0 {
				t.Fatalf("frame %d: still failing after %d retries", n, 3*len(stream)+10)
			}
			if f != nil {
				t.Fatalf("frame %d: I/O error %v came with a frame", n, err)
			}
			f, err = fr.ReadFrame()
		}

		var se *frame.StreamError
		var ce *frame.ConnError
		switch {
		case err == nil:
			if !complete {
				t.Fatalf("frame %d at offset %d: accepted a frame the input does not hold: %+v", n, off, f.FrameHeader())
			}
			checkFrame(t, f, h, stream[off+frame.HeaderLen:off+frame.HeaderLen+int(h.Length)], in.effectiveMax())
			off += frame.HeaderLen + int(h.Length)

		case errors.As(err, &se):
			if se.Reason == "" || se.StreamID == 0 || se.Code == frame.ErrCodeNo {
				t.Fatalf("frame %d: stream error without stream, code or reason: %#v", n, se)
			}
			if !complete || se.StreamID != h.StreamID {
				t.Fatalf("frame %d at offset %d (%+v, complete %v): stream error %v does not name the frame's stream", n, off, h, complete, err)
			}
			if f != nil && f.FrameHeader() != h {
				t.Fatalf("frame %d: stream error came with frame header %+v, wire has %+v", n, f.FrameHeader(), h)
			}
			off += frame.HeaderLen + int(h.Length) // the next read starts after the bad frame

		case errors.As(err, &ce):
			if ce.Reason == "" || ce.Code == frame.ErrCodeNo {
				t.Fatalf("frame %d: connection error without code or reason: %#v", n, ce)
			}
			if f != nil {
				t.Fatalf("frame %d: connection error %v came with a frame %T", n, err, f)
			}
			if _, err2 := fr.ReadFrame(); err2 != err && !sameConnError(err2, ce) {
				t.Fatalf("after connection error %v, ReadFrame returned %v", err, err2)
			}
			return

		case err == io.EOF:
			if off != len(stream) {
				t.Fatalf("io.EOF at offset %d of %d: not at a frame boundary", off, len(stream))
			}
			return

		case err == io.ErrUnexpectedEOF:
			if complete {
				t.Fatalf("frame %d at offset %d (%+v): io.ErrUnexpectedEOF although the input holds the whole frame", n, off, h)
			}
			return

		default:
			t.Fatalf("frame %d: error %T %v is none of io.EOF, io.ErrUnexpectedEOF, *ConnError, *StreamError", n, err, err)
		}
	}
}

func sameConnError(err error, ce *frame.ConnError) bool {
	var ce2 *frame.ConnError
	return errors.As(err, &ce2) && *ce2 == *ce
}

// checkPreface checks ReadPreface's verdict on stream and reports whether
// frames follow.
func checkPreface(t *testing.T, err error, stream []byte) bool {
	const p = frame.ClientPreface
	n := min(len(stream), len(p))
	prefix := bytes.Equal(stream[:n], []byte(p[:n]))
	var ce *frame.ConnError
	switch {
	case err == nil:
		if n < len(p) || !prefix {
			t.Fatalf("ReadPreface accepted %q", stream[:n])
		}
		return true
	case errors.As(err, &ce):
		if prefix {
			t.Fatalf("ReadPreface rejected %q, a prefix of the preface: %v", stream[:n], err)
		}
		if ce.Code != frame.ErrCodeProtocol || ce.Reason == "" {
			// RFC 9113 §3.4: an invalid preface is a connection error of
			// type PROTOCOL_ERROR.
			t.Fatalf("ReadPreface: %#v, want PROTOCOL_ERROR with a reason", ce)
		}
	case err == io.EOF:
		if len(stream) != 0 {
			t.Fatalf("ReadPreface: io.EOF after %d bytes, want io.ErrUnexpectedEOF", len(stream))
		}
	case err == io.ErrUnexpectedEOF:
		if len(stream) == 0 || len(stream) >= len(p) {
			t.Fatalf("ReadPreface: io.ErrUnexpectedEOF with %d bytes", len(stream))
		}
	default:
		t.Fatalf("ReadPreface: unexpected error %T %v", err, err)
	}
	return false
}

// fixedLen is the payload length of the fixed-size frame types.
var fixedLen = map[frame.Type]uint32{
	frame.TypePriority:     5,
	frame.TypeRSTStream:    4,
	frame.TypePing:         8,
	frame.TypeWindowUpdate: 4,
}

// checkFrame checks one accepted frame f against the raw header h and
// payload it was read from.
func checkFrame(t *testing.T, f frame.Frame, h frame.Header, payload []byte, maxSize uint32) {
	t.Helper()
	got := f.FrameHeader()
	if got != h {
		t.Fatalf("frame header %+v, wire has %+v", got, h)
	}
	if h.Length > maxSize {
		t.Fatalf("accepted a %d-byte frame above the max frame size %d", h.Length, maxSize)
	}
	if want, ok := fixedLen[h.Type]; ok && h.Length != want {
		t.Fatalf("accepted a %v frame of length %d, want %d", h.Type, h.Length, want)
	}
	if h.Type < 10 && frameTypeOf(f) != h.Type || h.Type >= 10 && frameTypeOf(f) != 0xff {
		t.Fatalf("wire type %v returned as %T", h.Type, f)
	}

	// The views are exactly the bytes the wire layout puts there.
	if start, view, padLen := viewLayout(f); start >= 0 {
		end := start + len(view)
		if h.Type != frame.TypeSettings && end+int(padLen) != int(h.Length) {
			t.Fatalf("%v: fields (%d) + view (%d) + padding (%d) != length %d", h.Type, start, len(view), padLen, h.Length)
		}
		if end > len(payload) || !bytes.Equal(view, payload[start:end]) {
			t.Fatalf("%v: view %q is not payload[%d:%d] of %q", h.Type, view, start, end, payload)
		}
		if h.Flags.Has(frame.FlagPadded) && (h.Type == frame.TypeData || h.Type == frame.TypeHeaders || h.Type == frame.TypePushPromise) && payload[0] != padLen {
			t.Fatalf("%v: PadLen %d, wire says %d", h.Type, padLen, payload[0])
		}
	}
	if sf, ok := f.(*frame.SettingsFrame); ok {
		checkSettings(t, sf, payload)
	}

	// Round trip: AppendTo gives the declared length and parses back equal.
	want := normOurs(f)
	enc := f.AppendTo([]byte("prefix"))[len("prefix"):]
	if len(enc) != frame.HeaderLen+int(h.Length) {
		t.Fatalf("%v: AppendTo wrote %d bytes, want header + %d", h.Type, len(enc), h.Length)
	}
	if eh, _ := rawHeader(enc); eh != h {
		t.Fatalf("AppendTo wrote header %+v, want %+v", eh, h)
	}
	var src []byte
	if h.Type == frame.TypeContinuation {
		// A CONTINUATION parses only inside an open field block.
		src = frame.AppendHeaders(src, h.StreamID, false, false, nil)
	}
	src = append(src, enc...)
	rd := frame.NewReader(bytes.NewReader(src))
	rd.SetMaxFrameSize(frame.MaxAllowedFrameSize)
	if h.Type == frame.TypeContinuation {
		if _, err := rd.ReadFrame(); err != nil {
			t.Fatalf("re-parse: opening HEADERS: %v", err)
		}
	}
	g, err := rd.ReadFrame()
	if err != nil {
		t.Fatalf("re-parse of %v frame %x: %v", h.Type, enc, err)
	}
	if diff := cmp.Diff(want, normOurs(g)); diff != "" {
		t.Fatalf("re-parsed frame differs (-read +re-parsed):\n%s", diff)
	}
	if _, err := rd.ReadFrame(); err != io.EOF {
		t.Fatalf("re-parse: after the frame got %v, want io.EOF", err)
	}
}

// frameTypeOf maps a frame's Go type to its frame.Type (0xff for unknown).
func frameTypeOf(f frame.Frame) frame.Type {
	switch f.(type) {
	case *frame.DataFrame:
		return frame.TypeData
	case *frame.HeadersFrame:
		return frame.TypeHeaders
	case *frame.PriorityFrame:
		return frame.TypePriority
	case *frame.RSTStreamFrame:
		return frame.TypeRSTStream
	case *frame.SettingsFrame:
		return frame.TypeSettings
	case *frame.PushPromiseFrame:
		return frame.TypePushPromise
	case *frame.PingFrame:
		return frame.TypePing
	case *frame.GoAwayFrame:
		return frame.TypeGoAway
	case *frame.WindowUpdateFrame:
		return frame.TypeWindowUpdate
	case *frame.ContinuationFrame:
		return frame.TypeContinuation
	}
	return 0xff
}

// checkSettings checks a SETTINGS frame's accessors against its payload:
// Setting and ForEach list the wire entries in order, and Value returns the
// last value given for an identifier (RFC 9113 §6.5.3: values are processed
// in order, so a later one wins).
func checkSettings(t *testing.T, f *frame.SettingsFrame, payload []byte) {
	t.Helper()
	if f.NumSettings()*6 != len(payload) {
		t.Fatalf("SETTINGS of length %d has %d settings", len(payload), f.NumSettings())
	}
	last := map[frame.SettingID]uint32{}
	i := 0
	err := f.ForEach(func(s frame.Setting) error {
		p := payload[6*i:]
		want := frame.Setting{ID: frame.SettingID(p[0])<<8 | frame.SettingID(p[1]), Val: binary.BigEndian.Uint32(p[2:6])}
		if s != want || f.Setting(i) != want {
			t.Fatalf("setting %d: ForEach gave %+v, Setting gave %+v, wire has %+v", i, s, f.Setting(i), want)
		}
		last[s.ID] = s.Val
		i++
		return nil
	})
	if err != nil || i != f.NumSettings() {
		t.Fatalf("ForEach visited %d of %d settings, error %v", i, f.NumSettings(), err)
	}
	for id, v := range last {
		if got, ok := f.Value(id); !ok || got != v {
			t.Fatalf("Value(%v) = %d, %v; want %d (the last given)", id, got, ok, v)
		}
	}
	stop := errors.New("stop")
	calls := 0
	if err := f.ForEach(func(frame.Setting) error { calls++; return stop }); f.NumSettings() > 0 && (err != stop || calls != 1) {
		t.Fatalf("ForEach returned %v after %d calls, want the callback's error after 1", err, calls)
	}
	absent := frame.SettingID(0)
	for _, ok := last[absent]; ok; _, ok = last[absent] {
		absent++
	}
	if v, ok := f.Value(absent); ok {
		t.Fatalf("Value(%v) = %d, true for an identifier the frame does not carry", absent, v)
	}
}
