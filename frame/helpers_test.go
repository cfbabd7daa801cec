package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// rawFrame builds a frame byte by byte, with the given header (Length is
// taken from the payload unless length is non-negative) and payload parts.
func rawFrame(t Type, flags Flags, streamID uint32, payload ...[]byte) []byte {
	p := bytes.Join(payload, nil)
	return rawFrameLen(len(p), t, flags, streamID, p)
}

// rawFrameLen is rawFrame with an explicit Length field, which need not
// match the payload.
func rawFrameLen(length int, t Type, flags Flags, streamID uint32, payload []byte) []byte {
	b := []byte{byte(length >> 16), byte(length >> 8), byte(length), byte(t), byte(flags)}
	b = binary.BigEndian.AppendUint32(b, streamID) // the reserved bit is kept as given
	return append(b, payload...)
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func setting(id SettingID, v uint32) []byte { return append(u16(uint16(id)), u32(v)...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// clone deep-copies a frame read from a Reader, so it stays valid after the
// next ReadFrame. A SettingsFrame comes back with its settings in Settings.
func clone(f Frame) Frame {
	cp := func(b []byte) []byte { return append([]byte(nil), b...) }
	switch f := f.(type) {
	case *DataFrame:
		g := *f
		g.Data = cp(f.Data)
		return &g
	case *HeadersFrame:
		g := *f
		g.BlockFragment = cp(f.BlockFragment)
		return &g
	case *PriorityFrame:
		g := *f
		return &g
	case *RSTStreamFrame:
		g := *f
		return &g
	case *SettingsFrame:
		g := SettingsFrame{Header: f.Header}
		for i := range f.NumSettings() {
			g.Settings = append(g.Settings, f.Setting(i))
		}
		return &g
	case *PushPromiseFrame:
		g := *f
		g.BlockFragment = cp(f.BlockFragment)
		return &g
	case *PingFrame:
		g := *f
		return &g
	case *GoAwayFrame:
		g := *f
		g.DebugData = cp(f.DebugData)
		return &g
	case *WindowUpdateFrame:
		g := *f
		return &g
	case *ContinuationFrame:
		g := *f
		g.BlockFragment = cp(f.BlockFragment)
		return &g
	case *UnknownFrame:
		g := *f
		g.Payload = cp(f.Payload)
		return &g
	case nil:
		return nil
	}
	panic("unknown frame type")
}

// readAll reads frames from r until an error, returning clones of the
// frames and the first error that is not a *StreamError (io.EOF at the end).
// Stream errors are recorded in the result as they come.
type readResult struct {
	frames []Frame
	errs   []error // one per ReadFrame call that failed, including the last
}

func readAll(r io.Reader, maxFrameSize uint32) readResult {
	fr := NewReader(r)
	if maxFrameSize != 0 {
		fr.SetMaxFrameSize(maxFrameSize)
	}
	var res readResult
	for {
		f, err := fr.ReadFrame()
		if err == nil {
			res.frames = append(res.frames, clone(f))
			continue
		}
		res.errs = append(res.errs, err)
		var se *StreamError
		if !errors.As(err, &se) {
			return res
		}
	}
}

// cmpOpts compares frames: byte slices by content (nil equals empty, and a
// 16 KiB payload is not compared octet by octet through reflection), and the
// unexported wire payload of a SettingsFrame is ignored (clone moves it into
// Settings).
var cmpOpts = []cmp.Option{
	cmp.Comparer(bytes.Equal),
	cmpopts.IgnoreUnexported(SettingsFrame{}),
}
