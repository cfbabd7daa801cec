package hpack

import (
	"slices"
	"testing"
)

// TestAllocsPerBlock: in steady state (the peer's table already holds the
// fields) encoding and decoding a typical gRPC header set allocates nothing.
func TestAllocsPerBlock(t *testing.T) {
	enc, dec := NewEncoder(), NewDecoder(Limits{})
	buf := make([]byte, 0, 512)
	dst := make([]Field, 0, 16)
	sets := []struct {
		kind   Kind
		fields []Field
	}{{Request, grpcRequest}, {Response, grpcResponse}, {Trailers, grpcTrailers}}
	for _, s := range sets { // warm the tables
		if _, err := dec.Decode(enc.AppendBlock(buf[:0], s.fields...), s.kind, dst[:0]); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range sets {
		encAllocs := testing.AllocsPerRun(100, func() {
			buf = enc.AppendBlock(buf[:0], s.fields...)
		})
		block := enc.AppendBlock(nil, s.fields...)
		var err error
		decAllocs := testing.AllocsPerRun(100, func() {
			dst, err = dec.Decode(block, s.kind, dst[:0])
		})
		if err != nil || !slices.Equal(dst, s.fields) {
			t.Fatalf("%v: %v, %v", s.kind, dst, err)
		}
		if encAllocs != 0 || decAllocs != 0 {
			t.Errorf("%v block: %.1f allocs to encode, %.1f to decode; want 0", s.kind, encAllocs, decAllocs)
		}
	}
}
