package wiremsg_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/wiremsg/p2"
	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/wiremsg/p2go"
	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/wiremsg/p3"
	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/wiremsg/p3go"
	"github.com/h2rpc/h2rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// differ decodes data with protobuf-go into pm and with the generated
// decoder into wm: both fail, or both succeed and then encode to the same
// bytes (deterministically), which each decodes back to an equal message.
//
// Two refusals are documented differences of package wire (docs/wire.md),
// which only a group in an unknown field can show, since protobuf-go checks
// both outside groups: a field number above 2^29-1 inside the group, and
// groups nested more than wire.MaxGroupDepth deep.
//
// The bytes are also decoded into a message that held another value
// before (a random one of its type, with every field set that the random
// values set): reusing its memory, the decoder must give the same result.
func differ[T any, P wireMsg[T]](t *testing.T, data []byte, pm proto.Message) {
	var wm T
	werr := P(&wm).UnmarshalWire(data)
	perr := proto.Unmarshal(data, pm)
	if werr != nil && perr == nil && (errors.Is(werr, wire.ErrFieldNumber) || errors.Is(werr, wire.ErrDepth)) {
		return
	}
	if (werr == nil) != (perr == nil) {
		t.Fatalf("UnmarshalWire: %v; protobuf-go: %v", werr, perr)
	}
	var rm T
	if err := P(&rm).UnmarshalWire(earlierValue(t, pm)); err != nil {
		t.Fatal(err)
	}
	if err := P(&rm).UnmarshalWire(data); (err == nil) != (werr == nil) {
		t.Fatalf("UnmarshalWire into a new message: %v; into a reused one: %v", werr, err)
	}
	if werr != nil {
		if n := P(&wm).SizeWire(); n != 0 {
			t.Fatalf("a message that failed to decode is not empty (%d bytes)", n)
		}
		if n := P(&rm).SizeWire(); n != 0 {
			t.Fatalf("a reused message that failed to decode is not empty (%d bytes)", n)
		}
		return
	}
	got, werr := P(&wm).AppendWire(nil)
	if b, _ := P(&rm).AppendWire(nil); !bytes.Equal(b, got) {
		t.Fatalf("decoding into a reused message gives another encoding than into a new one")
	}
	want, perr := deterministic.Marshal(pm)
	if (werr == nil) != (perr == nil) {
		t.Fatalf("AppendWire: %v; protobuf-go: %v", werr, perr)
	}
	if werr != nil {
		return
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encodings differ\n got %x\nwant %x", got, want)
	}
	if n := P(&wm).SizeWire(); n != len(got) {
		t.Fatalf("SizeWire = %d, encoding has %d bytes", n, len(got))
	}
	back := pm.ProtoReflect().New().Interface()
	if err := proto.Unmarshal(got, back); err != nil {
		t.Fatalf("protobuf-go cannot decode AppendWire's output: %v", err)
	}
	if !proto.Equal(back, pm) && !bytes.Equal(mustMarshal(t, back), want) {
		t.Fatalf("protobuf-go decodes AppendWire's output to another message")
	}
	var again T
	if err := P(&again).UnmarshalWire(want); err != nil {
		t.Fatalf("cannot decode protobuf-go's output: %v", err)
	}
	if b, _ := P(&again).AppendWire(nil); !bytes.Equal(b, want) {
		t.Fatalf("decoding protobuf-go's output gives another message")
	}
	c := P(&wm).Clone()
	if b, _ := P(c).AppendWire(nil); !bytes.Equal(b, want) {
		t.Fatalf("the clone encodes differently")
	}
}

// earlier holds, by message name, the encoding of a random value that
// differ decodes into a message before reusing it.
var earlier sync.Map

func earlierValue(t *testing.T, pm proto.Message) []byte {
	name := pm.ProtoReflect().Descriptor().FullName()
	if b, ok := earlier.Load(name); ok {
		return b.([]byte)
	}
	m := pm.ProtoReflect().New()
	populate(rand.New(rand.NewPCG(7, 8)), m, 3)
	b := mustMarshal(t, m.Interface())
	earlier.Store(name, b)
	return b
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	b, err := deterministic.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func seeds(f *testing.F, newMsg func() proto.Message) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		m := newMsg()
		populate(r, m.ProtoReflect(), 2)
		b, err := deterministic.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x0b, 0x0c})             // an empty group as field 1
	f.Add([]byte{0x1a, 0x02, 0x08, 0x96}) // truncated inside a nested message
}

// FuzzDifferentialProto3 decodes random bytes as the proto3 message All,
// which holds every proto3 field shape, with both decoders.
func FuzzDifferentialProto3(f *testing.F) {
	seeds(f, func() proto.Message { return new(p3go.All) })
	f.Fuzz(func(t *testing.T, data []byte) {
		differ[p3.All](t, data, new(p3go.All))
	})
}

// FuzzDifferentialProto2 does the same with proto2's presence, defaults,
// closed enums and unchecked strings.
func FuzzDifferentialProto2(f *testing.F) {
	seeds(f, func() proto.Message { return new(p2go.Proto2) })
	f.Fuzz(func(t *testing.T, data []byte) {
		differ[p2.Proto2](t, data, new(p2go.Proto2))
	})
}

// TestTruncated decodes every prefix of encoded values: a prefix that ends
// inside a tag, a length, a value or a nested message fails as in
// protobuf-go (an error, never a panic or a read past the end), and one
// that ends between fields decodes as there. The values have fields of
// every wire type, multi-byte tags, varints and lengths, unknown fields,
// and (Flat) strings decoded into one allocation.
func TestTruncated(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 1000, protowire.VarintType), 300)
	unknown = protowire.AppendBytes(protowire.AppendTag(unknown, 7, protowire.BytesType), []byte("unknown bytes"))
	prefixes := func(newMsg func() proto.Message, check func([]byte, proto.Message)) {
		for i := range 20 {
			m := newMsg()
			populate(r, m.ProtoReflect(), 2)
			if i%2 == 0 {
				m.ProtoReflect().SetUnknown(unknown)
			}
			b := mustMarshal(t, m)
			for k := range len(b) {
				check(b[:k], newMsg())
			}
		}
	}
	prefixes(func() proto.Message { return new(p3go.All) }, func(b []byte, pm proto.Message) { differ[p3.All](t, b, pm) })
	prefixes(func() proto.Message { return new(p2go.Proto2) }, func(b []byte, pm proto.Message) { differ[p2.Proto2](t, b, pm) })
	prefixes(func() proto.Message { return new(p3go.Flat) }, func(b []byte, pm proto.Message) { differ[p3.Flat](t, b, pm) })
}
