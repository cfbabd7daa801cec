package hpack

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	xhpack "golang.org/x/net/http2/hpack"
)

// TestBlockCache: repeated blocks come from the cache once they are all
// indexed, and every block, cached or not, decodes right on a decoder that
// saw every block in order, whatever the table did in between (new fields
// that shift the indices, evictions, size changes).
func TestBlockCache(t *testing.T) {
	request := []Field{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/pkg.Svc/Method"}, {Name: ":authority", Value: "example:443"},
		{Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"},
	}
	e := NewEncoder()
	first := e.AppendBlock(nil, request...)
	second := e.AppendBlock(nil, request...)
	if !allIndexed(second) || allIndexed(first) {
		t.Fatalf("blocks %x then %x: want literals first, then all indexed", first, second)
	}
	if e.cache.entries == nil || !bytes.Equal(e.cache.last().b, second) {
		t.Fatal("the all-indexed block was not cached")
	}
	// White box: a cache hit copies the cached bytes.
	e.cache.last().b[0] ^= 0x01
	if third := e.AppendBlock(nil, request...); bytes.Equal(third, second) {
		t.Fatal("the third identical block was encoded again, not taken from the cache")
	}
	e.cache.last().b[0] ^= 0x01

	// Random sequences, decoded as they go.
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 200 {
		e := NewEncoder()
		var got, ours []Field
		dec := xhpack.NewDecoder(DefaultTableSize, func(f xhpack.HeaderField) { got = append(got, f) })
		our := NewDecoder(Limits{}) // with its own cache of decoded blocks
		blocks := [][]Field{request, request[:3], {{Name: "grpc-status", Value: "0"}}}
		for step := range 60 {
			var fields []Field
			switch r := rng.IntN(10); {
			case r < 6:
				fields = blocks[rng.IntN(len(blocks))]
			case r < 9:
				// a new value: inserts, shifting every dynamic index
				fields = append(append([]Field(nil), request[:3]...), Field{Name: "x-n", Value: string(rune('a' + rng.IntN(26)))})
			default:
				// One size change per block: x/net's decoder refuses a
				// second update in a block once its table holds entries.
				e.SetMaxTableSize(uint32(rng.IntN(5)) * 1024)
				fields = request
			}
			block := e.AppendBlock(nil, fields...)
			got = got[:0]
			if _, err := dec.Write(block); err != nil {
				t.Fatalf("run %d step %d: decoding %x: %v", run, step, block, err)
			}
			if err := dec.Close(); err != nil {
				t.Fatalf("run %d step %d: %v", run, step, err)
			}
			if diff := cmp.Diff(fields, got); diff != "" {
				t.Fatalf("run %d step %d: block %x decodes differently (-sent +decoded):\n%s", run, step, block, diff)
			}
			kind := Request
			if fields[0].Name[0] != ':' {
				kind = Trailers
			}
			var err error
			if ours, err = our.Decode(block, kind, ours[:0]); err != nil {
				t.Fatalf("run %d step %d: Decoder: %v", run, step, err)
			}
			if diff := cmp.Diff(fields, ours); diff != "" {
				t.Fatalf("run %d step %d: block %x decodes differently in Decoder (-sent +decoded):\n%s", run, step, block, diff)
			}
		}
	}
}

// TestDecodedBlockCache: a repeated all-indexed block is taken from the
// Decoder's cache, only for the kind it was checked as and only while the
// dynamic table stands.
func TestDecodedBlockCache(t *testing.T) {
	e, d := NewEncoder(), NewDecoder(Limits{})
	first := e.AppendBlock(nil, grpcRequest...)
	if _, err := d.Decode(first, Request, nil); err != nil {
		t.Fatal(err)
	}
	if d.cache.entries != nil {
		t.Fatal("a block with literals was cached")
	}
	warm := e.AppendBlock(nil, grpcRequest...)
	got, err := d.Decode(warm, Request, nil)
	if err != nil || !cmp.Equal(got, grpcRequest) {
		t.Fatalf("Decode(warm) = %v, %v; want %v", got, err, grpcRequest)
	}
	// White box: a hit returns the cached fields.
	cb := d.cache.last()
	if !bytes.Equal(cb.b, warm) {
		t.Fatalf("cached block %x, want %x", cb.b, warm)
	}
	cb.fields[0].Value = "MARK"
	if got, _ := d.Decode(warm, Request, []Field{{Name: "x", Value: "y"}}); len(got) != len(grpcRequest)+1 || got[1].Value != "MARK" || got[0].Name != "x" {
		t.Fatalf("second Decode(warm) = %v: not appended from the cache", got)
	}
	cb.fields[0].Value = grpcRequest[0].Value

	// The same bytes as trailers: pseudo-header fields are malformed there,
	// cached or not.
	if _, err := d.Decode(warm, Trailers, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Decode(warm, Trailers) error = %v, want ErrMalformed", err)
	}
	// A block that inserts into the table invalidates the cache: the warm
	// bytes now name other entries (every dynamic index shifted by one).
	other := e.AppendBlock(nil, Field{Name: "x-new", Value: "1"})
	if _, err := d.Decode(other, Trailers, nil); err != nil {
		t.Fatal(err)
	}
	cb.fields[0].Value = "STALE"
	got, err = d.Decode(warm, Request, nil)
	if err == nil || len(got) > 0 && got[0].Value == "STALE" {
		// The shifted indices name x-new in place of :path: malformed.
		t.Fatalf("Decode(warm) after a table change = %v, %v: served from a stale cache", got, err)
	}
	// So does a size change.
	again := e.AppendBlock(nil, grpcRequest...)
	if _, err := d.Decode(again, Request, nil); err != nil {
		t.Fatal(err)
	}
	d.SetMaxTableSize(DefaultTableSize)
	last := d.cache.last()
	last.fields[0].Value = "STALE"
	if got, err := d.Decode(again, Request, nil); err != nil || got[0].Value == "STALE" {
		t.Fatalf("Decode after SetMaxTableSize = %v, %v: served from a stale cache", got, err)
	}

	// A block of more than maxCachedFields indexed fields is not kept.
	d = NewDecoder(Limits{})
	long := bytes.Repeat([]byte{0x82}, maxCachedFields+1) // :method GET, static
	if _, err := d.Decode(long, Trailers, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("pseudo-headers in trailers: error %v, want ErrMalformed", err)
	}
	long = bytes.Repeat([]byte{0x90}, maxCachedFields+1) // accept-encoding, static
	if got, err := d.Decode(long, Trailers, nil); err != nil || len(got) != maxCachedFields+1 {
		t.Fatalf("Decode(%x) = %d fields, %v", long, len(got), err)
	}
	if d.cache.entries != nil {
		t.Fatalf("a block of %d fields was cached", maxCachedFields+1)
	}
}

func TestAllIndexed(t *testing.T) {
	for _, c := range []struct {
		b    []byte
		want bool
	}{
		{nil, true},
		{[]byte{0x82, 0x86, 0xbe}, true},
		{[]byte{0xff, 0x80, 0x01, 0x82}, true}, // index 127+128 in two more octets
		{[]byte{0x82, 0x40}, false},            // a literal with incremental indexing
		{[]byte{0x20}, false},                  // a size update
		{[]byte{0x10, 0x01, 'a', 0x01, 'b'}, false},
	} {
		if got := allIndexed(c.b); got != c.want {
			t.Errorf("allIndexed(%x) = %v, want %v", c.b, got, c.want)
		}
	}
}

// TestWarmRequestBlockSize checks what docs/hpack.md says of the wire cost
// of a repeated gRPC request: once the dynamic table is warm, each field is
// one byte, an indexed reference.
func TestWarmRequestBlockSize(t *testing.T) {
	enc := NewEncoder()
	enc.AppendBlock(nil, grpcRequest...)
	if n := len(enc.AppendBlock(nil, grpcRequest...)); n != len(grpcRequest) {
		t.Fatalf("warm request block is %d bytes, want %d (one per field)", n, len(grpcRequest))
	}
}

// last is the entry put last (white-box tests).
func (c *blockCache) last() *cachedBlock {
	return &c.entries[(c.next+len(c.entries)-1)%len(c.entries)]
}
