package hpack

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	xhpack "golang.org/x/net/http2/hpack"
)

// grpcRequest and friends are the header sets of a typical unary gRPC call.
var (
	grpcRequest = []Field{
		f(":method", "POST"), f(":scheme", "http"), f(":path", "/grpc.testing.TestService/UnaryCall"),
		f(":authority", "localhost:50051"), f("content-type", "application/grpc"), f("te", "trailers"),
		f("user-agent", "grpc-go/1.85.0"), f("grpc-accept-encoding", "gzip"), f("grpc-timeout", "998m"),
	}
	grpcResponse = []Field{f(":status", "200"), f("content-type", "application/grpc")}
	grpcTrailers = []Field{f("grpc-status", "0"), f("grpc-message", "")}
)

// xDecode decodes a block with x/net's own decoder, the reference.
func xDecode(t testing.TB, xd *xhpack.Decoder, block []byte) []Field {
	t.Helper()
	got, err := xd.DecodeFull(block)
	if err != nil {
		t.Fatalf("x/net DecodeFull: %v", err)
	}
	return got
}

func TestRoundTrip(t *testing.T) {
	enc, dec := NewEncoder(), NewDecoder(Limits{})
	xd := xhpack.NewDecoder(4096, nil)
	secret := Field{Name: "authorization", Value: "Bearer s3cr3t", Sensitive: true}
	blocks := []struct {
		kind   Kind
		fields []Field
	}{
		{Request, grpcRequest},
		{Response, grpcResponse},
		{Trailers, grpcTrailers},
		{Request, grpcRequest}, // now mostly from the dynamic table
		{Request, with(grpcRequest, secret)},
		{Request, with(grpcRequest[:8], f("grpc-timeout", "997m"), f("x-long", strings.Repeat("long value ", 500)+"end"))},
		{Trailers, nil},
		{Response, grpcResponse},
	}
	var dst []Field
	for i, b := range blocks {
		block := enc.AppendBlock(nil, b.fields...)
		var err error
		dst, err = dec.Decode(block, b.kind, dst[:0])
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if !slices.Equal(dst, b.fields) {
			t.Fatalf("block %d: got %v, want %v", i, dst, b.fields)
		}
		// Differential: x/net's decoder, fed the same blocks, agrees.
		if ref := xDecode(t, xd, block); !slices.Equal(ref, dst) {
			t.Fatalf("block %d: x/net decoded %v, we decoded %v", i, ref, dst)
		}
	}
	// The second copy of the request headers is mostly table references.
	a, b := enc.AppendBlock(nil, grpcRequest...), enc.AppendBlock(nil, grpcRequest...)
	if len(b) != len(a) || len(a) > len(grpcRequest) {
		t.Errorf("repeated gRPC request block is %d bytes, want one byte per field (%d)", len(a), len(grpcRequest))
	}
}

func TestAppendBlockAppends(t *testing.T) {
	enc := NewEncoder()
	prefix := []byte("frame header")
	out := enc.AppendBlock(append([]byte(nil), prefix...), grpcResponse...)
	if !bytes.HasPrefix(out, prefix) {
		t.Fatalf("AppendBlock clobbered dst: %q", out)
	}
	got, err := NewDecoder(Limits{}).Decode(out[len(prefix):], Response, nil)
	if err != nil || !slices.Equal(got, grpcResponse) {
		t.Fatalf("Decode = %v, %v", got, err)
	}
}

// TestTableSizeUpdate checks the bytes RFC 7541 §4.2 and §6.3 require after
// the peer's SETTINGS_HEADER_TABLE_SIZE changes.
func TestTableSizeUpdate(t *testing.T) {
	status200 := []byte{0x88} // static index 8
	tests := []struct {
		name  string
		sizes []uint32 // SetMaxTableSize calls between two blocks
		want  []byte   // the next block's prefix before 0x88
	}{
		{"unchanged 4096 emits nothing", []uint32{4096}, nil},
		{"larger than 4096 is capped, emits nothing", []uint32{65536}, nil},
		{"to 0", []uint32{0}, []byte{0x20}},
		{"to 1000", []uint32{1000}, []byte{0x3f, 0xc9, 0x07}}, // 31 + 969: 969 = 0x3c9 → 0xc9 0x07
		{"down then up: smallest then final", []uint32{100, 4096}, []byte{0x3f, 0x45, 0x3f, 0xe1, 0x1f}},
		{"down twice: smallest only is final", []uint32{2000, 100}, []byte{0x3f, 0x45}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := NewEncoder()
			enc.AppendBlock(nil, grpcRequest...) // fill the table
			for _, n := range tt.sizes {
				enc.SetMaxTableSize(n)
			}
			got := enc.AppendBlock(nil, grpcResponse[0])
			want := append(append([]byte(nil), tt.want...), status200...)
			if !bytes.Equal(got, want) {
				t.Fatalf("block = % x, want % x", got, want)
			}
			// Only one update per change: the block after has none.
			if got := enc.AppendBlock(nil, grpcResponse[0]); !bytes.Equal(got, status200) {
				t.Fatalf("following block = % x, want % x", got, status200)
			}
		})
	}
}

// TestTableSizeUpdateEmptyBlock: the update opens the next block even when it
// has no fields (an empty trailer section), and is not repeated after.
func TestTableSizeUpdateEmptyBlock(t *testing.T) {
	enc := NewEncoder()
	enc.SetMaxTableSize(0)
	if got := enc.AppendBlock(nil); !bytes.Equal(got, []byte{0x20}) {
		t.Fatalf("empty block = % x, want 20", got)
	}
	if got := enc.AppendBlock(nil, grpcResponse[0]); !bytes.Equal(got, []byte{0x88}) {
		t.Fatalf("next block = % x, want 88", got)
	}
}

// TestTableSizeInSync runs both ends through size changes and checks the
// blocks still decode, with x/net's decoder as a second opinion.
func TestTableSizeInSync(t *testing.T) {
	enc, dec := NewEncoder(), NewDecoder(Limits{})
	xd := xhpack.NewDecoder(4096, nil)
	for i, n := range []uint32{4096, 0, 300, 4096, 100, 100, 2048, 1 << 20} {
		enc.SetMaxTableSize(n)
		fields := with(grpcRequest, f("x-seq", fmt.Sprint(i)))
		block := enc.AppendBlock(nil, fields...)
		got, err := dec.Decode(block, Request, nil)
		if err != nil || !slices.Equal(got, fields) {
			t.Fatalf("size %d: %v, %v", n, got, err)
		}
		if ref := xDecode(t, xd, block); !slices.Equal(ref, fields) {
			t.Fatalf("size %d: x/net decoded %v", n, ref)
		}
		if want := min(n, 4096); enc.TableSize() != want {
			t.Fatalf("TableSize = %d, want %d", enc.TableSize(), want)
		}
	}
}

// TestReducedTableSizeNeedsUpdate: RFC 9113 §4.3.1, "An endpoint MUST treat
// a field block that follows an acknowledgment of the reduction to the
// maximum dynamic table size as a connection error (Section 5.4.1) of type
// COMPRESSION_ERROR if it does not start with a conformant Dynamic Table
// Size Update instruction."
func TestReducedTableSizeNeedsUpdate(t *testing.T) {
	t.Run("reduced, no update", func(t *testing.T) {
		dec := NewDecoder(Limits{})
		dec.SetMaxTableSize(100)
		if _, err := dec.Decode([]byte{0x88}, Response, nil); !errors.Is(err, ErrCompression) {
			t.Fatalf("err = %v, want ErrCompression", err)
		}
	})
	t.Run("reduced, update too large", func(t *testing.T) {
		dec := NewDecoder(Limits{})
		dec.SetMaxTableSize(100)
		if _, err := dec.Decode([]byte{0x3f, 0x46, 0x88}, Response, nil); !errors.Is(err, ErrCompression) { // 101
			t.Fatalf("err = %v, want ErrCompression", err)
		}
	})
	t.Run("reduced, conformant update, then none needed", func(t *testing.T) {
		dec := NewDecoder(Limits{})
		dec.SetMaxTableSize(100)
		for i, block := range [][]byte{{0x3f, 0x45, 0x88}, {0x88}} {
			if got, err := dec.Decode(block, Response, nil); err != nil || !slices.Equal(got, okResponse) {
				t.Fatalf("block %d: %v, %v", i, got, err)
			}
		}
	})
	t.Run("raised above the declared size: no update needed", func(t *testing.T) {
		dec := NewDecoder(Limits{MaxTableSize: 8192})
		dec.SetMaxTableSize(8192)
		if _, err := dec.Decode([]byte{0x88}, Response, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reduced to the size the peer already declared: no update needed", func(t *testing.T) {
		dec := NewDecoder(Limits{})
		if _, err := dec.Decode([]byte{0x3f, 0xe1, 0x0f, 0x88}, Response, nil); err != nil { // declares 2048
			t.Fatal(err)
		}
		dec.SetMaxTableSize(2048)
		if _, err := dec.Decode([]byte{0x88}, Response, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("our encoder and decoder agree", func(t *testing.T) {
		enc, dec := NewEncoder(), NewDecoder(Limits{})
		for _, n := range []uint32{0, 4096, 100, 100, 3000} {
			enc.SetMaxTableSize(n) // the peer acknowledged our SETTINGS...
			dec.SetMaxTableSize(n) // ...and we see its acknowledgement
			fields := with(grpcRequest, f("x-size", fmt.Sprint(n)))
			if got, err := dec.Decode(enc.AppendBlock(nil, fields...), Request, nil); err != nil || !slices.Equal(got, fields) {
				t.Fatalf("size %d: %v, %v", n, got, err)
			}
		}
	})
	t.Run("before the acknowledgement, the advertised larger size is accepted", func(t *testing.T) {
		dec := NewDecoder(Limits{MaxTableSize: 8192})
		if _, err := dec.Decode([]byte{0x3f, 0xe1, 0x3f, 0x88}, Response, nil); err != nil { // 8192
			t.Fatal(err)
		}
	})
}

func TestDecoderTableSizeLimit(t *testing.T) {
	// RFC 7541 §6.3: "The new maximum size MUST be lower than or equal to
	// the limit determined by the protocol using HPACK. A value that
	// exceeds this limit MUST be treated as a decoding error."
	dec := NewDecoder(Limits{MaxTableSize: 4096})
	block := []byte{0x3f, 0xe2, 0x1f, 0x88} // size update to 4097, :status 200
	if _, err := dec.Decode(block, Response, nil); !errors.Is(err, ErrCompression) {
		t.Fatalf("update to 4097: err = %v, want ErrCompression", err)
	}
	dec = NewDecoder(Limits{})
	dec.SetMaxTableSize(100)
	block = []byte{0x3f, 0x46, 0x88} // size update to 101
	if _, err := dec.Decode(block, Response, nil); !errors.Is(err, ErrCompression) {
		t.Fatalf("update to 101 after SetMaxTableSize(100): err = %v, want ErrCompression", err)
	}
	block = []byte{0x3f, 0x45, 0x88} // size update to 100
	if got, err := NewDecoderWith(100).Decode(block, Response, nil); err != nil || !slices.Equal(got, okResponse) {
		t.Fatalf("update to 100: %v, %v", got, err)
	}
}

// NewDecoderWith returns a decoder whose table limit is n.
func NewDecoderWith(n uint32) *Decoder {
	d := NewDecoder(Limits{})
	d.SetMaxTableSize(n)
	return d
}

func TestCompressionErrors(t *testing.T) {
	tests := []struct {
		name  string
		block []byte
	}{
		{"index 0 (RFC 7541 §6.1)", []byte{0x80}},
		{"index past the tables (RFC 7541 §2.3.3)", []byte{0xbe}},
		{"literal name index past the tables", []byte{0x7f, 0x20, 0x01, 'x'}},
		{"truncated integer", []byte{0xff}},
		{"truncated string", []byte{0x40, 0x05, 'a', 'b'}},
		{"invalid Huffman (RFC 7541 §5.2)", []byte{0x40, 0x81, 0xff, 0x01, 'v'}},
		{"integer overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
		{"size update after a field, table non-empty (RFC 7541 §4.2)", []byte{0x40, 0x01, 'a', 0x01, 'b', 0x20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := NewDecoder(Limits{MaxBlockSize: 1 << 20})
			_, err := dec.Decode(tt.block, Trailers, nil)
			var ce *CompressionError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCompression) {
				t.Fatalf("err = %v, want *CompressionError", err)
			}
			if errors.Is(err, ErrMalformed) || errors.Is(err, ErrHeaderListTooLarge) {
				t.Fatalf("err %v matches a stream-level error too", err)
			}
			if !strings.HasPrefix(err.Error(), "hpack: compression error: ") || ce.Unwrap() == nil {
				t.Fatalf("err = %q, unwraps to %v", err, ce.Unwrap())
			}
		})
	}
}

// TestHeaderListLimit: the limit is enforced while decoding, the first
// field past it is not stored, and the table stays in sync for the next
// block on the same decoder.
func TestHeaderListLimit(t *testing.T) {
	const limit = 200
	enc, dec := NewEncoder(), NewDecoder(Limits{MaxHeaderListSize: limit})
	// 3 fields of 32+1+59 = 92 bytes: the third crosses 200.
	v := strings.Repeat("v", 59)
	fields := []Field{f("a", v), f("b", v), f("c", v), f("d", "after the limit, still indexed")}
	block := enc.AppendBlock(nil, fields...)
	got, err := dec.Decode(block, Trailers, nil)
	if !errors.Is(err, ErrHeaderListTooLarge) {
		t.Fatalf("err = %v, want ErrHeaderListTooLarge", err)
	}
	if len(got) != 2 {
		t.Fatalf("stored %d fields, want the 2 under the limit", len(got))
	}
	// The next block refers to entries the rejected block added.
	block = enc.AppendBlock(nil, fields[3], fields[2])
	if len(block) != 2 {
		t.Fatalf("next block is % x, want two indexed references", block)
	}
	got, err = dec.Decode(block, Trailers, nil)
	if err != nil || !slices.Equal(got, []Field{fields[3], fields[2]}) {
		t.Fatalf("next block: %v, %v", got, err)
	}
	// Exactly at the limit is fine.
	exact := []Field{f("a", strings.Repeat("v", limit-33))}
	if _, err := NewDecoder(Limits{MaxHeaderListSize: limit}).Decode(NewEncoder().AppendBlock(nil, exact...), Trailers, nil); err != nil {
		t.Fatalf("list of exactly the limit: %v", err)
	}
}

// TestLongStringIsStreamLevel: a name or value longer than the whole header
// list may be is decoded, not refused in the middle of the block: the list
// is over the limit (a stream error), the dynamic table stays in step with
// the peer's encoder, and the next block decodes. Only a block past
// MaxBlockSize is beyond repair.
func TestLongStringIsStreamLevel(t *testing.T) {
	long := strings.Repeat("v", 20000) // over the 16 KiB list limit and the 4 KiB table
	for _, tc := range []struct {
		name   string
		fields []Field
	}{
		{"indexed value", []Field{f("x-long", long), f("x-after", "kept in the table")}},
		{"never-indexed value", []Field{f("x-long", long), {Name: "x-secret", Value: long, Sensitive: true}, f("x-after", "kept in the table")}},
		{"long name", []Field{f(strings.Repeat("n", 20000), "v"), f("x-after", "kept in the table")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, dec := NewEncoder(), NewDecoder(Limits{})
			block := enc.AppendBlock(nil, tc.fields...)
			if _, err := dec.Decode(block, Trailers, nil); !errors.Is(err, ErrHeaderListTooLarge) || errors.Is(err, ErrCompression) {
				t.Fatalf("%d-byte block: err = %v, want ErrHeaderListTooLarge only", len(block), err)
			}
			// The encoder indexed x-after; the next block refers to it.
			after := tc.fields[len(tc.fields)-1]
			next := enc.AppendBlock(nil, after)
			if len(next) != 1 {
				t.Fatalf("next block is % x, want one indexed reference", next)
			}
			if got, err := dec.Decode(next, Trailers, nil); err != nil || !slices.Equal(got, []Field{after}) {
				t.Fatalf("next block: %v, %v", got, err)
			}
		})
	}
	// A block past MaxBlockSize is not decoded at all.
	block := NewEncoder().AppendBlock(nil, f("x-long", strings.Repeat("v", 100000)))
	if _, err := NewDecoder(Limits{}).Decode(block, Trailers, nil); !errors.Is(err, ErrBlockTooLarge) {
		t.Fatalf("%d-byte block: err = %v, want ErrBlockTooLarge", len(block), err)
	}
}

// bomb returns a block that adds one entry of about entrySize bytes to the
// dynamic table and refers to it refs times: RFC 7541 §7.3's "HPACK bomb".
func bomb(entrySize, refs int) []byte {
	b := []byte{0x40, 0x01, 'x'} // literal with incremental indexing, new name "x"
	b = appendInt(b, 0x00, 7, entrySize)
	b = append(b, bytes.Repeat([]byte{'y'}, entrySize)...)
	return append(b, bytes.Repeat([]byte{0xbe}, refs)...) // index 62: the new entry
}

func appendInt(b []byte, first byte, prefix uint, v int) []byte {
	max := 1<<prefix - 1
	if v < max {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(max))
	for v -= max; v >= 128; v >>= 7 {
		b = append(b, byte(v)|0x80)
	}
	return append(b, byte(v))
}

// TestHPACKBomb: a 64 KiB block that would decode to 4000 × 60,000 bytes
// (240 MB) costs bounded memory and is rejected as too large, with the table
// still in sync.
func TestHPACKBomb(t *testing.T) {
	const entry, refs, runs = 4000, 60000, 20
	block := bomb(entry, refs)
	dec := NewDecoder(Limits{})
	dst := make([]Field, 0, 16)
	var got []Field
	var err error
	// Average over several runs (each adds the entry again) so that
	// allocations by anything else in the process do not count.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		got, err = dec.Decode(block, Trailers, dst[:0])
	}
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrHeaderListTooLarge) {
		t.Fatalf("err = %v, want ErrHeaderListTooLarge", err)
	}
	if max := DefaultMaxHeaderListSize / (entry + 33); len(got) > max {
		t.Fatalf("stored %d fields, want at most %d", len(got), max)
	}
	// The bound: the entry's string once, plus the list limit.
	const bound = entry + DefaultMaxHeaderListSize
	alloc := (after.TotalAlloc - before.TotalAlloc) / runs
	if alloc > bound {
		t.Fatalf("decoding the bomb allocated %d bytes per block, want at most %d", alloc, bound)
	}
	t.Logf("a %d-byte block that expands to %d bytes: %d fields stored, %d bytes allocated per block", len(block), entry*refs, len(got), alloc)

	// The entry is in the table: a block referring to it decodes.
	got, err = dec.Decode([]byte{0xbe}, Trailers, nil)
	if err != nil || len(got) != 1 || len(got[0].Value) != entry {
		t.Fatalf("reference after the bomb: %d fields, %v", len(got), err)
	}
}

func TestDecodeAppendsAndCopies(t *testing.T) {
	enc, dec := NewEncoder(), NewDecoder(Limits{})
	block := enc.AppendBlock(nil, f("x-new", "literal value"), f("grpc-status", "0"))
	dst := []Field{f("kept", "1")}
	got, err := dec.Decode(block, Trailers, dst)
	if err != nil || len(got) != 3 || got[0] != dst[0] {
		t.Fatalf("Decode = %v, %v; want dst's field then the block's", got, err)
	}
	for i := range block { // the fields must not alias the block
		block[i] = 'Z'
	}
	if got[1] != f("x-new", "literal value") || got[2] != f("grpc-status", "0") {
		t.Fatalf("fields changed with the block: %v", got)
	}
}

func TestDecodeBlockTooLarge(t *testing.T) {
	dec := NewDecoder(Limits{MaxBlockSize: 10})
	if _, err := dec.Decode(make([]byte, 11), Trailers, nil); !errors.Is(err, ErrBlockTooLarge) {
		t.Fatalf("err = %v, want ErrBlockTooLarge", err)
	}
	if got := dec.Limits(); got.MaxBlockSize != 10 || got.MaxTableSize != DefaultTableSize ||
		got.MaxHeaderListSize != DefaultMaxHeaderListSize || got.MaxContinuations != DefaultMaxContinuations {
		t.Fatalf("Limits = %+v, want defaults filled in", got)
	}
}

// TestMalformedStopsStoring: after the first violation nothing more is
// stored, even valid fields, and a later list-size overflow does not
// replace the first error.
func TestMalformedStopsStoring(t *testing.T) {
	enc, dec := NewEncoder(), NewDecoder(Limits{MaxHeaderListSize: 200})
	block := enc.AppendBlock(nil, f("ok", "1"), f("Bad", "2"), f("ok2", "3"), f("big", strings.Repeat("v", 300)))
	got, err := dec.Decode(block, Trailers, nil)
	var me *MalformedError
	if !errors.As(err, &me) || !strings.Contains(me.Reason, "uppercase") {
		t.Fatalf("err = %v, want the uppercase violation", err)
	}
	if len(got) != 1 || got[0] != f("ok", "1") {
		t.Fatalf("stored %v, want only the field before the violation", got)
	}
}

// TestDecodeXNetEncoder: blocks from x/net's own encoder (what grpc-go and
// net/http peers send) decode, through a table size reduction.
func TestDecodeXNetEncoder(t *testing.T) {
	var buf bytes.Buffer
	peer := xhpack.NewEncoder(&buf)
	dec := NewDecoder(Limits{})
	encode := func(fields []Field) []byte {
		buf.Reset()
		for _, f := range fields {
			if err := peer.WriteField(f); err != nil {
				t.Fatal(err)
			}
		}
		return append([]byte(nil), buf.Bytes()...)
	}
	for i, size := range []uint32{4096, 1024, 1024, 0, 4096} {
		if i > 0 {
			peer.SetMaxDynamicTableSize(size) // the peer acknowledges our SETTINGS...
			dec.SetMaxTableSize(size)         // ...and we see the acknowledgement
		}
		for _, set := range []struct {
			kind   Kind
			fields []Field
		}{{Request, grpcRequest}, {Response, grpcResponse}, {Trailers, grpcTrailers}} {
			got, err := dec.Decode(encode(set.fields), set.kind, nil)
			if err != nil || !slices.Equal(got, set.fields) {
				t.Fatalf("size %d, %v: %v, %v", size, set.kind, got, err)
			}
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Request: "request", Response: "response", Trailers: "trailers", 9: "unknown kind"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
