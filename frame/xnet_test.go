package frame

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/http2"
)

// The differential test feeds the same bytes to our Reader and to x/net's
// http2.Framer (with the same max frame size): both must accept them with
// the same fields, or reject them with the same error code and the same
// connection-or-stream kind.

// outcome is what one reader made of an input: the frames, in a form both
// readers can fill, and how it stopped.
type outcome struct {
	Frames []summary
	Errs   []errSummary // the stream errors, then the error that stopped it
}

// summary holds every field both readers expose. x/net does not expose the
// Pad Length, so it is left out.
type summary struct {
	Header   Header
	Body     []byte // DATA data, field block fragment, GOAWAY debug data, unknown payload
	Priority PriorityParam
	Code     ErrCode
	StreamID uint32 // PUSH_PROMISE promised, GOAWAY last stream
	Inc      uint32
	Settings []Setting
	Ping     [8]byte
}

type errSummary struct {
	Kind   string // "conn", "stream", "EOF" or "other"
	Code   ErrCode
	Stream uint32
}

func ourOutcome(input []byte, maxSize uint32) outcome {
	var out outcome
	fr := NewReader(bytes.NewReader(input))
	if maxSize != 0 {
		fr.SetMaxFrameSize(maxSize)
	}
	for {
		f, err := fr.ReadFrame()
		var ce *ConnError
		var se *StreamError
		switch {
		case err == nil:
			out.Frames = append(out.Frames, ourSummary(f))
			continue
		case errors.As(err, &se):
			out.Errs = append(out.Errs, errSummary{"stream", se.Code, se.StreamID})
			continue
		case errors.As(err, &ce):
			out.Errs = append(out.Errs, errSummary{Kind: "conn", Code: ce.Code})
		case err == io.EOF:
			out.Errs = append(out.Errs, errSummary{Kind: "EOF"})
		default:
			out.Errs = append(out.Errs, errSummary{Kind: "other"})
		}
		return out
	}
}

func ourSummary(f Frame) summary {
	s := summary{Header: f.FrameHeader()}
	switch f := f.(type) {
	case *DataFrame:
		s.Body = f.Data
	case *HeadersFrame:
		s.Body, s.Priority = f.BlockFragment, f.Priority
	case *PriorityFrame:
		s.Priority = f.PriorityParam
	case *RSTStreamFrame:
		s.Code = f.Code
	case *SettingsFrame:
		for i := range f.NumSettings() {
			s.Settings = append(s.Settings, f.Setting(i))
		}
	case *PushPromiseFrame:
		s.StreamID, s.Body = f.PromisedID, f.BlockFragment
	case *PingFrame:
		s.Ping = f.Data
	case *GoAwayFrame:
		s.StreamID, s.Code, s.Body = f.LastStreamID, f.Code, f.DebugData
	case *WindowUpdateFrame:
		s.Inc = f.Increment
	case *ContinuationFrame:
		s.Body = f.BlockFragment
	case *UnknownFrame:
		s.Body = f.Payload
	}
	s.Body = bytes.Clone(s.Body)
	return s
}

func xnetOutcome(input []byte, maxSize uint32) outcome {
	var out outcome
	fr := http2.NewFramer(nil, bytes.NewReader(input))
	if maxSize == 0 {
		maxSize = DefaultMaxFrameSize
	}
	fr.SetMaxReadFrameSize(maxSize)
	for {
		f, err := fr.ReadFrame()
		var ce http2.ConnectionError
		var se http2.StreamError
		switch {
		case err == nil:
			out.Frames = append(out.Frames, xnetSummary(f))
			continue
		case errors.As(err, &se):
			out.Errs = append(out.Errs, errSummary{"stream", ErrCode(se.Code), se.StreamID})
			continue
		case errors.As(err, &ce):
			out.Errs = append(out.Errs, errSummary{Kind: "conn", Code: ErrCode(ce)})
		case err == io.EOF:
			out.Errs = append(out.Errs, errSummary{Kind: "EOF"})
		default:
			out.Errs = append(out.Errs, errSummary{Kind: "other"})
		}
		return out
	}
}

func xnetSummary(f http2.Frame) summary {
	h := f.Header()
	s := summary{Header: Header{Length: h.Length, Type: Type(h.Type), Flags: Flags(h.Flags), StreamID: h.StreamID}}
	prio := func(p http2.PriorityParam) PriorityParam {
		return PriorityParam{StreamDep: p.StreamDep, Exclusive: p.Exclusive, Weight: p.Weight}
	}
	switch f := f.(type) {
	case *http2.DataFrame:
		s.Body = f.Data()
	case *http2.HeadersFrame:
		s.Body, s.Priority = f.HeaderBlockFragment(), prio(f.Priority)
	case *http2.PriorityFrame:
		s.Priority = prio(f.PriorityParam)
	case *http2.RSTStreamFrame:
		s.Code = ErrCode(f.ErrCode)
	case *http2.SettingsFrame:
		for i := range f.NumSettings() {
			st := f.Setting(i)
			s.Settings = append(s.Settings, Setting{ID: SettingID(st.ID), Val: st.Val})
		}
	case *http2.PushPromiseFrame:
		s.StreamID, s.Body = f.PromiseID, f.HeaderBlockFragment()
	case *http2.PingFrame:
		s.Ping = f.Data
	case *http2.GoAwayFrame:
		s.StreamID, s.Code, s.Body = f.LastStreamID, ErrCode(f.ErrCode), f.DebugData()
	case *http2.WindowUpdateFrame:
		s.Inc = f.Increment
	case *http2.ContinuationFrame:
		s.Body = f.HeaderBlockFragment()
	case *http2.UnknownFrame:
		s.Body = f.Payload()
	default:
		// An extension frame x/net parses (PRIORITY_UPDATE): only its
		// header compares, so it never matches our UnknownFrame with a
		// payload.
	}
	s.Body = bytes.Clone(s.Body)
	return s
}

// knownDifferences lists, by rule case name, every input on which we
// deliberately disagree with x/net, and why. The test checks that the two
// still disagree, so the list cannot go stale.
var knownDifferences = map[string]string{
	// x/net returns the plain error ErrFrameTooLarge and leaves the kind of
	// error to its caller; RFC 9113 §4.2 makes it a FRAME_SIZE_ERROR, and we
	// make it a connection error since the payload is never read.
	"DATA longer than the max frame size":            "x/net: plain ErrFrameTooLarge",
	"SETTINGS longer than a raised max frame size":   "x/net: plain ErrFrameTooLarge",
	"unknown type longer than the max frame size":    "x/net: plain ErrFrameTooLarge",
	"DATA padded with no Pad Length octet":           "x/net: plain io.ErrUnexpectedEOF; §4.2 says FRAME_SIZE_ERROR",
	"HEADERS padded with no Pad Length octet":        "x/net: plain io.ErrUnexpectedEOF; §4.2 says FRAME_SIZE_ERROR",
	"HEADERS too short for its priority fields":      "x/net: plain io.ErrUnexpectedEOF; §4.2 says FRAME_SIZE_ERROR",
	"PUSH_PROMISE too short for the promised stream": "x/net: plain io.ErrUnexpectedEOF; §4.2 says FRAME_SIZE_ERROR",
	"PUSH_PROMISE padded with no Pad Length octet":   "x/net: plain io.ErrUnexpectedEOF; §4.2 says FRAME_SIZE_ERROR",
	// §6.2: padding too long is a connection error; x/net makes it a stream
	// error for HEADERS (but a connection error for DATA and PUSH_PROMISE).
	"HEADERS padding longer than the payload":                      "x/net: stream error; §6.2 says connection error",
	"HEADERS padding longer than what follows the priority fields": "x/net: stream error; §6.2 says connection error",
	// §6.3: a PRIORITY frame of the wrong length is a stream error.
	"PRIORITY of length 4": "x/net: connection error; §6.3 says stream error",
	"PRIORITY of length 6": "x/net: connection error; §6.3 says stream error",
	// §5.3.1 self-dependency: x/net's server checks it after the Framer.
	"HEADERS depending on its own stream":             "x/net Framer accepts; its server checks",
	"HEADERS depending exclusively on its own stream": "x/net Framer accepts; its server checks",
	"PRIORITY depending on its own stream":            "x/net Framer accepts; its server checks",
	// Setting values: x/net checks them in its connection (Setting.Valid),
	// except INITIAL_WINDOW_SIZE, which its Framer checks too.
	"SETTINGS_ENABLE_PUSH of 2":                              "x/net Framer accepts; its connection checks",
	"SETTINGS_MAX_FRAME_SIZE of 16383":                       "x/net Framer accepts; its connection checks",
	"SETTINGS_MAX_FRAME_SIZE of 2^24":                        "x/net Framer accepts; its connection checks",
	"SETTINGS_MAX_FRAME_SIZE of 0 after legal settings":      "x/net Framer accepts; its connection checks",
	"SETTINGS_ENABLE_CONNECT_PROTOCOL of 2":                  "x/net Framer accepts; its connection checks",
	"SETTINGS_INITIAL_WINDOW_SIZE of 2^31 after a legal one": "x/net checks only the first value (SettingsFrame.Value)",
	// §6.6: x/net does not check the promised stream identifier, and does
	// not track the field block a PUSH_PROMISE opens (only HEADERS).
	"PUSH_PROMISE promising stream 0":                     "x/net Framer accepts",
	"DATA inside a PUSH_PROMISE field block":              "x/net does not track PUSH_PROMISE field blocks",
	"CONTINUATION after PUSH_PROMISE without END_HEADERS": "x/net does not track PUSH_PROMISE field blocks",
	"valid PUSH_PROMISE+CONTINUATION":                     "x/net does not track PUSH_PROMISE field blocks",
	"PRIORITY_UPDATE (type 0x10)":                         "x/net parses RFC 9218 PRIORITY_UPDATE; RFC 9113 readers see an unknown type",
	// After our stream error on the self-dependent HEADERS both reject the
	// DATA, but x/net reports no stream error first.
	"CONTINUATION inside the block of a HEADERS that was a stream error": "x/net Framer accepts the self-dependent HEADERS",
}

// extraCases are inputs beyond the rule table: valid oddities both readers
// must accept the same way.
func extraCases() []ruleCase {
	return []ruleCase{
		{name: "reserved bit of the stream identifier", input: rawFrame(TypeData, 0, 1<<31|3, []byte("d"))},
		{name: "reserved bit of the window increment", input: rawFrame(TypeWindowUpdate, 0, 1, u32(1<<31|5))},
		{name: "reserved bit of the GOAWAY last stream", input: rawFrame(TypeGoAway, 0, 0, u32(1<<31|5), u32(0))},
		{name: "reserved bit of the promised stream", input: rawFrame(TypePushPromise, FlagEndHeaders, 1, u32(1<<31|2))},
		{name: "non-zero padding octets", input: rawFrame(TypeData, FlagPadded, 1, []byte{2}, []byte("d"), []byte{7, 7})},
		{name: "padding of length payload-1", input: rawFrame(TypeData, FlagPadded, 1, []byte{2}, []byte{0, 0})},
		{name: "undefined flags on every type", input: cat(
			rawFrame(TypeData, 0xf6, 1), rawFrame(TypeHeaders, 0xd6|FlagEndHeaders, 1), rawFrame(TypePriority, 0xff, 1, u32(0), []byte{1}),
			rawFrame(TypeRSTStream, 0xff, 1, u32(0)), rawFrame(TypeSettings, 0xfe, 0), rawFrame(TypePushPromise, 0xf3|FlagEndHeaders, 1, u32(2)),
			rawFrame(TypePing, 0xfe, 0, ping8), rawFrame(TypeGoAway, 0xff, 0, u32(0), u32(0)), rawFrame(TypeWindowUpdate, 0xff, 0, u32(1)))},
		{name: "unknown types 0x0a..0x0f and 0x11..0xff", input: func() []byte {
			var b []byte
			for t := 0x0a; t <= 0xff; t++ {
				if t != 0x10 {
					b = append(b, rawFrame(Type(t), Flags(t), uint32(t), []byte{byte(t)})...)
				}
			}
			return b
		}()},
		{name: "unknown setting identifiers", input: rawFrame(TypeSettings, 0, 0, setting(0, 1), setting(7, 1<<32-1), setting(0xffff, 0))},
		{name: "largest legal values", input: cat(
			rawFrame(TypeSettings, 0, 0, setting(SettingInitialWindowSize, MaxWindowSize), setting(SettingMaxFrameSize, MaxAllowedFrameSize),
				setting(SettingMaxFrameSize, DefaultMaxFrameSize), setting(SettingEnablePush, 1), setting(SettingEnableConnectProtocol, 1)),
			rawFrame(TypeWindowUpdate, 0, 0, u32(MaxWindowSize)))},
		{name: "frame of exactly the max size", input: rawFrame(TypeData, 0, 1, make([]byte, DefaultMaxFrameSize))},
		{name: "frame of exactly a raised max size", maxSize: 1 << 15, input: rawFrame(TypeData, 0, 1, make([]byte, 1<<15))},
		{name: "empty HEADERS and CONTINUATIONs", input: cat(rawFrame(TypeHeaders, 0, 1), rawFrame(TypeContinuation, 0, 1),
			rawFrame(TypeContinuation, FlagEndHeaders, 1))},
		{name: "unknown frame between field blocks", input: cat(rawFrame(TypeHeaders, FlagEndHeaders, 1), rawFrame(0x42, 0, 0),
			rawFrame(TypeHeaders, 0, 3), rawFrame(TypeContinuation, FlagEndHeaders, 3))},
		{name: "SETTINGS_INITIAL_WINDOW_SIZE of 2^31 after a legal one", input: rawFrame(TypeSettings, 0, 0,
			setting(SettingInitialWindowSize, 1), setting(SettingInitialWindowSize, 1<<31))},
		{name: "CONTINUATION after PUSH_PROMISE without END_HEADERS", input: cat(rawFrame(TypePushPromise, 0, 1, u32(2)),
			rawFrame(TypeContinuation, FlagEndHeaders, 1))},
		{name: "PRIORITY_UPDATE (type 0x10)", input: rawFrame(0x10, 0, 0, u32(1), []byte("u=1"))},
		{name: "every valid frame but the PUSH_PROMISE field block", input: func() []byte {
			var b []byte
			for _, u := range units() {
				if u.name != "PUSH_PROMISE+CONTINUATION" {
					b = append(b, u.data...)
				}
			}
			return b
		}()},
	}
}

func TestDifferentialXNet(t *testing.T) {
	cases := append(append([]ruleCase{}, ruleCases...), extraCases()...)
	for _, u := range units() {
		cases = append(cases, ruleCase{name: "valid " + u.name, input: u.data})
	}
	used := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A trailing PING shows whether each reader goes on after a
			// stream error.
			input := cat(tc.input, AppendPing(nil, false, [8]byte(ping8)))
			ours, theirs := ourOutcome(input, tc.maxSize), xnetOutcome(input, tc.maxSize)
			diff := cmp.Diff(theirs, ours, cmpOpts...)
			if why, ok := knownDifferences[tc.name]; ok {
				used[tc.name] = true
				if diff == "" {
					t.Errorf("listed as a difference (%s), but both readers agree: %+v", why, ours)
				}
				return
			}
			if diff != "" {
				t.Errorf("readers disagree (-x/net +ours):\n%s", diff)
			}
		})
	}
	for name := range knownDifferences {
		if !used[name] {
			t.Errorf("knownDifferences lists %q, which no case has", name)
		}
	}
}
