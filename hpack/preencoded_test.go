package hpack

import (
	"bytes"
	"slices"
	"testing"

	xhpack "golang.org/x/net/http2/hpack"
)

var (
	grpcRequestPrefix  = preencode(f(":method", "POST"), f(":scheme", "http"))
	grpcRequestMiddle  = preencode(f("content-type", "application/grpc"), f("te", "trailers"))
	grpcResponseHeader = preencode(grpcResponse...)
)

// appendGRPCRequest builds grpcRequest from runs and table-encoded fields.
func appendGRPCRequest(enc *Encoder, dst []byte) []byte {
	dst = enc.startBlock(dst)
	dst = grpcRequestPrefix.Append(dst)
	dst = enc.appendFields(dst, grpcRequest[2:4]...) // :path, :authority
	dst = grpcRequestMiddle.Append(dst)
	return enc.appendFields(dst, grpcRequest[6:]...)
}

func TestPreencoded(t *testing.T) {
	// The exact bytes: :method POST is static index 3, :scheme http index 6;
	// content-type (static name 31) and te (new name) are literals without
	// indexing (0000xxxx).
	if got, want := grpcRequestPrefix.b, []byte{0x83, 0x86}; !bytes.Equal(got, want) {
		t.Errorf("prefix = % x, want % x", got, want)
	}
	if got := grpcRequestMiddle.b; got[0] != 0x0f || got[1] != 0x10 {
		t.Errorf("content-type starts % x, want 0f 10 (literal without indexing, name index 31)", got[:2])
	}
	if !slices.Equal(grpcResponseHeader.Fields(), grpcResponse) {
		t.Errorf("Fields = %v", grpcResponseHeader.Fields())
	}
	// A run leaves the decoder's dynamic table empty: index 62 is invalid.
	for _, p := range []*preencoded{grpcRequestPrefix, grpcRequestMiddle, grpcResponseHeader, preencode(Field{Name: "x", Value: "y", Sensitive: true})} {
		xd := xhpack.NewDecoder(DefaultTableSize, nil)
		got, err := xd.DecodeFull(p.b)
		if err != nil || !slices.Equal(got, p.fields) {
			t.Fatalf("x/net decoded %v, %v; want %v", got, err, p.fields)
		}
		if _, err := xd.DecodeFull([]byte{0xbe}); err == nil {
			t.Fatalf("run % x added to the dynamic table", p.b)
		}
	}
}

func TestPreencodedInBlocks(t *testing.T) {
	enc, dec := NewEncoder(), NewDecoder(Limits{})
	for i, size := range []uint32{4096, 0, 4096, 200} {
		enc.SetMaxTableSize(size)
		dec.SetMaxTableSize(size)
		block := appendGRPCRequest(enc, nil)
		got, err := dec.Decode(block, Request, nil)
		if err != nil || !slices.Equal(got, grpcRequest) {
			t.Fatalf("request %d: %v, %v", i, got, err)
		}
		block = grpcResponseHeader.Append(enc.startBlock(nil))
		got, err = dec.Decode(block, Response, nil)
		if err != nil || !slices.Equal(got, grpcResponse) {
			t.Fatalf("response %d: %v, %v", i, got, err)
		}
	}
}

// TestPreencodedSize records the wire cost of runs against warm table
// references, the trade-off the doc describes.
func TestPreencodedSize(t *testing.T) {
	enc := NewEncoder()
	enc.AppendBlock(nil, grpcRequest...)
	table := len(enc.AppendBlock(nil, grpcRequest...))
	enc = NewEncoder()
	appendGRPCRequest(enc, nil)
	runs := len(appendGRPCRequest(enc, nil))
	if table != len(grpcRequest) || runs <= table {
		t.Fatalf("warm request block: %d bytes from the table, %d with runs", table, runs)
	}
	t.Logf("warm gRPC request block: %d bytes from the dynamic table, %d with pre-encoded runs", table, runs)
}

func TestAppendFieldsWithoutStartBlockPanics(t *testing.T) {
	enc := NewEncoder()
	enc.SetMaxTableSize(0)
	defer func() {
		if recover() == nil {
			t.Fatal("appendFields with a pending size update did not panic")
		}
	}()
	enc.appendFields(nil, grpcResponse...)
}

func TestAllocsPreencoded(t *testing.T) {
	enc := NewEncoder()
	buf := appendGRPCRequest(enc, make([]byte, 0, 512))
	if n := testing.AllocsPerRun(100, func() { buf = appendGRPCRequest(enc, buf[:0]) }); n != 0 {
		t.Errorf("%.1f allocs per request block, want 0", n)
	}
}

func BenchmarkEncodeGRPCPreencoded(b *testing.B) {
	enc := NewEncoder()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendGRPCRequest(enc, buf[:0])
		buf = grpcResponseHeader.Append(enc.startBlock(buf[:0]))
		buf = enc.AppendBlock(buf[:0], grpcTrailers...)
	}
}
