package h2test

import (
	"bytes"

	"github.com/h2rpc/h2rpc/frame"
)

// Clone returns a deep copy of a frame returned by frame.Reader (which is
// valid only until the next read). A SETTINGS frame's settings are copied
// into its Settings field.
func Clone(f frame.Frame) frame.Frame {
	switch f := f.(type) {
	case *frame.DataFrame:
		g := *f
		g.Data = bytes.Clone(f.Data)
		return &g
	case *frame.HeadersFrame:
		g := *f
		g.BlockFragment = bytes.Clone(f.BlockFragment)
		return &g
	case *frame.PriorityFrame:
		g := *f
		return &g
	case *frame.RSTStreamFrame:
		g := *f
		return &g
	case *frame.SettingsFrame:
		g := frame.SettingsFrame{Header: f.Header}
		if f.Settings != nil {
			g.Settings = append([]frame.Setting(nil), f.Settings...)
		} else {
			for i := range f.NumSettings() {
				g.Settings = append(g.Settings, f.Setting(i))
			}
		}
		return &g
	case *frame.PushPromiseFrame:
		g := *f
		g.BlockFragment = bytes.Clone(f.BlockFragment)
		return &g
	case *frame.PingFrame:
		g := *f
		return &g
	case *frame.GoAwayFrame:
		g := *f
		g.DebugData = bytes.Clone(f.DebugData)
		return &g
	case *frame.WindowUpdateFrame:
		g := *f
		return &g
	case *frame.ContinuationFrame:
		g := *f
		g.BlockFragment = bytes.Clone(f.BlockFragment)
		return &g
	case *frame.UnknownFrame:
		g := *f
		g.Payload = bytes.Clone(f.Payload)
		return &g
	}
	return f
}
