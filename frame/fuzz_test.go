package frame

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzReader reads arbitrary bytes. It must never panic or hang, every
// error must be typed or io.EOF/io.ErrUnexpectedEOF, and every frame read
// must re-encode to exactly its declared length and read back the same.
func FuzzReader(f *testing.F) {
	for _, u := range units() {
		f.Add(u.data)
	}
	for _, tc := range ruleCases {
		if len(tc.input) < 1024 {
			f.Add(tc.input)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fr := NewReader(bytes.NewReader(in))
		for range len(in)/HeaderLen + 1 {
			f, err := fr.ReadFrame()
			var se *StreamError
			var ce *ConnError
			switch {
			case err == nil:
			case errors.As(err, &se):
				if f == nil {
					t.Fatalf("stream error %v without its frame", err)
				}
				continue
			case errors.As(err, &ce), err == io.EOF, err == io.ErrUnexpectedEOF:
				return
			default:
				t.Fatalf("untyped error %v", err)
			}
			h := f.FrameHeader()
			enc := f.AppendTo(nil)
			if len(enc) != HeaderLen+int(h.Length) {
				t.Fatalf("%v: re-encoded to %d octets, header says %d", h.Type, len(enc), HeaderLen+int(h.Length))
			}
			want := clone(f)
			if h.Type == TypeContinuation || ((h.Type == TypeHeaders || h.Type == TypePushPromise) && !h.Flags.Has(FlagEndHeaders)) {
				continue // cannot be read back alone
			}
			g, err := NewReader(bytes.NewReader(enc)).ReadFrame()
			if err != nil {
				t.Fatalf("re-encoded %v does not read back: %v", h.Type, err)
			}
			if diff := cmp.Diff(want, clone(g), cmpOpts...); diff != "" {
				t.Fatalf("re-encoded %v reads back different (-first +second):\n%s", h.Type, diff)
			}
		}
		t.Fatalf("more frames than %d input octets allow", len(in))
	})
}
