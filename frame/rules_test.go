package frame

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

type errKind int

const (
	connErr errKind = iota
	streamErr
)

// ruleCase is one frame (or frame sequence) that breaks one rule.
type ruleCase struct {
	name    string
	section string // the RFC section, as it must appear in the error's reason
	input   []byte
	maxSize uint32 // the advertised SETTINGS_MAX_FRAME_SIZE; 0 for the default
	kind    errKind
	code    ErrCode
	stream  uint32 // for stream errors
	// afterStreamError: the input first yields a stream error, and the rule
	// under test is broken by a later frame.
	afterStreamError bool
}

var ping8 = []byte("pingdata")

// ruleCases lists every single-frame rule the Reader enforces. The
// differential test runs them through x/net's Framer too.
var ruleCases = []ruleCase{
	// §4.2 frame size.
	{name: "DATA longer than the max frame size", section: "§4.2",
		input: rawFrame(TypeData, 0, 1, make([]byte, DefaultMaxFrameSize+1)), kind: connErr, code: ErrCodeFrameSize},
	{name: "SETTINGS longer than a raised max frame size", section: "§4.2", maxSize: 20000,
		input: rawFrameLen(20001, TypeSettings, 0, 0, nil), kind: connErr, code: ErrCodeFrameSize},
	{name: "unknown type longer than the max frame size", section: "§4.2",
		input: rawFrameLen(DefaultMaxFrameSize+1, 0x42, 0, 0, nil), kind: connErr, code: ErrCodeFrameSize},

	// §6.1 DATA.
	{name: "DATA on stream 0", section: "§6.1",
		input: rawFrame(TypeData, 0, 0, []byte("x")), kind: connErr, code: ErrCodeProtocol},
	{name: "DATA padding equal to the payload", section: "§6.1",
		input: rawFrame(TypeData, FlagPadded, 1, []byte{3}, []byte("ab")), kind: connErr, code: ErrCodeProtocol},
	{name: "DATA padding longer than the payload", section: "§6.1",
		input: rawFrame(TypeData, FlagPadded, 1, []byte{200}, []byte("ab")), kind: connErr, code: ErrCodeProtocol},
	{name: "DATA padded with no Pad Length octet", section: "§4.2",
		input: rawFrame(TypeData, FlagPadded, 1), kind: connErr, code: ErrCodeFrameSize},

	// §6.2 HEADERS.
	{name: "HEADERS on stream 0", section: "§6.2",
		input: rawFrame(TypeHeaders, FlagEndHeaders, 0, []byte("hb")), kind: connErr, code: ErrCodeProtocol},
	{name: "HEADERS padding longer than the payload", section: "§6.2",
		input: rawFrame(TypeHeaders, FlagEndHeaders|FlagPadded, 1, []byte{3}, []byte("ab")), kind: connErr, code: ErrCodeProtocol},
	{name: "HEADERS padding longer than what follows the priority fields", section: "§6.2",
		input: rawFrame(TypeHeaders, FlagEndHeaders|FlagPadded|FlagPriority, 1, []byte{3}, u32(3), []byte{16}, []byte("ab")), kind: connErr, code: ErrCodeProtocol},
	{name: "HEADERS padded with no Pad Length octet", section: "§4.2",
		input: rawFrame(TypeHeaders, FlagEndHeaders|FlagPadded, 1), kind: connErr, code: ErrCodeFrameSize},
	{name: "HEADERS too short for its priority fields", section: "§4.2",
		input: rawFrame(TypeHeaders, FlagEndHeaders|FlagPriority, 1, u32(3)), kind: connErr, code: ErrCodeFrameSize},
	{name: "HEADERS depending on its own stream", section: "§5.3.1",
		input: rawFrame(TypeHeaders, FlagEndHeaders|FlagPriority, 5, u32(5), []byte{16}, []byte("hb")), kind: streamErr, code: ErrCodeProtocol, stream: 5},
	{name: "HEADERS depending exclusively on its own stream", section: "§5.3.1",
		input: rawFrame(TypeHeaders, FlagEndHeaders|FlagPriority, 5, u32(1<<31|5), []byte{16}), kind: streamErr, code: ErrCodeProtocol, stream: 5},

	// §6.3 PRIORITY.
	{name: "PRIORITY on stream 0", section: "§6.3",
		input: rawFrame(TypePriority, 0, 0, u32(1), []byte{16}), kind: connErr, code: ErrCodeProtocol},
	{name: "PRIORITY of length 4", section: "§6.3",
		input: rawFrame(TypePriority, 0, 3, u32(1)), kind: streamErr, code: ErrCodeFrameSize, stream: 3},
	{name: "PRIORITY of length 6", section: "§6.3",
		input: rawFrame(TypePriority, 0, 3, u32(1), []byte{16, 0}), kind: streamErr, code: ErrCodeFrameSize, stream: 3},
	{name: "PRIORITY depending on its own stream", section: "§5.3.1",
		input: rawFrame(TypePriority, 0, 3, u32(3), []byte{16}), kind: streamErr, code: ErrCodeProtocol, stream: 3},

	// §6.4 RST_STREAM.
	{name: "RST_STREAM on stream 0", section: "§6.4",
		input: rawFrame(TypeRSTStream, 0, 0, u32(uint32(ErrCodeCancel))), kind: connErr, code: ErrCodeProtocol},
	{name: "RST_STREAM of length 3", section: "§6.4",
		input: rawFrame(TypeRSTStream, 0, 1, []byte{0, 0, 8}), kind: connErr, code: ErrCodeFrameSize},
	{name: "RST_STREAM of length 5", section: "§6.4",
		input: rawFrame(TypeRSTStream, 0, 1, u32(8), []byte{0}), kind: connErr, code: ErrCodeFrameSize},

	// §6.5 SETTINGS.
	{name: "SETTINGS ACK with a payload", section: "§6.5",
		input: rawFrame(TypeSettings, FlagAck, 0, setting(SettingEnablePush, 0)), kind: connErr, code: ErrCodeFrameSize},
	{name: "SETTINGS on stream 1", section: "§6.5",
		input: rawFrame(TypeSettings, 0, 1), kind: connErr, code: ErrCodeProtocol},
	{name: "SETTINGS of length 5", section: "§6.5",
		input: rawFrame(TypeSettings, 0, 0, []byte{0, 2, 0, 0, 0}), kind: connErr, code: ErrCodeFrameSize},
	{name: "SETTINGS of length 13", section: "§6.5",
		input: rawFrame(TypeSettings, 0, 0, setting(1, 1), setting(2, 0), []byte{0}), kind: connErr, code: ErrCodeFrameSize},
	{name: "SETTINGS_ENABLE_PUSH of 2", section: "§6.5.2",
		input: rawFrame(TypeSettings, 0, 0, setting(SettingEnablePush, 2)), kind: connErr, code: ErrCodeProtocol},
	{name: "SETTINGS_INITIAL_WINDOW_SIZE of 2^31", section: "§6.5.2",
		input: rawFrame(TypeSettings, 0, 0, setting(SettingInitialWindowSize, 1<<31)), kind: connErr, code: ErrCodeFlowControl},
	{name: "SETTINGS_MAX_FRAME_SIZE of 16383", section: "§6.5.2",
		input: rawFrame(TypeSettings, 0, 0, setting(SettingMaxFrameSize, 16383)), kind: connErr, code: ErrCodeProtocol},
	{name: "SETTINGS_MAX_FRAME_SIZE of 2^24", section: "§6.5.2",
		input: rawFrame(TypeSettings, 0, 0, setting(SettingMaxFrameSize, 1<<24)), kind: connErr, code: ErrCodeProtocol},
	{name: "SETTINGS_MAX_FRAME_SIZE of 0 after legal settings", section: "§6.5.2",
		input: rawFrame(TypeSettings, 0, 0, setting(SettingHeaderTableSize, 0), setting(SettingMaxFrameSize, 0)), kind: connErr, code: ErrCodeProtocol},
	{name: "SETTINGS_ENABLE_CONNECT_PROTOCOL of 2", section: "RFC 8441 §3",
		input: rawFrame(TypeSettings, 0, 0, setting(SettingEnableConnectProtocol, 2)), kind: connErr, code: ErrCodeProtocol},

	// §6.6 PUSH_PROMISE.
	{name: "PUSH_PROMISE on stream 0", section: "§6.6",
		input: rawFrame(TypePushPromise, FlagEndHeaders, 0, u32(2)), kind: connErr, code: ErrCodeProtocol},
	{name: "PUSH_PROMISE too short for the promised stream", section: "§4.2",
		input: rawFrame(TypePushPromise, FlagEndHeaders, 1, []byte{0, 0, 2}), kind: connErr, code: ErrCodeFrameSize},
	{name: "PUSH_PROMISE padded with no Pad Length octet", section: "§4.2",
		input: rawFrame(TypePushPromise, FlagEndHeaders|FlagPadded, 1), kind: connErr, code: ErrCodeFrameSize},
	{name: "PUSH_PROMISE padding longer than the payload", section: "§6.6",
		input: rawFrame(TypePushPromise, FlagEndHeaders|FlagPadded, 1, []byte{2}, u32(2), []byte("a")), kind: connErr, code: ErrCodeProtocol},
	{name: "PUSH_PROMISE promising stream 0", section: "§6.6",
		input: rawFrame(TypePushPromise, FlagEndHeaders, 1, u32(0), []byte("hb")), kind: connErr, code: ErrCodeProtocol},

	// §6.7 PING.
	{name: "PING of length 7", section: "§6.7",
		input: rawFrame(TypePing, 0, 0, ping8[:7]), kind: connErr, code: ErrCodeFrameSize},
	{name: "PING of length 9", section: "§6.7",
		input: rawFrame(TypePing, 0, 0, ping8, []byte{0}), kind: connErr, code: ErrCodeFrameSize},
	{name: "PING ACK of length 0", section: "§6.7",
		input: rawFrame(TypePing, FlagAck, 0), kind: connErr, code: ErrCodeFrameSize},
	{name: "PING on stream 1", section: "§6.7",
		input: rawFrame(TypePing, 0, 1, ping8), kind: connErr, code: ErrCodeProtocol},

	// §6.8 GOAWAY.
	{name: "GOAWAY on stream 1", section: "§6.8",
		input: rawFrame(TypeGoAway, 0, 1, u32(0), u32(0)), kind: connErr, code: ErrCodeProtocol},
	{name: "GOAWAY of length 7", section: "§6.8",
		input: rawFrame(TypeGoAway, 0, 0, u32(0), []byte{0, 0, 0}), kind: connErr, code: ErrCodeFrameSize},
	{name: "GOAWAY of length 0", section: "§6.8",
		input: rawFrame(TypeGoAway, 0, 0), kind: connErr, code: ErrCodeFrameSize},

	// §6.9 WINDOW_UPDATE.
	{name: "WINDOW_UPDATE of length 3", section: "§6.9",
		input: rawFrame(TypeWindowUpdate, 0, 1, []byte{0, 0, 1}), kind: connErr, code: ErrCodeFrameSize},
	{name: "WINDOW_UPDATE of length 5 on the connection", section: "§6.9",
		input: rawFrame(TypeWindowUpdate, 0, 0, u32(1), []byte{0}), kind: connErr, code: ErrCodeFrameSize},
	{name: "WINDOW_UPDATE increment 0 on a stream", section: "§6.9",
		input: rawFrame(TypeWindowUpdate, 0, 7, u32(0)), kind: streamErr, code: ErrCodeProtocol, stream: 7},
	{name: "WINDOW_UPDATE increment 0 (reserved bit set) on a stream", section: "§6.9",
		input: rawFrame(TypeWindowUpdate, 0, 7, u32(1<<31)), kind: streamErr, code: ErrCodeProtocol, stream: 7},
	{name: "WINDOW_UPDATE increment 0 on the connection", section: "§6.9",
		input: rawFrame(TypeWindowUpdate, 0, 0, u32(0)), kind: connErr, code: ErrCodeProtocol},

	// §6.10 CONTINUATION sequencing.
	{name: "CONTINUATION with no field block open", section: "§6.10",
		input: rawFrame(TypeContinuation, FlagEndHeaders, 1, []byte("hb")), kind: connErr, code: ErrCodeProtocol},
	{name: "CONTINUATION on stream 0 with no field block open", section: "§6.10",
		input: rawFrame(TypeContinuation, FlagEndHeaders, 0), kind: connErr, code: ErrCodeProtocol},
	{name: "CONTINUATION after a HEADERS with END_HEADERS", section: "§6.10",
		input: cat(rawFrame(TypeHeaders, FlagEndHeaders, 1, []byte("a")), rawFrame(TypeContinuation, FlagEndHeaders, 1, []byte("b"))), kind: connErr, code: ErrCodeProtocol},
	{name: "CONTINUATION after a closed field block", section: "§6.10",
		input: cat(rawFrame(TypeHeaders, 0, 1, []byte("a")), rawFrame(TypeContinuation, FlagEndHeaders, 1, []byte("b")),
			rawFrame(TypeContinuation, FlagEndHeaders, 1, []byte("c"))), kind: connErr, code: ErrCodeProtocol},
	{name: "DATA inside a HEADERS field block", section: "§6.10",
		input: cat(rawFrame(TypeHeaders, 0, 1, []byte("a")), rawFrame(TypeData, 0, 1, []byte("d"))), kind: connErr, code: ErrCodeProtocol},
	{name: "PING inside a HEADERS field block", section: "§6.10",
		input: cat(rawFrame(TypeHeaders, FlagEndStream, 1, []byte("a")), rawFrame(TypePing, 0, 0, ping8)), kind: connErr, code: ErrCodeProtocol},
	{name: "unknown frame inside a HEADERS field block", section: "§6.10",
		input: cat(rawFrame(TypeHeaders, 0, 1, []byte("a")), rawFrame(0x42, 0, 0)), kind: connErr, code: ErrCodeProtocol},
	{name: "HEADERS inside a HEADERS field block", section: "§6.10",
		input: cat(rawFrame(TypeHeaders, 0, 1, []byte("a")), rawFrame(TypeHeaders, FlagEndHeaders, 3, []byte("b"))), kind: connErr, code: ErrCodeProtocol},
	{name: "CONTINUATION on another stream", section: "§6.10",
		input: cat(rawFrame(TypeHeaders, 0, 1, []byte("a")), rawFrame(TypeContinuation, FlagEndHeaders, 3, []byte("b"))), kind: connErr, code: ErrCodeProtocol},
	{name: "CONTINUATION on another stream after a CONTINUATION", section: "§6.10",
		input: cat(rawFrame(TypeHeaders, 0, 1, []byte("a")), rawFrame(TypeContinuation, 0, 1, []byte("b")),
			rawFrame(TypeContinuation, FlagEndHeaders, 3, []byte("c"))), kind: connErr, code: ErrCodeProtocol},
	{name: "DATA inside a PUSH_PROMISE field block", section: "§6.10",
		input: cat(rawFrame(TypePushPromise, 0, 1, u32(2), []byte("a")), rawFrame(TypeData, 0, 1, []byte("d"))), kind: connErr, code: ErrCodeProtocol},
	{name: "CONTINUATION on another stream after PUSH_PROMISE", section: "§6.10",
		input: cat(rawFrame(TypePushPromise, 0, 1, u32(2), []byte("a")), rawFrame(TypeContinuation, FlagEndHeaders, 2, []byte("b"))), kind: connErr, code: ErrCodeProtocol},
	{name: "CONTINUATION inside the block of a HEADERS that was a stream error", section: "§6.10",
		input: cat(rawFrame(TypeHeaders, FlagPriority, 5, u32(5), []byte{16}), rawFrame(TypeData, 0, 5, []byte("d"))), kind: connErr, code: ErrCodeProtocol,
		afterStreamError: true},
}

func TestRules(t *testing.T) {
	for _, tc := range ruleCases {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.afterStreamError {
				checkRule(t, tc)
				return
			}
			res := readAll(bytes.NewReader(tc.input), tc.maxSize)
			var se *StreamError
			if len(res.errs) != 2 || !errors.As(res.errs[0], &se) {
				t.Fatalf("errors %v, want a stream error then a connection error", res.errs)
			}
			checkErr(t, tc, res.errs[1])
		})
	}
}

// checkRule reads tc.input and checks the error and, for stream errors,
// that reading goes on.
func checkRule(t *testing.T, tc ruleCase) {
	t.Helper()
	// A valid PING after the bad frame: readable after a stream error,
	// never reached after a connection error.
	input := cat(tc.input, AppendPing(nil, false, [8]byte(ping8)))
	fr := NewReader(bytes.NewReader(input))
	if tc.maxSize != 0 {
		fr.SetMaxFrameSize(tc.maxSize)
	}
	var err error
	for range 10 {
		var f Frame
		f, err = fr.ReadFrame()
		if err != nil {
			if tc.kind == streamErr && f == nil {
				t.Errorf("stream error came without its frame")
			}
			if tc.kind == connErr && f != nil {
				t.Errorf("connection error came with a frame %T", f)
			}
			break
		}
		if _, ok := f.(*PingFrame); ok {
			t.Fatalf("read through to the trailing PING without an error")
		}
	}
	checkErr(t, tc, err)
	next, err2 := fr.ReadFrame()
	switch tc.kind {
	case streamErr:
		if p, ok := next.(*PingFrame); err2 != nil || !ok || p.Data != [8]byte(ping8) {
			t.Errorf("after a stream error: ReadFrame = %v, %v; want the next PING", next, err2)
		}
	case connErr:
		if err2 != err {
			t.Errorf("after a connection error: ReadFrame = %v, %v; want the same error again", next, err2)
		}
	}
}

func checkErr(t *testing.T, tc ruleCase, err error) {
	t.Helper()
	var ce *ConnError
	var se *StreamError
	var code ErrCode
	var reason string
	switch {
	case errors.As(err, &ce):
		if tc.kind != connErr {
			t.Fatalf("got %v, want a stream error", err)
		}
		code, reason = ce.Code, ce.Reason
	case errors.As(err, &se):
		if tc.kind != streamErr {
			t.Fatalf("got %v, want a connection error", err)
		}
		if se.StreamID != tc.stream {
			t.Errorf("stream error on stream %d, want %d", se.StreamID, tc.stream)
		}
		code, reason = se.Code, se.Reason
	default:
		t.Fatalf("got error %v (%T), want a typed connection or stream error", err, err)
	}
	if code != tc.code {
		t.Errorf("error code %v, want %v (%v)", code, tc.code, err)
	}
	if !strings.Contains(reason, tc.section+")") && !strings.Contains(reason, tc.section+",") {
		t.Errorf("reason %q does not name %s", reason, tc.section)
	}
}

func TestReadPreface(t *testing.T) {
	tests := []struct {
		name  string
		input string
		ok    bool
	}{
		{"exact", ClientPreface, true},
		{"followed by SETTINGS", ClientPreface + string(AppendSettings(nil)), true},
		{"HTTP/1.1 request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"one byte off at the end", ClientPreface[:23] + "x", false},
		{"empty", "", false},
		{"cut short", ClientPreface[:10], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fr := NewReader(strings.NewReader(tc.input))
			err := fr.ReadPreface()
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if len(tc.input) > len(ClientPreface) {
					if f, err := fr.ReadFrame(); err != nil || f.FrameHeader().Type != TypeSettings {
						t.Fatalf("after the preface: %v, %v; want SETTINGS", f, err)
					}
				}
				return
			}
			switch tc.input {
			case "":
				if err != io.EOF {
					t.Fatalf("err = %v, want io.EOF", err)
				}
				return
			case ClientPreface[:10]:
				if err != io.ErrUnexpectedEOF {
					t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
				}
				return
			}
			// RFC 9113 §3.4: an invalid preface is a connection error
			// of type PROTOCOL_ERROR.
			var ce *ConnError
			if !errors.As(err, &ce) || ce.Code != ErrCodeProtocol || !strings.Contains(ce.Reason, "§3.4") {
				t.Fatalf("err = %v, want a PROTOCOL_ERROR connection error naming §3.4", err)
			}
		})
	}
}

// TestReadPrefaceEarly checks that a wrong preface is rejected on the
// octets that came, without waiting for all 24 (the next Read would fail).
func TestReadPrefaceEarly(t *testing.T) {
	r := &scriptReader{{[]byte("GET / HT"), nil}, {nil, errors.New("must not be read")}}
	var ce *ConnError
	if err := NewReader(r).ReadPreface(); !errors.As(err, &ce) || ce.Code != ErrCodeProtocol {
		t.Fatalf("err = %v, want a PROTOCOL_ERROR connection error", err)
	}
}
