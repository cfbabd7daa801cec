package hpack

import (
	"errors"
	"slices"
	"strings"
	"testing"

	xhpack "golang.org/x/net/http2/hpack"
)

// fuzzLimits are small so that the fuzzer reaches every limit.
var fuzzLimits = Limits{MaxHeaderListSize: 600, MaxBlockSize: 4096}

// FuzzDecodeDifferential feeds the same blocks to our Decoder and to x/net's
// and checks that they agree: a compression error on our side is an error
// on theirs and the other way round, an accepted block has the same fields,
// and a block we reject at stream level leaves both tables in step (the next
// block still agrees).
func FuzzDecodeDifferential(f *testing.F) {
	enc := NewEncoder()
	seeds := [][]byte{
		enc.AppendBlock(nil, grpcRequest...),
		enc.AppendBlock(nil, grpcRequest...),
		enc.AppendBlock(nil, grpcResponse...),
		enc.AppendBlock(nil, grpcTrailers...),
		bomb(100, 50),
		{0x3f, 0xe1, 0x1f, 0x88},
		{0x20, 0x88, 0x20},
		{0x40, 0x01, 'a', 0x01, 'b', 0x20},
	}
	for i, s := range seeds {
		f.Add(byte(i), s)
	}
	f.Fuzz(func(t *testing.T, ctl byte, data []byte) {
		ours := NewDecoder(fuzzLimits)
		var ref []Field
		xd := xhpack.NewDecoder(DefaultTableSize, func(f Field) { ref = append(ref, f) })

		// Up to three blocks, cut where ctl says.
		cut1 := min(int(ctl&0x0f)*len(data)/15, len(data))
		cut2 := min(cut1+int(ctl>>4)*(len(data)-cut1)/15, len(data))
		// The second again at the end: a block decoded twice may come from
		// the Decoder's cache the second time.
		blocks := [][]byte{data[:cut1], data[cut1:cut2], data[cut2:], data[cut1:cut2]}
		var dst []Field
		for i, block := range blocks {
			kind := Kind((int(ctl) + i) % 3)
			ref = ref[:0]
			_, xerr := xd.Write(block)
			if xerr == nil {
				xerr = xd.Close()
			} else {
				xd.Close()
			}
			var err error
			dst, err = ours.Decode(block, kind, dst[:0])
			switch {
			case errors.Is(err, ErrCompression):
				if xerr == nil {
					t.Fatalf("block %d: we report %v, x/net decoded %v", i, err, ref)
				}
				return // the connection would end here
			case xerr != nil:
				// x/net failed; we may have stopped decoding strings
				// after a stream-level error and so not noticed.
				if err == nil {
					t.Fatalf("block %d: x/net reports %v, we decoded %v", i, xerr, dst)
				}
				return
			case err == nil:
				if !slices.Equal(dst, ref) {
					t.Fatalf("block %d: we decoded %v, x/net %v", i, dst, ref)
				}
			case errors.Is(err, ErrHeaderListTooLarge):
				if listSize(ref) <= uint64(fuzzLimits.MaxHeaderListSize) {
					t.Fatalf("block %d: list too large, but x/net's list is %d bytes", i, listSize(ref))
				}
				fallthrough
			case errors.Is(err, ErrMalformed):
				if len(dst) > len(ref) || !slices.Equal(dst, ref[:len(dst)]) {
					t.Fatalf("block %d (%v): we stored %v, not a prefix of x/net's %v", i, err, dst, ref)
				}
			default:
				t.Fatalf("block %d: unexpected error %v", i, err)
			}
			if listSize(dst) > uint64(fuzzLimits.MaxHeaderListSize) {
				t.Fatalf("block %d: stored %d bytes of fields, over the limit", i, listSize(dst))
			}
		}
	})
}

func listSize(fields []Field) uint64 {
	var n uint64
	for _, f := range fields {
		n += uint64(f.Size())
	}
	return n
}

// FuzzRoundTrip encodes fields made from the fuzzer's bytes with our Encoder,
// checks x/net's decoder reads them back exactly, and that our Decoder reads
// them back exactly or rejects them at stream level with the table in step.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint16(4096), "content-type", "application/grpc", "grpc-timeout", "1S", true)
	f.Add(uint16(0), ":path", "", "X-Upper", " padded ", false)
	f.Add(uint16(100), "te", "trailers", "a", "\x00\r\n", true)
	big := strings.Repeat("b", 16000) // four of these make a block over 64 KiB
	f.Add(uint16(4096), big, big, big+"x", big+"y", false)
	huge := strings.Repeat("h", 20000) // longer than the list limit: a stream error
	f.Add(uint16(4096), "x", huge, "y", "z", false)
	f.Fuzz(func(t *testing.T, size uint16, n1, v1, n2, v2 string, sensitive bool) {
		enc := NewEncoder()
		ours := NewDecoder(Limits{})
		xd := xhpack.NewDecoder(DefaultTableSize, nil)
		enc.SetMaxTableSize(uint32(size))
		ours.SetMaxTableSize(uint32(size))
		fields := []Field{{Name: n1, Value: v1}, {Name: n2, Value: v2, Sensitive: sensitive}, {Name: n1, Value: v1}}
		for round := 0; round < 2; round++ {
			block := enc.AppendBlock(nil, fields...)
			ref, err := xd.DecodeFull(block)
			if err != nil || !slices.Equal(ref, fields) {
				t.Fatalf("x/net decoded %v, %v; want %v", ref, err, fields)
			}
			got, err := ours.Decode(block, Trailers, nil)
			switch {
			case err == nil:
				if !slices.Equal(got, fields) {
					t.Fatalf("decoded %v, want %v", got, fields)
				}
			case errors.Is(err, ErrMalformed), errors.Is(err, ErrHeaderListTooLarge):
			case errors.Is(err, ErrBlockTooLarge):
				if len(block) <= DefaultMaxBlockSize {
					t.Fatalf("block of %d bytes reported too large", len(block))
				}
				return
			default:
				t.Fatalf("Decode: %v", err)
			}
		}
		// Whatever happened above, the tables are in step.
		block := enc.AppendBlock(nil, grpcTrailers...)
		if got, err := ours.Decode(block, Trailers, nil); err != nil || !slices.Equal(got, grpcTrailers) {
			t.Fatalf("after the fuzzed blocks: %v, %v", got, err)
		}
	})
}
