package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/h2rpc/h2rpc/frame"
	"golang.org/x/net/http2"
)

// FuzzDifferential reads the same bytes with frame.Reader and with
// golang.org/x/net/http2's Framer (same max frame size) and checks that
// they agree frame by frame: both accept with equal fields, or both reject
// with the same error code and the same kind (connection or stream error,
// or the same io error). The only disagreements allowed are the deliberate
// ones in knownDifferences, each of which also pins what frame.Reader does.
// After the first difference, or the first connection error, the two
// readers' states may legitimately diverge, so comparison stops there.
func FuzzDifferential(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDifferential(t, decodeInput(data))
	})
}

// A result is one ReadFrame outcome, from either reader.
type result struct {
	kind     string // "frame", "conn", "stream", "eof", "unexpected-eof", "too-large" (x/net only), "other"
	code     uint32 // for "conn" and "stream"
	streamID uint32 // for "stream"
	frame    norm   // for "frame"
	err      error
}

func (r result) String() string {
	switch r.kind {
	case "frame":
		return fmt.Sprintf("frame %+v", r.frame)
	case "conn", "stream":
		return fmt.Sprintf("%s error %v: %v", r.kind, frame.ErrCode(r.code), r.err)
	}
	return fmt.Sprintf("%s: %v", r.kind, r.err)
}

func ourResult(f frame.Frame, err error) result {
	var ce *frame.ConnError
	var se *frame.StreamError
	switch {
	case err == nil:
		return result{kind: "frame", frame: normOurs(f)}
	case errors.As(err, &ce):
		return result{kind: "conn", code: uint32(ce.Code), err: err}
	case errors.As(err, &se):
		return result{kind: "stream", code: uint32(se.Code), streamID: se.StreamID, err: err}
	case err == io.EOF:
		return result{kind: "eof", err: err}
	case err == io.ErrUnexpectedEOF:
		return result{kind: "unexpected-eof", err: err}
	}
	return result{kind: "other", err: err}
}

func xnetResult(f http2.Frame, err error) result {
	var ce http2.ConnectionError
	var se http2.StreamError
	switch {
	case err == nil:
		return result{kind: "frame", frame: normXnet(f)}
	case errors.As(err, &ce):
		return result{kind: "conn", code: uint32(ce), err: err}
	case errors.As(err, &se):
		return result{kind: "stream", code: uint32(se.Code), streamID: se.StreamID, err: err}
	case errors.Is(err, http2.ErrFrameTooLarge):
		return result{kind: "too-large", err: err}
	case errors.Is(err, io.EOF): // x/net wraps it when the header looked like HTTP/1.1
		return result{kind: "eof", err: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return result{kind: "unexpected-eof", err: err}
	}
	return result{kind: "other", err: err}
}

func agree(a, b result) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case "frame":
		return cmp.Equal(a.frame, b.frame)
	case "conn":
		return a.code == b.code
	case "stream":
		return a.code == b.code && a.streamID == b.streamID
	case "eof", "unexpected-eof":
		return true
	}
	return false
}

// A diffCase is one frame on which the readers disagree.
type diffCase struct {
	h        frame.Header // the frame's header as on the wire
	complete bool         // the input holds the whole frame
	avail    int          // how many bytes of the input are left at the frame's start
	payload  []byte       // the frame's payload, if complete
	maxSize  uint32
	// pushBlock is the stream of a field block opened by a PUSH_PROMISE
	// without END_HEADERS that both readers accepted; 0 if none is open.
	pushBlock uint32
	ours      result
	xnet      result
}

// isConn reports whether r is a connection error with the given code.
func (r result) isConn(code frame.ErrCode) bool { return r.kind == "conn" && r.code == uint32(code) }

// isStream reports whether r is a stream error with the given code on the
// frame's stream.
func (r result) isStream(c *diffCase, code frame.ErrCode) bool {
	return r.kind == "stream" && r.code == uint32(code) && r.streamID == c.h.StreamID
}

// knownDifferences are the deliberate disagreements with x/net. Each entry
// matches only the situation it describes and only frame.Reader's intended
// verdict, so a regression in frame.Reader still fails.
var knownDifferences = []struct {
	name, why string
	match     func(c *diffCase) bool
}{
	{
		name: "frame-too-large",
		why: "x/net returns the plain error ErrFrameTooLarge and leaves the code to its caller; " +
			"RFC 9113 §4.2 makes it a FRAME_SIZE_ERROR, a connection error since the payload is never read",
		match: func(c *diffCase) bool {
			return c.xnet.kind == "too-large" && c.h.Length > c.maxSize && c.ours.isConn(frame.ErrCodeFrameSize)
		},
	},
	{
		name: "eof-after-header",
		why: "x/net returns io.EOF when the input ends right after a frame header that announces a payload " +
			"(io.ReadFull read no payload byte); a frame was begun, so frame.Reader reports io.ErrUnexpectedEOF",
		match: func(c *diffCase) bool {
			return c.avail == frame.HeaderLen && c.h.Length > 0 && c.h.Length <= c.maxSize &&
				c.xnet.kind == "eof" && c.ours.kind == "unexpected-eof"
		},
	},
	{
		name: "too-short-for-fields",
		why: "x/net reports a payload too short for the Pad Length, priority or Promised Stream ID fields as " +
			"io.ErrUnexpectedEOF although the whole frame arrived; RFC 9113 §4.2 calls a frame " +
			"\"too small to contain mandatory frame data\" a FRAME_SIZE_ERROR, a connection error for frames carrying a field block",
		match: func(c *diffCase) bool {
			return c.complete && c.xnet.kind == "unexpected-eof" && c.ours.isConn(frame.ErrCodeFrameSize) &&
				c.h.Length < mandatoryLen(c.h)
		},
	},
	{
		name: "headers-padding-conn-error",
		why: "x/net reports HEADERS padding that does not fit as a stream error; RFC 9113 §6.2 says " +
			"\"the recipient MUST treat this as a connection error (Section 5.4.1) of type PROTOCOL_ERROR\"",
		match: func(c *diffCase) bool {
			return c.h.Type == frame.TypeHeaders && c.xnet.isStream(c, frame.ErrCodeProtocol) && c.ours.isConn(frame.ErrCodeProtocol) &&
				c.complete && int(c.payload[0]) > int(c.h.Length)-1-priorityLen(c.h)
		},
	},
	{
		name: "settings-values",
		why: "x/net's Framer checks only the first SETTINGS_INITIAL_WINDOW_SIZE (SettingsFrame.Value) and leaves " +
			"ENABLE_PUSH and MAX_FRAME_SIZE to its server and transport; RFC 9113 §6.5.2 (and RFC 8441 §3 for " +
			"ENABLE_CONNECT_PROTOCOL) makes every out-of-range value a connection error, and §6.5.3 processes values " +
			"in order, so frame.Reader reports the first bad entry with its code",
		match: func(c *diffCase) bool {
			if c.h.Type != frame.TypeSettings || !c.complete {
				return false
			}
			code, bad := firstBadSetting(c.payload)
			return bad && c.ours.isConn(code) && (c.xnet.kind == "frame" || c.xnet.isConn(frame.ErrCodeFlowControl))
		},
	},
	{
		name: "self-dependency",
		why: "RFC 9113 §5.3.1: \"A stream cannot depend on itself. An endpoint MUST treat this as a stream error " +
			"(Section 5.4.2) of type PROTOCOL_ERROR.\" x/net checks it in its server, not in the Framer",
		match: func(c *diffCase) bool {
			return c.xnet.kind == "frame" && c.xnet.frame.Priority != nil && c.xnet.frame.Priority.StreamDep == c.h.StreamID &&
				c.ours.isStream(c, frame.ErrCodeProtocol)
		},
	},
	{
		name: "priority-length-stream-error",
		why: "RFC 9113 §6.3: \"A PRIORITY frame with a length other than 5 octets MUST be treated as a stream error " +
			"(Section 5.4.2) of type FRAME_SIZE_ERROR\"; x/net makes it a connection error",
		match: func(c *diffCase) bool {
			return c.h.Type == frame.TypePriority && c.h.StreamID != 0 && c.h.Length != 5 &&
				c.xnet.isConn(frame.ErrCodeFrameSize) && c.ours.isStream(c, frame.ErrCodeFrameSize)
		},
	},
	{
		name: "push-promise-stream-zero",
		why: "RFC 9113 §6.6: a PUSH_PROMISE that promises an illegal stream identifier is a connection error of type " +
			"PROTOCOL_ERROR; stream 0x0 is never legal, so frame.Reader rejects it, x/net leaves it to its client",
		match: func(c *diffCase) bool {
			return c.h.Type == frame.TypePushPromise && c.xnet.kind == "frame" && c.xnet.frame.ID == 0 &&
				c.ours.isConn(frame.ErrCodeProtocol)
		},
	},
	{
		name: "push-promise-field-block",
		why: "x/net's Framer tracks field blocks only after HEADERS (its clients disable push), so after a PUSH_PROMISE " +
			"without END_HEADERS it rejects the CONTINUATION and accepts any other frame; RFC 9113 §6.10 says a " +
			"CONTINUATION follows \"a HEADERS, PUSH_PROMISE or CONTINUATION frame without the END_HEADERS flag\" and " +
			"anything else there is a connection error of type PROTOCOL_ERROR",
		match: func(c *diffCase) bool {
			if c.pushBlock == 0 {
				return false
			}
			if c.h.Type == frame.TypeContinuation && c.h.StreamID == c.pushBlock {
				ok := c.ours.kind == "frame" || c.ours.kind == "unexpected-eof" && !c.complete
				return ok && c.xnet.isConn(frame.ErrCodeProtocol)
			}
			return c.ours.isConn(frame.ErrCodeProtocol)
		},
	},
	{
		name: "priority-update",
		why: "x/net parses RFC 9218 PRIORITY_UPDATE (type 0x10); package frame does not implement RFC 9218, so for it " +
			"0x10 is an unknown type that RFC 9113 §4.1 says to ignore",
		match: func(c *diffCase) bool {
			return c.h.Type == 0x10 && c.ours.kind == "frame" && c.ours.frame.Type == 0x10 &&
				(c.xnet.kind == "frame" || c.xnet.kind == "conn")
		},
	},
}

// mandatoryLen is the smallest payload a DATA, HEADERS or PUSH_PROMISE frame
// with h's flags can have: its Pad Length field and fixed fields.
func mandatoryLen(h frame.Header) uint32 {
	var n uint32
	if h.Flags.Has(frame.FlagPadded) {
		n++
	}
	switch h.Type {
	case frame.TypeHeaders:
		n += uint32(priorityLen(h))
	case frame.TypePushPromise:
		n += 4
	case frame.TypeData:
	default:
		return 0
	}
	return n
}

func priorityLen(h frame.Header) int {
	if h.Type == frame.TypeHeaders && h.Flags.Has(frame.FlagPriority) {
		return 5
	}
	return 0
}

// firstBadSetting returns the code of the first entry of a SETTINGS payload
// whose value RFC 9113 §6.5.2 (or RFC 8441 §3) rejects.
func firstBadSetting(p []byte) (frame.ErrCode, bool) {
	for i := 0; i+6 <= len(p); i += 6 {
		id := uint16(p[i])<<8 | uint16(p[i+1])
		v := uint32(p[i+2])<<24 | uint32(p[i+3])<<16 | uint32(p[i+4])<<8 | uint32(p[i+5])
		switch frame.SettingID(id) {
		case frame.SettingEnablePush, frame.SettingEnableConnectProtocol:
			if v > 1 {
				return frame.ErrCodeProtocol, true
			}
		case frame.SettingMaxFrameSize:
			if v < frame.DefaultMaxFrameSize || v > frame.MaxAllowedFrameSize {
				return frame.ErrCodeProtocol, true
			}
		case frame.SettingInitialWindowSize:
			if v > frame.MaxWindowSize {
				return frame.ErrCodeFlowControl, true
			}
		}
	}
	return 0, false
}

func checkDifferential(t *testing.T, in input) {
	if failure := compareReaders(in, nil); failure != "" {
		t.Fatal(failure)
	}
}

// compareReaders runs both readers over in and returns a description of the
// first disagreement that no known difference explains, or "". matched, if
// not nil, is called with the name of the known difference that ended the
// comparison.
func compareReaders(in input, matched func(name string)) string {
	ours := frame.NewReader(in.reader())
	xnet := http2.NewFramer(io.Discard, bytes.NewReader(in.stream))
	if in.maxSize != 0 {
		ours.SetMaxFrameSize(in.maxSize)
	}
	xnet.SetMaxReadFrameSize(in.effectiveMax())

	stream := in.stream
	off := 0
	var pushBlock uint32
	for n := 0; n <= len(stream)/frame.HeaderLen+1; n++ {
		h, whole := rawHeader(stream[off:])
		c := diffCase{h: h, maxSize: in.effectiveMax(), pushBlock: pushBlock}
		c.complete = whole && off+frame.HeaderLen+int(h.Length) <= len(stream)
		c.avail = len(stream) - off
		if c.complete {
			c.payload = stream[off+frame.HeaderLen : off+frame.HeaderLen+int(h.Length)]
		}
		f, err := ours.ReadFrame()
		for retries := 0; errors.Is(err, errFlaky) && retries < 3*len(stream)+10; retries++ {
			f, err = ours.ReadFrame() // input.flaky: a transient error, retried
		}
		c.ours = ourResult(f, err)
		c.xnet = xnetResult(xnet.ReadFrame())

		if !agree(c.ours, c.xnet) {
			for _, d := range knownDifferences {
				if d.match(&c) {
					if matched != nil {
						matched(d.name)
					}
					return "" // a deliberate difference; the readers' states may now diverge
				}
			}
			return fmt.Sprintf("frame %d at offset %d, header %+v (complete %v):\n  frame.Reader: %v\n  x/net:        %v",
				n, off, h, c.complete, c.ours, c.xnet)
		}
		if c.ours.kind == "frame" {
			switch {
			case h.Type == frame.TypePushPromise && !h.Flags.Has(frame.FlagEndHeaders):
				pushBlock = h.StreamID
			case h.Type == frame.TypeHeaders || h.Flags.Has(frame.FlagEndHeaders) && h.Type == frame.TypeContinuation:
				pushBlock = 0
			}
		}
		switch c.ours.kind {
		case "frame", "stream":
			off += frame.HeaderLen + int(h.Length)
		default:
			return "" // both ended the same way
		}
	}
	return fmt.Sprintf("more frames than %d bytes can hold", len(stream))
}

// TestKnownDifferencesExercised keeps knownDifferences honest: every entry
// must be needed by at least one seed, so none is dead or too broad to notice.
func TestKnownDifferencesExercised(t *testing.T) {
	used := map[string][]string{}
	for _, s := range seeds() {
		if s.config&1 != 0 {
			continue // preface seeds are not differential seeds
		}
		in := decodeInput(append([]byte{s.config}, s.stream...))
		if failure := compareReaders(in, func(name string) { used[name] = append(used[name], s.name) }); failure != "" {
			t.Errorf("seed %s: %s", s.name, failure)
		}
	}
	for _, d := range knownDifferences {
		if len(used[d.name]) == 0 {
			t.Errorf("known difference %q is matched by no seed: add a seed or drop the entry", d.name)
		}
		t.Logf("%-28s %v", d.name, used[d.name])
	}
}
