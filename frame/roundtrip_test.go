package frame

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// validFrames covers every frame type with its padded and priority
// variants. Each is a Frame built for writing, with Type set.
func validFrames() []Frame {
	h := func(t Type, flags Flags, id uint32) Header { return Header{Type: t, Flags: flags, StreamID: id} }
	return []Frame{
		&DataFrame{Header: h(TypeData, 0, 1), Data: []byte("hello")},
		&DataFrame{Header: h(TypeData, FlagEndStream, 3), Data: nil},
		&DataFrame{Header: h(TypeData, FlagPadded|FlagEndStream, 5), Data: []byte("padded"), PadLen: 7},
		&DataFrame{Header: h(TypeData, FlagPadded, 5), Data: nil, PadLen: 0},
		&DataFrame{Header: h(TypeData, FlagPadded, 5), Data: nil, PadLen: 255},
		&DataFrame{Header: h(TypeData, 0, MaxStreamID), Data: bytes.Repeat([]byte("x"), DefaultMaxFrameSize)},
		&HeadersFrame{Header: h(TypeHeaders, FlagEndHeaders, 1), BlockFragment: []byte("\x82\x86\x84")},
		&HeadersFrame{Header: h(TypeHeaders, FlagEndHeaders|FlagEndStream|FlagPadded, 1), BlockFragment: []byte("hb"), PadLen: 3},
		&HeadersFrame{Header: h(TypeHeaders, FlagEndHeaders|FlagPriority, 3),
			Priority: PriorityParam{StreamDep: 1, Exclusive: true, Weight: 255}, BlockFragment: []byte("hb")},
		&HeadersFrame{Header: h(TypeHeaders, FlagEndHeaders|FlagPriority|FlagPadded, 3),
			Priority: PriorityParam{StreamDep: 0, Weight: 15}, BlockFragment: []byte("hb"), PadLen: 1},
		&HeadersFrame{Header: h(TypeHeaders, FlagEndHeaders|FlagPriority|FlagPadded, 3),
			Priority: PriorityParam{StreamDep: MaxStreamID, Weight: 0}, PadLen: 0},
		&PriorityFrame{Header: h(TypePriority, 0, 3), PriorityParam: PriorityParam{StreamDep: 1, Exclusive: true, Weight: 200}},
		&PriorityFrame{Header: h(TypePriority, 0, 3), PriorityParam: PriorityParam{StreamDep: 0, Weight: 0}},
		&RSTStreamFrame{Header: h(TypeRSTStream, 0, 1), Code: ErrCodeCancel},
		&RSTStreamFrame{Header: h(TypeRSTStream, 0, 1), Code: 0xdeadbeef},
		&SettingsFrame{Header: h(TypeSettings, 0, 0)},
		&SettingsFrame{Header: h(TypeSettings, FlagAck, 0)},
		&SettingsFrame{Header: h(TypeSettings, 0, 0), Settings: []Setting{
			{SettingHeaderTableSize, 0}, {SettingEnablePush, 1}, {SettingMaxConcurrentStreams, 1<<32 - 1},
			{SettingInitialWindowSize, MaxWindowSize}, {SettingMaxFrameSize, MaxAllowedFrameSize},
			{SettingMaxFrameSize, DefaultMaxFrameSize}, {SettingMaxHeaderListSize, 1 << 20},
			{SettingEnableConnectProtocol, 1}, {0xabcd, 1<<32 - 1}}},
		&PushPromiseFrame{Header: h(TypePushPromise, FlagEndHeaders, 1), PromisedID: 2, BlockFragment: []byte("hb")},
		&PushPromiseFrame{Header: h(TypePushPromise, FlagEndHeaders|FlagPadded, 1), PromisedID: MaxStreamID, BlockFragment: []byte("hb"), PadLen: 4},
		&PingFrame{Header: h(TypePing, 0, 0), Data: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}},
		&PingFrame{Header: h(TypePing, FlagAck, 0), Data: [8]byte{0xff}},
		&GoAwayFrame{Header: h(TypeGoAway, 0, 0), LastStreamID: 7, Code: ErrCodeEnhanceYourCalm, DebugData: []byte("calm down")},
		&GoAwayFrame{Header: h(TypeGoAway, 0, 0), LastStreamID: MaxStreamID, Code: ErrCodeNo},
		&WindowUpdateFrame{Header: h(TypeWindowUpdate, 0, 0), Increment: 1},
		&WindowUpdateFrame{Header: h(TypeWindowUpdate, 0, 9), Increment: MaxWindowSize},
		// A field block split over HEADERS and two CONTINUATIONs; then one
		// over PUSH_PROMISE and a CONTINUATION.
		&HeadersFrame{Header: h(TypeHeaders, FlagEndStream, 11), BlockFragment: []byte("part1")},
		&ContinuationFrame{Header: h(TypeContinuation, 0, 11), BlockFragment: []byte("part2")},
		&ContinuationFrame{Header: h(TypeContinuation, FlagEndHeaders, 11), BlockFragment: nil},
		&PushPromiseFrame{Header: h(TypePushPromise, 0, 1), PromisedID: 4, BlockFragment: []byte("pp1")},
		&ContinuationFrame{Header: h(TypeContinuation, FlagEndHeaders, 1), BlockFragment: []byte("pp2")},
		&UnknownFrame{Header: h(0x42, 0xff, 0), Payload: []byte("extension")},
		&UnknownFrame{Header: h(0xff, 0, MaxStreamID), Payload: nil},
		// Undefined flags are kept on read (and ignored).
		&PingFrame{Header: h(TypePing, 0xfe, 0), Data: [8]byte{9}},
		&RSTStreamFrame{Header: h(TypeRSTStream, 0xff, 1), Code: ErrCodeNo},
	}
}

// encodeAll encodes frames back to back with AppendTo.
func encodeAll(frames []Frame) []byte {
	var b []byte
	for _, f := range frames {
		b = f.AppendTo(b)
	}
	return b
}

// ignoreLength leaves Header.Length out of frame comparisons: a frame built
// for writing does not set it. TestRoundTrip checks it separately.
var ignoreLength = cmpopts.IgnoreFields(Header{}, "Length")

func TestRoundTrip(t *testing.T) {
	frames := validFrames()
	for _, f := range frames {
		enc := f.AppendTo(nil)
		h := parseHeader(enc)
		if int(h.Length) != len(enc)-HeaderLen || h.Type != f.FrameHeader().Type {
			t.Errorf("%T: encoded header %+v for %d payload octets", f, h, len(enc)-HeaderLen)
		}
	}
	res := readAll(bytes.NewReader(encodeAll(frames)), 0)
	if len(res.errs) != 1 || res.errs[0].Error() != "EOF" {
		t.Fatalf("errors %v, want just io.EOF", res.errs)
	}
	if diff := cmp.Diff(frames, res.frames, append(cmpOpts, ignoreLength)...); diff != "" {
		t.Errorf("frames read back differ (-wrote +read):\n%s", diff)
	}
	// Re-encoding what was read gives the same bytes.
	if got, want := encodeAll(res.frames), encodeAll(frames); !bytes.Equal(got, want) {
		t.Errorf("re-encoded frames differ")
	}
}

// TestAppendFunctions checks each Append function against the AppendTo of
// the frame struct it stands for.
func TestAppendFunctions(t *testing.T) {
	prio := PriorityParam{StreamDep: 9, Exclusive: true, Weight: 42}
	settings := []Setting{{SettingEnablePush, 0}, {SettingInitialWindowSize, 1 << 20}}
	tests := []struct {
		name      string
		got, want []byte
	}{
		{"AppendFrameHeader", AppendFrameHeader(nil, Header{Length: 0xabcdef, Type: 0x42, Flags: 0x81, StreamID: 1<<31 | 5}),
			[]byte{0xab, 0xcd, 0xef, 0x42, 0x81, 0, 0, 0, 5}},
		{"AppendData", AppendData(nil, 1, false, []byte("d")), (&DataFrame{Header: Header{StreamID: 1}, Data: []byte("d")}).AppendTo(nil)},
		{"AppendData end", AppendData(nil, 1, true, nil), (&DataFrame{Header: Header{StreamID: 1, Flags: FlagEndStream}}).AppendTo(nil)},
		{"AppendHeaders", AppendHeaders(nil, 3, true, false, []byte("hb")),
			(&HeadersFrame{Header: Header{StreamID: 3, Flags: FlagEndStream}, BlockFragment: []byte("hb")}).AppendTo(nil)},
		{"AppendHeaders end headers", AppendHeaders(nil, 3, false, true, []byte("hb")),
			(&HeadersFrame{Header: Header{StreamID: 3, Flags: FlagEndHeaders}, BlockFragment: []byte("hb")}).AppendTo(nil)},
		{"AppendContinuation", AppendContinuation(nil, 3, true, []byte("c")),
			(&ContinuationFrame{Header: Header{StreamID: 3, Flags: FlagEndHeaders}, BlockFragment: []byte("c")}).AppendTo(nil)},
		{"AppendPriority", AppendPriority(nil, 3, prio), (&PriorityFrame{Header: Header{StreamID: 3}, PriorityParam: prio}).AppendTo(nil)},
		{"AppendRSTStream", AppendRSTStream(nil, 3, ErrCodeCancel), (&RSTStreamFrame{Header: Header{StreamID: 3}, Code: ErrCodeCancel}).AppendTo(nil)},
		{"AppendSettings", AppendSettings(nil, settings...), (&SettingsFrame{Settings: settings}).AppendTo(nil)},
		{"AppendSettings empty", AppendSettings(nil), []byte{0, 0, 0, 4, 0, 0, 0, 0, 0}},
		{"AppendSettingsAck", AppendSettingsAck(nil), []byte{0, 0, 0, 4, 1, 0, 0, 0, 0}},
		{"AppendPushPromise", AppendPushPromise(nil, 1, 2, true, []byte("hb")),
			(&PushPromiseFrame{Header: Header{StreamID: 1, Flags: FlagEndHeaders}, PromisedID: 2, BlockFragment: []byte("hb")}).AppendTo(nil)},
		{"AppendPing", AppendPing(nil, true, [8]byte{1}), (&PingFrame{Header: Header{Flags: FlagAck}, Data: [8]byte{1}}).AppendTo(nil)},
		{"AppendGoAway", AppendGoAway(nil, 5, ErrCodeProtocol, []byte("why")),
			(&GoAwayFrame{LastStreamID: 5, Code: ErrCodeProtocol, DebugData: []byte("why")}).AppendTo(nil)},
		{"AppendWindowUpdate", AppendWindowUpdate(nil, 0, 1000), (&WindowUpdateFrame{Increment: 1000}).AppendTo(nil)},
		// Byte-exact encodings (RFC 9113 §4.1, §6.9), independent of AppendTo.
		{"AppendWindowUpdate bytes", AppendWindowUpdate(nil, 1<<31|3, 1<<31|1),
			[]byte{0, 0, 4, 8, 0, 0, 0, 0, 3, 0, 0, 0, 1}},
		{"AppendData bytes", AppendData([]byte("prefix"), 1, true, []byte("ab")),
			[]byte("prefix\x00\x00\x02\x00\x01\x00\x00\x00\x01ab")},
		{"padded HEADERS bytes", (&HeadersFrame{Header: Header{StreamID: 1, Flags: FlagPadded | FlagPriority | FlagEndHeaders},
			Priority: prio, BlockFragment: []byte("h"), PadLen: 2}).AppendTo(nil),
			[]byte{0, 0, 9, 1, 0x2c, 0, 0, 0, 1, 2, 0x80, 0, 0, 9, 42, 'h', 0, 0}},
	}
	for _, tc := range tests {
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("%s:\n got % x\nwant % x", tc.name, tc.got, tc.want)
		}
	}
}

func TestSettingsAccessors(t *testing.T) {
	in := AppendSettings(nil, Setting{SettingEnablePush, 1}, Setting{SettingMaxFrameSize, 20000}, Setting{SettingEnablePush, 0})
	f, err := NewReader(bytes.NewReader(in)).ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	sf := f.(*SettingsFrame)
	if sf.Settings != nil {
		t.Errorf("Settings = %v on a read frame, want nil", sf.Settings)
	}
	if n := sf.NumSettings(); n != 3 {
		t.Errorf("NumSettings = %d, want 3", n)
	}
	if s := sf.Setting(1); s != (Setting{SettingMaxFrameSize, 20000}) {
		t.Errorf("Setting(1) = %v", s)
	}
	// RFC 9113 §6.5.3: processed in order, so the last value wins.
	if v, ok := sf.Value(SettingEnablePush); !ok || v != 0 {
		t.Errorf("Value(ENABLE_PUSH) = %d, %v; want 0, true", v, ok)
	}
	if v, ok := sf.Value(SettingHeaderTableSize); ok {
		t.Errorf("Value(HEADER_TABLE_SIZE) = %d, true; want absent", v)
	}
	var seen []Setting
	stop := errorString("stop")
	err = sf.ForEach(func(s Setting) error {
		seen = append(seen, s)
		if len(seen) == 2 {
			return stop
		}
		return nil
	})
	if err != stop || len(seen) != 2 {
		t.Errorf("ForEach = %v after %d settings, want stop after 2", err, len(seen))
	}
	// The accessors read Settings on a frame built for writing.
	w := &SettingsFrame{Settings: []Setting{{SettingEnablePush, 1}}}
	if v, ok := w.Value(SettingEnablePush); !ok || v != 1 || w.NumSettings() != 1 {
		t.Errorf("built frame: Value = %d, %v, NumSettings = %d", v, ok, w.NumSettings())
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
