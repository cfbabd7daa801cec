package frame

import "testing"

// Budget: 0 allocations per frame read or appended; one copy of each
// payload octet from the io.Reader into the Reader's buffer, none after.

func BenchmarkReadFrame(b *testing.B) {
	for _, bc := range []struct {
		name  string
		frame []byte
	}{
		{"DATA-16KiB", AppendData(nil, 1, false, make([]byte, DefaultMaxFrameSize))},
		{"DATA-64B", AppendData(nil, 1, false, make([]byte, 64))},
		{"HEADERS-32B", AppendHeaders(nil, 1, false, true, make([]byte, 32))},
		{"WINDOW_UPDATE", AppendWindowUpdate(nil, 1, 1)},
		{"PING", AppendPing(nil, false, [8]byte{})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			fr := NewReader(&loopReader{data: bc.frame})
			b.SetBytes(int64(len(bc.frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fr.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppend(b *testing.B) {
	buf := make([]byte, 0, 1<<10)
	payload := make([]byte, 64)
	b.Run("AppendData-64B", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendData(buf[:0], 1, false, payload)
		}
	})
	b.Run("AppendWindowUpdate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendWindowUpdate(buf[:0], 1, 1)
		}
	})
}
