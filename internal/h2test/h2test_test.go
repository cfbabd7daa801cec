package h2test

import (
	"strings"
	"testing"

	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

func TestDiff(t *testing.T) {
	a := &frame.DataFrame{Header: frame.Header{Type: frame.TypeData, StreamID: 1}, Data: []byte("x")}
	b := &frame.DataFrame{Header: frame.Header{Type: frame.TypeData, StreamID: 3}, Data: []byte("x")}
	if d := Diff(a, a); d != "" {
		t.Errorf("Diff of equal frames = %q", d)
	}
	if d := Diff(a, b); !strings.Contains(d, "StreamID") {
		t.Errorf("Diff = %q, want it to name StreamID", d)
	}
	if d := Diff([]hpack.Field(nil), []hpack.Field{}); d != "" {
		t.Errorf("nil and empty slices differ: %q", d)
	}
	if d := Diff(frame.Frame(a), frame.Frame(&frame.PingFrame{})); !strings.Contains(d, "type") {
		t.Errorf("Diff of different types = %q", d)
	}
}

func TestNormalizeFillsLength(t *testing.T) {
	f := Normalize(&frame.SettingsFrame{Header: frame.Header{Type: frame.TypeSettings},
		Settings: []frame.Setting{{ID: frame.SettingMaxFrameSize, Val: 20000}}}).(*frame.SettingsFrame)
	if f.Length != 6 || len(f.Settings) != 1 || f.Settings[0].Val != 20000 {
		t.Errorf("Normalize = %+v", f)
	}
}

// The peer talks to itself: what one end writes the other reads.
func TestPeerRoundTrip(t *testing.T) {
	a, p := NewPipe(t)
	q := New(t, a)
	p.WriteHeaders(1, true, hpack.Field{Name: ":status", Value: "200"})
	p.WriteData(1, false, []byte("body"))
	q.WantHeaders("headers", 1, true, []hpack.Field{{Name: ":status", Value: "200"}})
	q.WantData("data", 1, false, []byte("body"))
	q.WantIdle("nothing more")
	p.Close()
	q.WantClosed("closed")
}
