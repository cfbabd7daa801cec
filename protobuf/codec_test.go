package protobuf_test

import (
	"strings"
	"testing"

	"github.com/h2rpc/h2rpc/protobuf"
	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/interoppb"
	"github.com/h2rpc/h2rpc/rpc"
	"google.golang.org/protobuf/proto"
)

// Importing the package extends rpc.DefaultCodec: protobuf-go messages
// round-trip through it, byte for byte as protobuf-go marshals them (for a
// message without maps, whose order protobuf-go varies).
func TestDefaultCodecTakesProtobufGo(t *testing.T) {
	q := &interoppb.Query{Prefix: "p", Limit: 3, Kinds: []interoppb.Kind{interoppb.Kind_KIND_NOTE}}
	b, err := rpc.DefaultCodec.AppendMarshal([]byte{9}, q)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := proto.Marshal(q)
	if string(b[1:]) != string(want) || b[0] != 9 {
		t.Fatalf("AppendMarshal = %x, want 09 then %x", b, want)
	}
	in := sample(2)
	if b, err = rpc.DefaultCodec.Marshal(in); err != nil {
		t.Fatal(err)
	}
	out := new(interoppb.Item)
	if err := rpc.DefaultCodec.Unmarshal(b, out); err != nil || !proto.Equal(in, out) {
		t.Fatalf("Unmarshal = %v, %v; want %v", out, err, in)
	}
	// Bad bytes fail with protobuf-go's error, wrapped.
	if err := rpc.DefaultCodec.Unmarshal([]byte{0x0a, 0x05}, out); err == nil || !strings.Contains(err.Error(), "unmarshal into *interoppb.Item") {
		t.Errorf("Unmarshal of a truncated message = %v", err)
	}
}

func TestCodecRejectsOthers(t *testing.T) {
	if protobuf.Codec.Name() != "proto" {
		t.Errorf("Name = %q", protobuf.Codec.Name())
	}
	type plain struct{ A int }
	if _, err := protobuf.Codec.Marshal(&plain{}); err == nil || !strings.Contains(err.Error(), "protoc-gen-go") {
		t.Errorf("Marshal(*plain) = %v, want an error naming protoc-gen-go", err)
	}
	// Through DefaultCodec: the types it handles itself still work, the
	// others get the extension's error.
	if b, err := rpc.DefaultCodec.Marshal([]byte("raw")); err != nil || string(b) != "raw" {
		t.Errorf("DefaultCodec.Marshal([]byte) = %q, %v", b, err)
	}
	if err := rpc.DefaultCodec.Unmarshal(nil, &plain{}); err == nil || !strings.Contains(err.Error(), "not a protobuf-go message") && !strings.Contains(err.Error(), "neither a protobuf-go message") {
		t.Errorf("DefaultCodec.Unmarshal(*plain) = %v", err)
	}
}

// Codec passed explicitly still carries raw bytes, as health and
// reflection send.
func TestCodecPassesBytes(t *testing.T) {
	b, err := protobuf.Codec.AppendMarshal([]byte("a"), []byte("bc"))
	if err != nil || string(b) != "abc" {
		t.Fatalf("AppendMarshal([]byte) = %q, %v", b, err)
	}
	var got []byte
	if err := protobuf.Codec.Unmarshal([]byte("xyz"), &got); err != nil || string(got) != "xyz" {
		t.Fatalf("Unmarshal(*[]byte) = %q, %v", got, err)
	}
}
