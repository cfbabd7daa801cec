package main

import (
	"bufio"
	"bytes"
	"io"
	"testing"

	"github.com/h2rpc/h2rpc/frame"
	"golang.org/x/net/http2"
)

// TestWorkloadsMatch checks that the benchmarks compare equal work: for each
// KIND, h2rpc's encoders produce byte for byte what x/net's Framer writes,
// and both readers return the same frames from the read run.
func TestWorkloadsMatch(t *testing.T) {
	for i := range workloads {
		w := &workloads[i]
		t.Run(w.name, func(t *testing.T) {
			var xbuf bytes.Buffer
			xfr := http2.NewFramer(&xbuf, nil)
			var ours []byte
			for i := range w.n {
				ours = w.ours(ours, i)
				if err := w.xnet(xfr, i); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(ours, xbuf.Bytes()) {
				t.Fatalf("h2rpc encodes the cycle as\n%x\nx/net as\n%x", ours, xbuf.Bytes())
			}

			data, n := w.run()
			fr := frame.NewReader(bufio.NewReaderSize(bytes.NewReader(data), bufSize))
			xr := http2.NewFramer(nil, bufio.NewReaderSize(bytes.NewReader(data), bufSize))
			for i := range n {
				f, err := fr.ReadFrame()
				if err != nil {
					t.Fatalf("frame %d: h2rpc: %v", i, err)
				}
				xf, err := xr.ReadFrame()
				if err != nil {
					t.Fatalf("frame %d: x/net: %v", i, err)
				}
				h, xh := f.FrameHeader(), xf.Header()
				if uint8(h.Type) != uint8(xh.Type) || uint8(h.Flags) != uint8(xh.Flags) || h.Length != xh.Length || h.StreamID != xh.StreamID {
					t.Fatalf("frame %d: h2rpc read %+v, x/net %+v", i, h, xh)
				}
			}
			if _, err := fr.ReadFrame(); err != io.EOF {
				t.Fatalf("after %d frames h2rpc returned %v, want io.EOF", n, err)
			}
		})
	}
}

// TestZeroAllocs holds package frame to its budget, which benchmarks only
// report: reading and writing a frame of every KIND allocates nothing, once
// the Reader's buffer has grown to the frame size.
func TestZeroAllocs(t *testing.T) {
	for i := range workloads {
		w := &workloads[i]
		t.Run(w.name, func(t *testing.T) {
			data, n := w.run()
			fr := frame.NewReader(bufio.NewReaderSize(&rewinder{b: data}, bufSize))
			read := func() {
				if _, err := fr.ReadFrame(); err != nil {
					t.Fatal(err)
				}
			}
			for range n { // warm up: one pass over the run
				read()
			}
			if a := testing.AllocsPerRun(1000, read); a != 0 {
				t.Errorf("ReadFrame: %v allocs per frame, want 0", a)
			}

			buf := make([]byte, 0, 32<<10)
			j := 0
			if a := testing.AllocsPerRun(1000, func() { buf = w.ours(buf[:0], j); j++ }); a != 0 {
				t.Errorf("Append: %v allocs per frame, want 0", a)
			}
		})
	}
}
