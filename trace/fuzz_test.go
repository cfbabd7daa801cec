package trace_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/h2rpc/h2rpc/trace"
)

// FuzzRecorderBytes feeds a proxy's Recorder arbitrary bytes from both
// sides, split at an arbitrary point, and checks that it never panics,
// that every event it writes reads back, and that everything draws.
func FuzzRecorderBytes(f *testing.F) {
	client, server := unary(f)
	f.Add(bytes.Join(client, nil), bytes.Join(server, nil), uint16(30))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"), []byte{0, 0, 1, 1, 4, 0, 0, 0, 1, 0x82}, uint16(0))
	f.Fuzz(func(t *testing.T, c, s []byte, split uint16) {
		var buf bytes.Buffer
		w, err := trace.NewWriter(&buf, trace.Proxy, "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		r := w.Conn(trace.Proxy)
		cut := min(int(split), len(c))
		r.Bytes(trace.Client, c[:cut])
		r.Bytes(trace.Server, s)
		r.Bytes(trace.Client, c[cut:])
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		tr, err := trace.Read(&buf)
		if err != nil {
			t.Fatalf("the trace does not read back: %v", err)
		}
		if err := trace.SVG(io.Discard, tr, nil); err != nil {
			t.Fatal(err)
		}
		if err := trace.Text(io.Discard, tr); err != nil {
			t.Fatal(err)
		}
	})
}
