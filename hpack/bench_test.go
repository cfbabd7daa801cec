package hpack

import (
	"strconv"
	"testing"

	xhpack "golang.org/x/net/http2/hpack"
)

// Budget: 0 allocations per block once the tables are warm, for all three
// blocks of a unary gRPC call, encode and decode.
// BenchmarkEncodeGRPC encodes a unary call's blocks as its two ends do:
// the client's encoder the request, the server's the response and the
// trailers.
func BenchmarkEncodeGRPC(b *testing.B) {
	client, server := NewEncoder(), NewEncoder()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = client.AppendBlock(buf[:0], grpcRequest...)
		buf = server.AppendBlock(buf[:0], grpcResponse...)
		buf = server.AppendBlock(buf[:0], grpcTrailers...)
	}
}

func BenchmarkDecodeGRPC(b *testing.B) {
	enc, dec := NewEncoder(), NewDecoder(Limits{})
	blocks := [][]byte{
		enc.AppendBlock(nil, grpcRequest...),
		enc.AppendBlock(nil, grpcResponse...),
		enc.AppendBlock(nil, grpcTrailers...),
	}
	kinds := []Kind{Request, Response, Trailers}
	for i := range blocks { // warm the decoder's table
		if _, err := dec.Decode(blocks[i], kinds[i], nil); err != nil {
			b.Fatal(err)
		}
		blocks[i] = enc.AppendBlock(nil, []([]Field){grpcRequest, grpcResponse, grpcTrailers}[i]...)
	}
	dst := make([]Field, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		for i := range blocks {
			var err error
			if dst, err = dec.Decode(blocks[i], kinds[i], dst[:0]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkEncodeGRPCTimeout varies grpc-timeout per call, as real clients
// do: each value is a new dynamic table entry.
func BenchmarkEncodeGRPCTimeout(b *testing.B) {
	enc := NewEncoder()
	buf := make([]byte, 0, 512)
	fields := append([]Field(nil), grpcRequest...)
	timeouts := make([]string, 1000)
	for i := range timeouts {
		timeouts[i] = strconv.Itoa(1000+i) + "m"
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		fields[len(fields)-1].Value = timeouts[i%len(timeouts)]
		i++
		buf = enc.AppendBlock(buf[:0], fields...)
	}
}

// BenchmarkXNetDecodeGRPC is the reference: x/net's decoder alone on the
// same blocks, no limits or field checks, a new slice per block.
func BenchmarkXNetDecodeGRPC(b *testing.B) {
	enc := NewEncoder()
	sets := [][]Field{grpcRequest, grpcResponse, grpcTrailers}
	var blocks [][]byte
	xd := xhpack.NewDecoder(DefaultTableSize, nil)
	for _, s := range sets {
		if _, err := xd.DecodeFull(enc.AppendBlock(nil, s...)); err != nil { // warm the table
			b.Fatal(err)
		}
		blocks = append(blocks, enc.AppendBlock(nil, s...))
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, block := range blocks {
			if _, err := xd.DecodeFull(block); err != nil {
				b.Fatal(err)
			}
		}
	}
}
