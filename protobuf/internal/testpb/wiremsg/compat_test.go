package wiremsg_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/wiremsg/p2"
	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/wiremsg/p2go"
	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/wiremsg/p3"
	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/wiremsg/p3go"
	"github.com/h2rpc/h2rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// wireMsg is the method set of a generated message type *T.
type wireMsg[T any] interface {
	*T
	wire.Message
	SizeWire() int
	Equal(*T) bool
	Clone() *T
	Reset()
}

var deterministic = proto.MarshalOptions{Deterministic: true}

// same checks one value both ways: the protobuf-go message pm, encoded
// deterministically, decodes into the wire message, which encodes back to
// the same bytes; SizeWire, Clone and Equal agree.
func same[T any, P wireMsg[T]](t *testing.T, pm proto.Message) {
	t.Helper()
	want, err := deterministic.Marshal(pm)
	if err != nil {
		t.Fatal(err)
	}
	var wm T
	if err := P(&wm).UnmarshalWire(want); err != nil {
		t.Fatalf("UnmarshalWire(protobuf-go's encoding): %v\n%x", err, want)
	}
	got, err := P(&wm).AppendWire(nil)
	if err != nil {
		t.Fatalf("AppendWire: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendWire differs from protobuf-go's deterministic Marshal\n got %x\nwant %x", got, want)
	}
	if n := P(&wm).SizeWire(); n != len(got) {
		t.Errorf("SizeWire = %d, encoding has %d bytes", n, len(got))
	}
	back := pm.ProtoReflect().New().Interface()
	if err := proto.Unmarshal(got, back); err != nil {
		t.Fatalf("protobuf-go cannot decode AppendWire's output: %v", err)
	}
	if again, _ := deterministic.Marshal(back); !bytes.Equal(again, want) {
		t.Errorf("protobuf-go decodes AppendWire's output to another value")
	}
	c := P(&wm).Clone()
	if !P(c).Equal(&wm) || !P(&wm).Equal(c) {
		t.Errorf("Clone is not Equal to its original")
	}
	if cb, _ := P(c).AppendWire(nil); !bytes.Equal(cb, want) {
		t.Errorf("Clone encodes differently")
	}
	// Decoding again into the same (reused) message gives the same value.
	if err := P(c).UnmarshalWire(want); err != nil {
		t.Fatal(err)
	}
	if cb, _ := P(c).AppendWire(make([]byte, 3, 64)); !bytes.Equal(cb[3:], want) {
		t.Errorf("a reused message encodes differently")
	}
	P(c).Reset()
	if n := P(c).SizeWire(); n != 0 {
		t.Errorf("SizeWire after Reset = %d", n)
	}
}

func TestCompatibleRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 2000
	if testing.Short() {
		n = 200
	}
	for i := range n {
		pm := new(p3go.All)
		populate(r, pm.ProtoReflect(), 3)
		if i%5 == 0 {
			// Unknown fields, kept and written back after the known ones.
			pm.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 1000, protowire.VarintType), uint64(i)))
		}
		same[p3.All](t, pm)
		p2m := new(p2go.Proto2)
		populate(r, p2m.ProtoReflect(), 2)
		same[p2.Proto2](t, p2m)
		if t.Failed() {
			t.Fatalf("value %d", i)
		}
	}
}

func TestCompatibleEdges(t *testing.T) {
	same[p3.Empty](t, &p3go.Empty{})
	same[p3.All](t, &p3go.All{})
	same[p3.All](t, &p3go.All{HighNumber: -1})
	same[p3.Scalars](t, &p3go.Scalars{FInt32: -1, FSint32: -1 << 31, FSint64: -1 << 63, FColor: p3go.Color_COLOR_NEGATIVE})
	same[p3.Oneofs](t, &p3go.Oneofs{Kind: &p3go.Oneofs_KMessage{KMessage: &p3go.Scalars{}}})
	same[p3.Oneofs](t, &p3go.Oneofs{Kind: &p3go.Oneofs_KInt32{}, Other: &p3go.Oneofs_OBool{}})
	same[p3.Optionals](t, &p3go.Optionals{OInt32: proto.Int32(0), OString: proto.String(""), OBytes: []byte{}, OMessage: &p3go.Scalars{}})
	same[p3.Maps](t, &p3go.Maps{MUint64: map[uint64]*p3go.Scalars{0: {}, 7: {FBool: true}}, MBool: map[bool]string{true: "t", false: ""}})
	same[p3.Repeated](t, &p3go.Repeated{RBytes: [][]byte{{}, nil, {1}}, RString: []string{""}})
	same[p2.Proto2](t, &p2go.Proto2{S: proto.String("\xff not UTF-8 in proto2"), Defaults: &p2go.Defaults{}})
}

// A one-byte tag is taken without checking its number and type, which a
// field's case or the unknown-field path checks: every one of them, before
// values of each wire type, decodes as in protobuf-go or fails as there
// (field number 0, wire types 4, 6 and 7, a type a known field does not
// have).
func TestOneByteTags(t *testing.T) {
	values := [][]byte{nil, {0}, {1, 'A'}, {8, 0, 0, 0, 0, 0, 0, 0, 0}, {0x0c}}
	for tag := range 0x80 {
		for _, v := range values {
			data := append([]byte{byte(tag)}, v...)
			differ[p3.All](t, data, new(p3go.All))
			differ[p3.Flat](t, data, new(p3go.Flat))
			differ[p2.Proto2](t, data, new(p2go.Proto2))
		}
	}
}

// A message's plain string fields are checked together before any is
// written: non-ASCII UTF-8 passes, and an invalid one fails naming its own
// field, whichever of them it is, with b returned as it was.
func TestUTF8PlainFields(t *testing.T) {
	good, bad := "Zoë ✓", "\xff"
	prefix := []byte("kept")
	ok := &p3.Flat{A: good, N: 1, B: "ascii", C: &good, O: &p3.Flat_D{D: good}, Last: good}
	b, err := ok.AppendWire(slices.Clone(prefix))
	if err != nil {
		t.Fatalf("AppendWire of valid non-ASCII strings: %v", err)
	}
	want, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&p3go.Flat{A: good, N: 1, B: "ascii", C: &good, O: &p3go.Flat_D{D: good}, Last: good})
	if !bytes.Equal(b[len(prefix):], want) {
		t.Errorf("AppendWire = %x, protobuf-go %x", b[len(prefix):], want)
	}
	for _, c := range []struct {
		m   *p3.Flat
		num string
	}{
		{&p3.Flat{A: bad, B: good, Last: good}, "field 1:"},
		{&p3.Flat{A: good, B: bad, Last: "x"}, "field 3:"},
		{&p3.Flat{A: "x", B: good, Last: bad}, "field 63:"},
		{&p3.Flat{A: good, B: bad, Last: bad}, "field 3:"},
	} {
		got, err := c.m.AppendWire(slices.Clone(prefix))
		if !errors.Is(err, wire.ErrInvalidUTF8) || !strings.Contains(err.Error(), c.num) {
			t.Errorf("AppendWire(%+v) = %v, want ErrInvalidUTF8 on %s", c.m, err, c.num)
		}
		if !bytes.Equal(got, prefix) {
			t.Errorf("AppendWire(%+v) returned %q, want b as it was", c.m, got)
		}
	}
}

// A proto3 string must be valid UTF-8 both ways; a proto2 one need not.
func TestUTF8(t *testing.T) {
	bad := "\xff"
	if _, err := (&p3.Scalars{FString: bad}).AppendWire(nil); !errors.Is(err, wire.ErrInvalidUTF8) {
		t.Errorf("AppendWire of invalid UTF-8 = %v, want ErrInvalidUTF8", err)
	}
	if _, err := (&p3.Maps{MStringString: map[string]string{"k": bad}}).AppendWire(nil); !errors.Is(err, wire.ErrInvalidUTF8) {
		t.Errorf("AppendWire of invalid UTF-8 map value = %v, want ErrInvalidUTF8", err)
	}
	b := protowire.AppendString(protowire.AppendTag(nil, 14, protowire.BytesType), bad)
	var m p3.Scalars
	if err := m.UnmarshalWire(b); !errors.Is(err, wire.ErrInvalidUTF8) {
		t.Errorf("UnmarshalWire of invalid UTF-8 = %v, want ErrInvalidUTF8", err)
	}
	if err := proto.Unmarshal(b, new(p3go.Scalars)); err == nil {
		t.Errorf("protobuf-go accepts it: the test is wrong")
	}
	if _, err := (&p2.Proto2{S: &bad}).AppendWire(nil); err != nil {
		t.Errorf("proto2 string: %v", err)
	}
}

// Packed and unpacked encodings of a repeated scalar are both accepted,
// whatever the .proto declares.
func TestPackedEitherWay(t *testing.T) {
	var unpacked, packed []byte
	for _, v := range []uint64{1, 300, 0} {
		unpacked = protowire.AppendVarint(protowire.AppendTag(unpacked, 3, protowire.VarintType), v)
	}
	packed = protowire.AppendBytes(protowire.AppendTag(nil, 18, protowire.BytesType), protowire.AppendVarint(protowire.AppendVarint(nil, 7), 8))
	var m p3.Repeated
	if err := m.UnmarshalWire(append(unpacked, packed...)); err != nil {
		t.Fatal(err)
	}
	if got := m.RInt32; len(got) != 3 || got[0] != 1 || got[1] != 300 || got[2] != 0 {
		t.Errorf("RInt32 = %v", got)
	}
	if got := m.UInt32; len(got) != 2 || got[0] != 7 || got[1] != 8 {
		t.Errorf("UInt32 = %v", got)
	}
}

func TestProto2Defaults(t *testing.T) {
	var d p2.Defaults
	if d.GetDInt32() != -42 || d.GetDUint64() != 1<<64-1 || d.GetDBool() != true || d.GetDString() != "h\"i\n" ||
		!bytes.Equal(d.GetDBytes(), []byte{1, 0xff}) || d.GetDEnum() != p2.Closed_CLOSED_FIVE || d.GetDSint32() != -7 || d.GetDFloat() != -1.5 {
		t.Errorf("getters of an empty Defaults do not return the defaults")
	}
	var g p2go.Defaults
	if d.GetDDouble() != g.GetDDouble() || d.GetDNan() == d.GetDNan() {
		t.Errorf("inf/nan defaults differ from protobuf-go's")
	}
	zero := int32(0)
	d.DInt32 = &zero
	if d.GetDInt32() != 0 {
		t.Errorf("a set field's getter returns the default")
	}
}

// A closed enum's undeclared values are kept in the field, as protobuf-go
// keeps them (the language guide would put them among the unknown fields;
// protobuf-go does not, and compatibility with it comes first).
func TestClosedEnum(t *testing.T) {
	var b []byte
	b = protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.VarintType), 3)
	b = protowire.AppendVarint(protowire.AppendTag(b, 2, protowire.VarintType), 9)
	b = protowire.AppendVarint(protowire.AppendTag(b, 2, protowire.VarintType), 1)
	b = protowire.AppendBytes(protowire.AppendTag(b, 3, protowire.BytesType), []byte{5, 7, 0})
	entry := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "k")
	entry = protowire.AppendVarint(protowire.AppendTag(entry, 2, protowire.VarintType), 4)
	b = protowire.AppendBytes(protowire.AppendTag(b, 4, protowire.BytesType), entry)
	b = protowire.AppendVarint(protowire.AppendTag(b, 5, protowire.VarintType), 2)

	var m p2.Closeds
	if err := m.UnmarshalWire(b); err != nil {
		t.Fatal(err)
	}
	if m.GetCSingle() != 3 || len(m.CUnpacked) != 2 || len(m.CPacked) != 3 || m.CMap["k"] != 4 || m.GetCOneof() != 2 || m.GetCOneof().Known() {
		t.Errorf("undeclared closed enum values were not kept: %+v", &m)
	}
	pm := new(p2go.Closeds)
	if err := proto.Unmarshal(b, pm); err != nil {
		t.Fatal(err)
	}
	want, _ := deterministic.Marshal(pm)
	got, err := m.AppendWire(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got %x\nwant %x", got, want)
	}
}

// A required field missing anywhere in the tree fails decoding, as with
// protobuf-go, and encoding.
func TestRequired(t *testing.T) {
	full := &p2go.Req{Id: proto.Int32(1), Name: proto.String("n")}
	for _, c := range []struct {
		name string
		m    *p2go.Proto2
		ok   bool
	}{
		{"all set", &p2go.Proto2{Req: &p2go.Req{Id: proto.Int32(1), Name: proto.String(""), Next: full, List: []*p2go.Req{full}, ById: map[int32]*p2go.Req{1: full}, O: &p2go.Req_InOneof{InOneof: full}}}, true},
		{"top", &p2go.Proto2{Req: &p2go.Req{Id: proto.Int32(1)}}, false},
		{"next", &p2go.Proto2{Req: &p2go.Req{Id: proto.Int32(1), Name: proto.String("n"), Next: &p2go.Req{Name: proto.String("x")}}}, false},
		{"list", &p2go.Proto2{Req: &p2go.Req{Id: proto.Int32(1), Name: proto.String("n"), List: []*p2go.Req{full, {}}}}, false},
		{"map", &p2go.Proto2{Req: &p2go.Req{Id: proto.Int32(1), Name: proto.String("n"), ById: map[int32]*p2go.Req{3: {Id: proto.Int32(3)}}}}, false},
		{"oneof", &p2go.Proto2{Req: &p2go.Req{Id: proto.Int32(1), Name: proto.String("n"), O: &p2go.Req_InOneof{InOneof: &p2go.Req{}}}}, false},
		{"in a child", &p2go.Proto2{Child: &p2go.Proto2{Req: &p2go.Req{Name: proto.String("n")}}}, false},
	} {
		b, err := proto.MarshalOptions{AllowPartial: true, Deterministic: true}.Marshal(c.m)
		if err != nil {
			t.Fatal(err)
		}
		perr := proto.Unmarshal(b, new(p2go.Proto2))
		var m p2.Proto2
		werr := m.UnmarshalWire(b)
		if (perr == nil) != c.ok || (werr == nil) != c.ok {
			t.Errorf("%s: UnmarshalWire = %v, protobuf-go = %v; want success %v", c.name, werr, perr, c.ok)
		}
		if !c.ok && !errors.Is(werr, wire.ErrRequired) {
			t.Errorf("%s: UnmarshalWire = %v, want wire.ErrRequired", c.name, werr)
		}
		if !c.ok && m.SizeWire() != 0 {
			t.Errorf("%s: a message that failed the check is not empty", c.name)
		}
		// MergeWire decodes without the check.
		if err := m.MergeWire(b, 0); err != nil {
			t.Errorf("%s: MergeWire = %v", c.name, err)
		}
		if _, err := m.AppendWire(nil); (err == nil) != c.ok {
			t.Errorf("%s: AppendWire of the merged message = %v, want success %v", c.name, err, c.ok)
		}
	}

	// Messages nested too deeply fail cleanly.
	var b []byte
	for range wire.MaxMessageDepth + 2 {
		// All.inner (6) -> Inner.child (2) -> All ...: wrap twice per level.
		b = protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), b)
		b = protowire.AppendBytes(protowire.AppendTag(nil, 6, protowire.BytesType), b)
	}
	var m p3.All
	if err := m.UnmarshalWire(b); !errors.Is(err, wire.ErrMessageDepth) {
		t.Errorf("UnmarshalWire of %d nested messages = %v, want ErrMessageDepth", 2*wire.MaxMessageDepth, err)
	}
}

// Maps are written sorted by key whatever their size: the few entries a map
// usually holds are sorted on the stack, more than 16 another way.
func TestMapSizes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 15, 16, 17, 40} {
		pm := new(p3go.Maps)
		fields := pm.ProtoReflect().Descriptor().Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			mp := pm.ProtoReflect().Mutable(fd).Map()
			for tries := 0; mp.Len() < n && tries < 100*n; tries++ {
				k := randomValue(r, fd.MapKey(), nil, 0).MapKey()
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					v := mp.NewValue()
					populate(r, v.Message(), 1)
					mp.Set(k, v)
				} else {
					mp.Set(k, randomValue(r, fd.MapValue(), nil, 0))
				}
			}
		}
		same[p3.Maps](t, pm)
		if t.Failed() {
			t.Fatalf("maps of %d entries", n)
		}
	}
}

// A flat message's strings share one allocation: never the input's memory,
// never the memory of strings decoded before.
func TestFlatStrings(t *testing.T) {
	pm := &p3go.Flat{A: "first string", N: 7, B: "second, wörld", C: proto.String(""), O: &p3go.Flat_D{D: "oneof"}, G: 9, Last: "sixty-three"}
	same[p3.Flat](t, pm)
	in, err := deterministic.Marshal(pm)
	if err != nil {
		t.Fatal(err)
	}
	var m p3.Flat
	if err := m.UnmarshalWire(in); err != nil {
		t.Fatal(err)
	}
	kept := []string{m.A, m.B, *m.C, m.O.(*p3.Flat_D).D, m.Last}
	if n := testing.AllocsPerRun(100, func() { _ = m.UnmarshalWire(in) }); n != 3 {
		// The strings, the optional's pointer, the oneof's wrapper.
		t.Errorf("UnmarshalWire: %v allocs, want 3", n)
	}
	for i := range in {
		in[i] = 'X'
	}
	want := []string{"first string", "second, wörld", "", "oneof", "sixty-three"}
	if !slices.Equal(kept, want) {
		t.Errorf("strings after the input changed and the message was decoded again: %q, want %q", kept, want)
	}
	if m.A != "first string" || m.Last != "sixty-three" {
		t.Errorf("decoded strings alias the input: %q %q", m.A, m.Last)
	}
	// A field given twice keeps the last value; strings of other types of
	// input (a oneof switching members) decode the same as protobuf-go's.
	b := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "one")
	b = protowire.AppendString(protowire.AppendTag(b, 1, protowire.BytesType), "two")
	b = protowire.AppendString(protowire.AppendTag(b, 5, protowire.BytesType), "d")
	b = protowire.AppendVarint(protowire.AppendTag(b, 6, protowire.VarintType), 3)
	if err := m.UnmarshalWire(b); err != nil || m.A != "two" || m.O.(*p3.Flat_E).E != -2 {
		t.Errorf("UnmarshalWire = %v, %+v", err, &m)
	}
	differ[p3.Flat](t, b, new(p3go.Flat))
	// The other way round the string member wins, though its bytes are
	// copied only once the whole message is read.
	b = protowire.AppendVarint(protowire.AppendTag(nil, 6, protowire.VarintType), 3)
	b = protowire.AppendString(protowire.AppendTag(b, 5, protowire.BytesType), "d")
	if err := m.UnmarshalWire(b); err != nil || m.O.(*p3.Flat_D).D != "d" {
		t.Errorf("UnmarshalWire = %v, %+v", err, &m)
	}
	differ[p3.Flat](t, b, new(p3go.Flat))
	// Every occurrence of a string is checked for UTF-8, not only the last,
	// which is the one kept.
	b = protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "\xff")
	b = protowire.AppendString(protowire.AppendTag(b, 1, protowire.BytesType), "ok")
	if err := m.UnmarshalWire(b); !errors.Is(err, wire.ErrInvalidUTF8) {
		t.Errorf("UnmarshalWire of an invalid string then a valid one = %v, want ErrInvalidUTF8", err)
	}
	differ[p3.Flat](t, b, new(p3go.Flat))
	// So is a oneof string member that another member replaces.
	b = protowire.AppendString(protowire.AppendTag(nil, 5, protowire.BytesType), "\xff")
	b = protowire.AppendVarint(protowire.AppendTag(b, 6, protowire.VarintType), 3)
	if err := m.UnmarshalWire(b); !errors.Is(err, wire.ErrInvalidUTF8) {
		t.Errorf("UnmarshalWire of an invalid oneof string then another member = %v, want ErrInvalidUTF8", err)
	}
	differ[p3.Flat](t, b, new(p3go.Flat))
	// The kept strings are checked together once copied: each one invalid
	// among valid ones (ASCII or not) fails, naming its field.
	for _, num := range []protowire.Number{1, 3, 4, 5, 63} {
		b = nil
		for _, f := range []protowire.Number{1, 3, 4, 5, 63} {
			s := "wörld"
			if f == num {
				s = "ab\xc3"
			}
			b = protowire.AppendString(protowire.AppendTag(b, f, protowire.BytesType), s)
		}
		err := m.UnmarshalWire(b)
		if !errors.Is(err, wire.ErrInvalidUTF8) || !strings.Contains(err.Error(), fmt.Sprintf("field %d:", num)) {
			t.Errorf("UnmarshalWire with field %d not UTF-8 = %v, want ErrInvalidUTF8 on it", num, err)
		}
		if m.A != "" || m.C != nil || m.O != nil {
			t.Errorf("UnmarshalWire failed but left %+v", &m)
		}
		differ[p3.Flat](t, b, new(p3go.Flat))
	}
}

// protobuf-go sets the quiet bit of a signaling NaN held as a map's float
// value (it passes through a float64); so do generated encoders.
func TestMapFloatNaN(t *testing.T) {
	snan := math.Float32frombits(0x7f800001)
	want, err := deterministic.Marshal(&p3go.Maps{MSint64: map[int64]float32{1: snan}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := (&p3.Maps{MSint64: map[int64]float32{1: snan}}).AppendWire(nil)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("AppendWire = %x, %v; protobuf-go writes %x", got, err, want)
	}
}
