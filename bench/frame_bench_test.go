package main

import (
	"bufio"
	"bytes"
	"io"
	"testing"

	"github.com/h2rpc/h2rpc/frame"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// A workload is one KIND of the frame benchmarks: a short cycle of frames
// that each write benchmark encodes in turn and each read benchmark reads
// from a long run of the cycle repeated.
type workload struct {
	name string
	// n is the number of frames in one cycle.
	n int
	// ours appends frame i%n of the cycle with package frame.
	ours func(b []byte, i int) []byte
	// xnet writes frame i%n of the cycle with x/net's Framer.
	xnet func(fr *http2.Framer, i int) error
}

var (
	payload16k = bytes.Repeat([]byte("h2rpc!"), 16384/6+1)[:16384]
	payload64  = bytes.Repeat([]byte("grpc"), 16)
	pingData   = [8]byte{'b', 'e', 'n', 'c', 'h', 'p', 'n', 'g'}
	// requestBlock is a typical gRPC request header block.
	requestBlock    = grpcRequestBlock()
	controlSettings = []frame.Setting{
		{ID: frame.SettingInitialWindowSize, Val: 1 << 20},
		{ID: frame.SettingMaxConcurrentStreams, Val: 100},
		{ID: frame.SettingMaxHeaderListSize, Val: 16 << 10},
	}
	controlSettingsXnet = []http2.Setting{
		{ID: http2.SettingInitialWindowSize, Val: 1 << 20},
		{ID: http2.SettingMaxConcurrentStreams, Val: 100},
		{ID: http2.SettingMaxHeaderListSize, Val: 16 << 10},
	}
)

// grpcRequestBlock HPACK-encodes, with x/net's encoder, the header fields of
// a typical gRPC unary request.
func grpcRequestBlock() []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/grpc.testing.TestService/UnaryCall"},
		{Name: ":authority", Value: "localhost:50051"},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
		{Name: "grpc-timeout", Value: "1S"},
		{Name: "user-agent", Value: "grpc-go/1.85.0"},
	} {
		if err := enc.WriteField(f); err != nil {
			panic(err)
		}
	}
	return buf.Bytes()
}

var workloads = []workload{
	{
		name: "data16k", n: 1,
		ours: func(b []byte, _ int) []byte { return frame.AppendData(b, 1, false, payload16k) },
		xnet: func(fr *http2.Framer, _ int) error { return fr.WriteData(1, false, payload16k) },
	},
	{
		name: "data64", n: 1,
		ours: func(b []byte, _ int) []byte { return frame.AppendData(b, 1, false, payload64) },
		xnet: func(fr *http2.Framer, _ int) error { return fr.WriteData(1, false, payload64) },
	},
	{
		name: "headers", n: 1,
		ours: func(b []byte, _ int) []byte { return frame.AppendHeaders(b, 1, false, true, requestBlock) },
		xnet: func(fr *http2.Framer, _ int) error {
			return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: requestBlock, EndHeaders: true})
		},
	},
	{
		name: "control", n: 4,
		ours: func(b []byte, i int) []byte {
			switch i % 4 {
			case 0:
				return frame.AppendWindowUpdate(b, 0, 65535)
			case 1:
				return frame.AppendPing(b, false, pingData)
			case 2:
				return frame.AppendSettings(b, controlSettings...)
			}
			return frame.AppendRSTStream(b, 1, frame.ErrCodeCancel)
		},
		xnet: func(fr *http2.Framer, i int) error {
			switch i % 4 {
			case 0:
				return fr.WriteWindowUpdate(0, 65535)
			case 1:
				return fr.WritePing(false, pingData)
			case 2:
				return fr.WriteSettings(controlSettingsXnet...)
			}
			return fr.WriteRSTStream(1, http2.ErrCodeCancel)
		},
	},
}

// run returns the read input of w: its cycle repeated to at least 1 MiB,
// encoded by x/net (so neither reader reads its own encoder's output), and
// how many frames it holds.
func (w *workload) run() ([]byte, int) {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	n := 0
	for buf.Len() < 1<<20 || n%w.n != 0 {
		if err := w.xnet(fr, n); err != nil {
			panic(err)
		}
		n++
	}
	return buf.Bytes(), n
}

// rewinder reads b over and over: when it is exhausted it starts again, so
// a reader sees an endless run of whole frames.
type rewinder struct {
	b   []byte
	off int
}

func (r *rewinder) Read(p []byte) (int, error) {
	if r.off == len(r.b) {
		r.off = 0
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// bufSize is the bufio.Reader size both readers read through, as grpc-go
// wraps its net.Conn (32 KiB).
const bufSize = 32 << 10

// BenchmarkReadFrame reads frames of each KIND from the same in-memory
// bytes through the same bufio.Reader. One op is one frame; SetBytes is the
// average frame size (header included), so MB/s compares directly.
//
// Budget for h2rpc: 0 allocations per frame, no copy beyond bufio's and the
// Reader's buffer fill. x/net is given its best setting, SetReuseFrames, as
// grpc-go uses; neither side decodes HPACK.
func BenchmarkReadFrame(b *testing.B) {
	for i := range workloads {
		w := &workloads[i]
		data, n := w.run()
		b.Run(w.name+"/h2rpc", func(b *testing.B) {
			fr := frame.NewReader(bufio.NewReaderSize(&rewinder{b: data}, bufSize))
			b.SetBytes(int64(len(data) / n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fr.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(w.name+"/xnet", func(b *testing.B) {
			fr := http2.NewFramer(nil, bufio.NewReaderSize(&rewinder{b: data}, bufSize))
			fr.SetReuseFrames()
			b.SetBytes(int64(len(data) / n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fr.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteFrame encodes frames of each KIND. One op is one frame.
// h2rpc appends into one reused buffer (what a connection's writer does
// before its single Write per flush); x/net's Framer builds each frame in its
// own reused buffer and makes one Write to io.Discard per frame.
//
// Budget for h2rpc: 0 allocations per frame.
func BenchmarkWriteFrame(b *testing.B) {
	for i := range workloads {
		w := &workloads[i]
		data, n := w.run()
		size := int64(len(data) / n)
		b.Run(w.name+"/h2rpc", func(b *testing.B) {
			buf := make([]byte, 0, 32<<10)
			b.SetBytes(size)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				buf = w.ours(buf[:0], i)
				i++
			}
		})
		b.Run(w.name+"/xnet", func(b *testing.B) {
			fr := http2.NewFramer(io.Discard, nil)
			b.SetBytes(size)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := w.xnet(fr, i); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
