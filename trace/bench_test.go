package trace_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
	"github.com/h2rpc/h2rpc/trace"
)

// BenchmarkRecordToFile measures what tracing costs a connection per
// frame: the Recorder's work on a batch shaped like a unary gRPC response
// (HEADERS, DATA, trailers HEADERS), written as JSON lines to a file. It
// reports ns/frame; the hook's own cost when tracing is off is a nil
// check.
func BenchmarkRecordToFile(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "bench.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w, err := trace.NewWriter(f, trace.Server, "bench")
	if err != nil {
		b.Fatal(err)
	}
	rec := w.Conn(trace.Server)
	enc := hpack.NewEncoder()
	headers := enc.AppendBlock(nil, hpack.Field{Name: ":status", Value: "200"}, hpack.Field{Name: "content-type", Value: "application/grpc"})
	trailers := enc.AppendBlock(nil, hpack.Field{Name: "grpc-status", Value: "0"})
	msg := make([]byte, 5+100)
	msg[4] = 100
	var batch []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		id := uint32(2*i + 1)
		batch = frame.AppendHeaders(batch[:0], id, false, true, headers)
		batch = frame.AppendData(batch, id, false, msg)
		batch = frame.AppendHeaders(batch, id, true, true, trailers)
		rec.TraceWrite(batch)
	}
	b.StopTimer()
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(3*b.N), "ns/frame")
}
