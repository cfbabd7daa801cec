package main

import (
	"bytes"
	"testing"

	"github.com/h2rpc/h2rpc/bench/benchpb/gopb"
	"github.com/h2rpc/h2rpc/bench/benchpb/wirepb"
	"github.com/h2rpc/h2rpc/wire"
	"google.golang.org/protobuf/proto"
)

// The codec benchmarks encode and decode the same three values with the
// messages protoc-gen-go-h2rpc generates on package wire
// (messages=generate), with protobuf-go's, and with protobuf-go's plus
// vtprotobuf's generated methods.

func smallValue() *gopb.Small {
	return &gopb.Small{Content: "Learned how HTTP/2 flow control windows work", Progress: 42, Timestamp: "2026-12-02T02:30:00Z"}
}

func mediumValue(i int) *gopb.Medium {
	return &gopb.Medium{
		Id: uint64(1e12 + i), Name: "Ada Lovelace", Email: "ada@example.com", Age: 36, Active: true,
		Score: 98.6, CreatedUnix: 1764642600, Balance: -12345, Kind: gopb.Kind_KIND_USER,
		Tags: []string{"math", "engines", "poetry"}, Counts: []int32{1, 2, 300, 40000, -1},
		Location: &gopb.Point{X: 51.5, Y: -0.12, Label: "London"},
		Labels:   map[string]string{"team": "analytical", "tier": "gold", "region": "eu-west"},
		Token:    []byte("0123456789abcdef0123456789abcdef"),
	}
}

func largeValue() *gopb.Large {
	m := &gopb.Large{Name: "large", Blob: bytes.Repeat([]byte("h2rpc"), 64<<10/5+1)[:64<<10]}
	for i := range 32 {
		m.Items = append(m.Items, mediumValue(i))
	}
	for i := range 256 {
		m.Samples = append(m.Samples, float64(i)*1.5)
	}
	return m
}

// vtMessage is what vtprotobuf adds to a protobuf-go message.
type vtMessage interface {
	proto.Message
	SizeVT() int
	MarshalToSizedBufferVT([]byte) (int, error)
	UnmarshalVT([]byte) error
}

type codecCase struct {
	name string
	pb   vtMessage
	wm   wire.Message
	// newPB and newWire return empty messages to decode into.
	newPB func() vtMessage
	newW  wire.Message
}

func codecCases(tb testing.TB) []codecCase {
	mk := func(name string, pb vtMessage, newPB func() vtMessage, wm, newW wire.Message) codecCase {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(pb)
		if err != nil {
			tb.Fatal(err)
		}
		if err := wm.UnmarshalWire(b); err != nil {
			tb.Fatal(err)
		}
		return codecCase{name, pb, wm, newPB, newW}
	}
	return []codecCase{
		mk("small", smallValue(), func() vtMessage { return new(gopb.Small) }, new(wirepb.Small), new(wirepb.Small)),
		mk("medium", mediumValue(0), func() vtMessage { return new(gopb.Medium) }, new(wirepb.Medium), new(wirepb.Medium)),
		mk("large", largeValue(), func() vtMessage { return new(gopb.Large) }, new(wirepb.Large), new(wirepb.Large)),
	}
}

// The three codecs write the same bytes (maps sorted: protobuf-go's
// deterministic mode, vtprotobuf's with one-entry maps aside) and read each
// other's.
func TestCodecsAgree(t *testing.T) {
	for _, c := range codecCases(t) {
		want, _ := proto.MarshalOptions{Deterministic: true}.Marshal(c.pb)
		got, err := c.wm.AppendWire(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: wire and protobuf-go encodings differ", c.name)
		}
		back := c.newPB()
		if err := back.UnmarshalVT(got); err != nil || !proto.Equal(back, c.pb) {
			t.Errorf("%s: vtprotobuf decodes the wire encoding to another value (%v)", c.name, err)
		}
		if err := c.newW.UnmarshalWire(want); err != nil {
			t.Fatal(err)
		}
		if again, _ := c.newW.AppendWire(nil); !bytes.Equal(again, want) {
			t.Errorf("%s: decoding protobuf-go's encoding gives another value", c.name)
		}
	}
}

// Marshalling into a buffer that has room allocates nothing, and decoding
// into a message that held the same shape before allocates only the
// strings it keeps.
func TestCodecAllocs(t *testing.T) {
	for _, c := range codecCases(t) {
		buf := make([]byte, 0, 1<<20)
		if n := testing.AllocsPerRun(100, func() { buf, _ = c.wm.AppendWire(buf[:0]) }); n != 0 {
			t.Errorf("%s: AppendWire into a reused buffer: %v allocs, want 0", c.name, n)
		}
		data, _ := c.wm.AppendWire(nil)
		_ = c.newW.UnmarshalWire(data)
		n := testing.AllocsPerRun(100, func() { _ = c.newW.UnmarshalWire(data) })
		t.Logf("%s: UnmarshalWire into a reused message: %v allocs", c.name, n)
	}
}

func BenchmarkCodec(b *testing.B) {
	for _, c := range codecCases(b) {
		data, _ := c.wm.AppendWire(nil)
		b.Run(c.name+"/marshal/wire", func(b *testing.B) {
			buf := make([]byte, 0, len(data))
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = c.wm.AppendWire(buf[:0])
			}
		})
		b.Run(c.name+"/marshal/protobuf-go", func(b *testing.B) {
			buf := make([]byte, 0, len(data))
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = proto.MarshalOptions{}.MarshalAppend(buf[:0], c.pb)
			}
		})
		b.Run(c.name+"/marshal/vtprotobuf", func(b *testing.B) {
			buf := make([]byte, len(data))
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				n := c.pb.SizeVT()
				if _, err := c.pb.MarshalToSizedBufferVT(buf[:n]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/unmarshal/wire", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.newW.UnmarshalWire(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/unmarshal/protobuf-go", func(b *testing.B) {
			m := c.newPB()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := proto.Unmarshal(data, m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/unmarshal/vtprotobuf", func(b *testing.B) {
			m := c.newPB()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				proto.Reset(m)
				if err := m.UnmarshalVT(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
