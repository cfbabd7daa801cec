package frame

import (
	"testing"
)

// loopReader returns data over and over, without allocating.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

// TestReadAllocs checks that reading any frame type does not allocate once
// the Reader is warm (RFC-sized frames, buffer already grown).
func TestReadAllocs(t *testing.T) {
	big := make([]byte, DefaultMaxFrameSize)
	tests := []struct {
		name  string
		input []byte // one or more frames, read len(frames) at a time
		n     int
	}{
		{"DATA", AppendData(nil, 1, false, []byte("hello")), 1},
		{"DATA max size", AppendData(nil, 1, false, big), 1},
		{"DATA padded", (&DataFrame{Header: Header{StreamID: 1, Flags: FlagPadded}, Data: []byte("x"), PadLen: 9}).AppendTo(nil), 1},
		{"HEADERS", AppendHeaders(nil, 1, true, true, []byte("hb")), 1},
		{"HEADERS priority padded", (&HeadersFrame{Header: Header{StreamID: 1, Flags: FlagPadded | FlagPriority | FlagEndHeaders},
			Priority: PriorityParam{StreamDep: 3, Weight: 5}, BlockFragment: []byte("h"), PadLen: 2}).AppendTo(nil), 1},
		{"PRIORITY", AppendPriority(nil, 1, PriorityParam{StreamDep: 3}), 1},
		{"RST_STREAM", AppendRSTStream(nil, 1, ErrCodeCancel), 1},
		{"SETTINGS", AppendSettings(nil, Setting{SettingInitialWindowSize, 1 << 20}, Setting{SettingMaxFrameSize, 1 << 15}), 1},
		{"SETTINGS ACK", AppendSettingsAck(nil), 1},
		{"PUSH_PROMISE", AppendPushPromise(nil, 1, 2, true, []byte("hb")), 1},
		{"PING", AppendPing(nil, false, [8]byte{1}), 1},
		{"GOAWAY", AppendGoAway(nil, 1, ErrCodeNo, []byte("bye")), 1},
		{"WINDOW_UPDATE", AppendWindowUpdate(nil, 0, 1), 1},
		{"HEADERS+CONTINUATION", AppendContinuation(AppendHeaders(nil, 1, false, false, []byte("a")), 1, true, []byte("b")), 2},
		{"unknown", rawFrame(0x42, 0, 0, []byte("ext")), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fr := NewReader(&loopReader{data: tc.input})
			read := func() {
				for range tc.n {
					f, err := fr.ReadFrame()
					if f == nil {
						t.Fatalf("ReadFrame: %v", err)
					}
				}
			}
			read() // warm up: the buffer may grow once
			if n := testing.AllocsPerRun(100, read); n != 0 {
				t.Errorf("%v allocations per read, want 0", n)
			}
		})
	}
}

func TestAppendAllocs(t *testing.T) {
	buf := make([]byte, 0, 1<<10)
	frag := []byte("fragment")
	prio := PriorityParam{StreamDep: 1, Weight: 1}
	settings := []Setting{{SettingEnablePush, 0}}
	tests := []struct {
		name string
		fn   func() []byte
	}{
		{"AppendFrameHeader", func() []byte { return AppendFrameHeader(buf, Header{Length: 1}) }},
		{"AppendData", func() []byte { return AppendData(buf, 1, true, frag) }},
		{"AppendHeaders", func() []byte { return AppendHeaders(buf, 1, true, true, frag) }},
		{"AppendContinuation", func() []byte { return AppendContinuation(buf, 1, true, frag) }},
		{"AppendPriority", func() []byte { return AppendPriority(buf, 1, prio) }},
		{"AppendRSTStream", func() []byte { return AppendRSTStream(buf, 1, ErrCodeCancel) }},
		{"AppendSettings", func() []byte { return AppendSettings(buf, settings...) }},
		{"AppendSettingsAck", func() []byte { return AppendSettingsAck(buf) }},
		{"AppendPushPromise", func() []byte { return AppendPushPromise(buf, 1, 2, true, frag) }},
		{"AppendPing", func() []byte { return AppendPing(buf, true, [8]byte{}) }},
		{"AppendGoAway", func() []byte { return AppendGoAway(buf, 1, ErrCodeNo, frag) }},
		{"AppendWindowUpdate", func() []byte { return AppendWindowUpdate(buf, 1, 1) }},
	}
	for _, f := range validFrames() {
		tests = append(tests, struct {
			name string
			fn   func() []byte
		}{"AppendTo " + f.FrameHeader().Type.String(), func() []byte { return f.AppendTo(buf) }})
	}
	for _, tc := range tests {
		if len(tc.fn()) > cap(buf) {
			continue // the max-size DATA frame does not fit; others must
		}
		if n := testing.AllocsPerRun(100, func() { tc.fn() }); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tc.name, n)
		}
	}
}
