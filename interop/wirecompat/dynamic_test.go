package wirecompat

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/structpb"
)

type fdp = descriptorpb.FieldDescriptorProto

var (
	optional = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	repeated = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
)

func field(name string, num int32, label *descriptorpb.FieldDescriptorProto_Label, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *fdp {
	f := &fdp{Name: proto.String(name), Number: proto.Int32(num), Label: label, Type: typ.Enum()}
	if typeName != "" {
		f.TypeName = proto.String(typeName)
	}
	return f
}

// scalarTypes are the 15 scalar types of protobuf, plus enum.
var scalarTypes = []descriptorpb.FieldDescriptorProto_Type{
	descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, descriptorpb.FieldDescriptorProto_TYPE_FLOAT,
	descriptorpb.FieldDescriptorProto_TYPE_INT64, descriptorpb.FieldDescriptorProto_TYPE_UINT64,
	descriptorpb.FieldDescriptorProto_TYPE_INT32, descriptorpb.FieldDescriptorProto_TYPE_FIXED64,
	descriptorpb.FieldDescriptorProto_TYPE_FIXED32, descriptorpb.FieldDescriptorProto_TYPE_BOOL,
	descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_BYTES,
	descriptorpb.FieldDescriptorProto_TYPE_UINT32, descriptorpb.FieldDescriptorProto_TYPE_ENUM,
	descriptorpb.FieldDescriptorProto_TYPE_SFIXED32, descriptorpb.FieldDescriptorProto_TYPE_SFIXED64,
	descriptorpb.FieldDescriptorProto_TYPE_SINT32, descriptorpb.FieldDescriptorProto_TYPE_SINT64,
}

func typeNameFor(t descriptorpb.FieldDescriptorProto_Type) string {
	if t == descriptorpb.FieldDescriptorProto_TYPE_ENUM {
		return ".compat.Color"
	}
	return ""
}

func mapEntryType(name string, key, val *fdp) *descriptorpb.DescriptorProto {
	key.Name, key.Number, key.Label = proto.String("key"), proto.Int32(1), optional
	val.Name, val.Number, val.Label = proto.String("value"), proto.Int32(2), optional
	return &descriptorpb.DescriptorProto{
		Name:    proto.String(name),
		Field:   []*fdp{key, val},
		Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
	}
}

// allTypesFile describes, in proto3:
//
//	enum Color { COLOR_UNSPECIFIED = 0; RED = 1; NEGATIVE = -1; }
//	message Nested { int32 a = 1; string s = 2; Nested child = 3; }
//	message AllTypes {
//	  <each scalar type> s_<type> = 1..16;
//	  repeated <each scalar type> r_<type> = 21..36;   // packed by default
//	  Nested nested = 40; repeated Nested r_nested = 41;
//	  map<string, Nested> map1 = 50; map<int32, string> map2 = 51;
//	  map<bool, bytes> map3 = 52; map<sint64, double> map4 = 53; map<uint32, Color> map5 = 54;
//	  oneof choice { uint32 o_uint32 = 60; Nested o_nested = 61; string o_string = 62; bytes o_bytes = 63; }
//	  optional int32 opt_int32 = 70; optional string opt_string = 71;
//	  repeated int32 unpacked = 80 [packed = false];
//	  sint64 biggest = 536870911;
//	  AllTypes child = 90;
//	}
func allTypesFile() *descriptorpb.FileDescriptorProto {
	msg := &descriptorpb.DescriptorProto{Name: proto.String("AllTypes")}
	for i, t := range scalarTypes {
		name := strings.ToLower(strings.TrimPrefix(t.String(), "TYPE_"))
		msg.Field = append(msg.Field,
			field("s_"+name, int32(1+i), optional, t, typeNameFor(t)),
			field("r_"+name, int32(21+i), repeated, t, typeNameFor(t)))
	}
	msgType := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	msg.Field = append(msg.Field,
		field("nested", 40, optional, msgType, ".compat.Nested"),
		field("r_nested", 41, repeated, msgType, ".compat.Nested"))
	maps := []struct {
		key, val *fdp
	}{
		{field("", 0, nil, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""), field("", 0, nil, msgType, ".compat.Nested")},
		{field("", 0, nil, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""), field("", 0, nil, descriptorpb.FieldDescriptorProto_TYPE_STRING, "")},
		{field("", 0, nil, descriptorpb.FieldDescriptorProto_TYPE_BOOL, ""), field("", 0, nil, descriptorpb.FieldDescriptorProto_TYPE_BYTES, "")},
		{field("", 0, nil, descriptorpb.FieldDescriptorProto_TYPE_SINT64, ""), field("", 0, nil, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, "")},
		{field("", 0, nil, descriptorpb.FieldDescriptorProto_TYPE_UINT32, ""), field("", 0, nil, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".compat.Color")},
	}
	for i, m := range maps {
		entry := fmt.Sprintf("Map%dEntry", i+1)
		msg.NestedType = append(msg.NestedType, mapEntryType(entry, m.key, m.val))
		msg.Field = append(msg.Field, field(fmt.Sprintf("map%d", i+1), int32(50+i), repeated, msgType, ".compat.AllTypes."+entry))
	}
	msg.OneofDecl = []*descriptorpb.OneofDescriptorProto{{Name: proto.String("choice")}, {Name: proto.String("_opt_int32")}, {Name: proto.String("_opt_string")}}
	oneof := func(f *fdp, index int32) *fdp { f.OneofIndex = proto.Int32(index); return f }
	optionalField := func(f *fdp, index int32) *fdp { f.Proto3Optional = proto.Bool(true); return oneof(f, index) }
	msg.Field = append(msg.Field,
		oneof(field("o_uint32", 60, optional, descriptorpb.FieldDescriptorProto_TYPE_UINT32, ""), 0),
		oneof(field("o_nested", 61, optional, msgType, ".compat.Nested"), 0),
		oneof(field("o_string", 62, optional, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""), 0),
		oneof(field("o_bytes", 63, optional, descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""), 0),
		optionalField(field("opt_int32", 70, optional, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""), 1),
		optionalField(field("opt_string", 71, optional, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""), 2),
		field("biggest", 536870911, optional, descriptorpb.FieldDescriptorProto_TYPE_SINT64, ""),
		field("child", 90, optional, msgType, ".compat.AllTypes"))
	unpacked := field("unpacked", 80, repeated, descriptorpb.FieldDescriptorProto_TYPE_INT32, "")
	unpacked.Options = &descriptorpb.FieldOptions{Packed: proto.Bool(false)}
	msg.Field = append(msg.Field, unpacked)

	nested := &descriptorpb.DescriptorProto{
		Name: proto.String("Nested"),
		Field: []*fdp{
			field("a", 1, optional, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""),
			field("s", 2, optional, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
			field("child", 3, optional, msgType, ".compat.Nested"),
		},
	}
	color := &descriptorpb.EnumDescriptorProto{
		Name: proto.String("Color"),
		Value: []*descriptorpb.EnumValueDescriptorProto{
			{Name: proto.String("COLOR_UNSPECIFIED"), Number: proto.Int32(0)},
			{Name: proto.String("RED"), Number: proto.Int32(1)},
			{Name: proto.String("NEGATIVE"), Number: proto.Int32(-1)},
		},
	}
	return &descriptorpb.FileDescriptorProto{
		Name:        proto.String("compat/alltypes.proto"),
		Package:     proto.String("compat"),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{msg, nested},
		EnumType:    []*descriptorpb.EnumDescriptorProto{color},
	}
}

// legacyFile describes, in proto2, the parts proto3 lacks: groups,
// unpacked repeated scalars by default, strings without the UTF-8 rule.
//
//	message Legacy {
//	  optional int32 a = 1;
//	  repeated int32 unpacked = 2;
//	  repeated sint64 packed = 3 [packed = true];
//	  optional group G = 4 { optional int32 x = 5; optional string s = 6; }
//	  repeated group Rg = 7 { optional fixed32 y = 8; optional G g = 9; }
//	  optional string s = 10;
//	  optional Legacy child = 11;
//	}
func legacyFile() *descriptorpb.FileDescriptorProto {
	groupType := descriptorpb.FieldDescriptorProto_TYPE_GROUP
	g := &descriptorpb.DescriptorProto{
		Name: proto.String("G"),
		Field: []*fdp{
			field("x", 5, optional, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""),
			field("s", 6, optional, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
		},
	}
	rg := &descriptorpb.DescriptorProto{
		Name: proto.String("Rg"),
		Field: []*fdp{
			field("y", 8, optional, descriptorpb.FieldDescriptorProto_TYPE_FIXED32, ""),
			field("g", 9, optional, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".compat.Legacy.G"),
		},
	}
	packed := field("packed", 3, repeated, descriptorpb.FieldDescriptorProto_TYPE_SINT64, "")
	packed.Options = &descriptorpb.FieldOptions{Packed: proto.Bool(true)}
	msg := &descriptorpb.DescriptorProto{
		Name: proto.String("Legacy"),
		Field: []*fdp{
			field("a", 1, optional, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""),
			field("unpacked", 2, repeated, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""),
			packed,
			field("g", 4, optional, groupType, ".compat.Legacy.G"),
			field("rg", 7, repeated, groupType, ".compat.Legacy.Rg"),
			field("s", 10, optional, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
			field("child", 11, optional, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".compat.Legacy"),
		},
		NestedType: []*descriptorpb.DescriptorProto{g, rg},
	}
	return &descriptorpb.FileDescriptorProto{
		Name:        proto.String("compat/legacy.proto"),
		Package:     proto.String("compat"),
		Syntax:      proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{msg},
	}
}

func messageDescriptor(t testing.TB, file *descriptorpb.FileDescriptorProto, name string) protoreflect.MessageDescriptor {
	t.Helper()
	fd, err := protodesc.NewFile(file, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatalf("building %s: %v", file.GetName(), err)
	}
	md := fd.Messages().ByName(protoreflect.Name(name))
	if md == nil {
		t.Fatalf("%s: no message %s", file.GetName(), name)
	}
	return md
}

// filler sets random values, biased to the edges, on every field kind.
type filler struct {
	r *rand.Rand
}

func (g *filler) pick(n int) int { return g.r.IntN(n) }

func (g *filler) scalar(fd protoreflect.FieldDescriptor) protoreflect.Value {
	ints := []int64{0, 1, -1, 127, 128, -128, 300, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64, g.r.Int64(), -g.r.Int64N(1 << 20)}
	uints := []uint64{0, 1, 127, 128, 16383, 16384, math.MaxUint32, 1 << 63, math.MaxUint64, g.r.Uint64(), g.r.Uint64N(1 << 14)}
	floats := []float64{0, math.Copysign(0, -1), 1, -1.5, math.Inf(1), math.Inf(-1), math.NaN(), math.SmallestNonzeroFloat64, math.MaxFloat64, g.r.NormFloat64()}
	strs := []string{"", "a", "héllo, 世界", strings.Repeat("x", 127), strings.Repeat("y", 128), strings.Repeat("z", 20000), fmt.Sprint(g.r.Uint64())}
	i, u, f, s := ints[g.pick(len(ints))], uints[g.pick(len(uints))], floats[g.pick(len(floats))], strs[g.pick(len(strs))]
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(g.pick(2) == 1)
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber([]int32{0, 1, -1, 7, math.MinInt32}[g.pick(5)]))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(i))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(i)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(u))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(u)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(f))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(f)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s)
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(s))
	}
	panic(fd.Kind())
}

// fill sets about half the fields of m, recursing into messages to depth.
func (g *filler) fill(m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if g.pick(2) == 0 {
			continue
		}
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range g.pick(4) {
				key := g.scalar(fd.MapKey()).MapKey()
				if fd.MapValue().Message() != nil {
					if depth == 0 {
						continue
					}
					v := mp.NewValue()
					g.fill(v.Message(), depth-1)
					mp.Set(key, v)
				} else {
					mp.Set(key, g.scalar(fd.MapValue()))
				}
			}
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range g.pick(5) {
				if fd.Message() != nil {
					if depth == 0 {
						break
					}
					e := l.NewElement()
					g.fill(e.Message(), depth-1)
					l.Append(e)
				} else {
					l.Append(g.scalar(fd))
				}
			}
		case fd.Message() != nil:
			if depth > 0 {
				g.fill(m.Mutable(fd).Message(), depth-1)
			}
		default:
			m.Set(fd, g.scalar(fd))
		}
	}
}

var deterministic = proto.MarshalOptions{Deterministic: true}

// checkBothWays encodes m with our code and with protobuf-go and wants the
// same bytes; then decodes protobuf-go's bytes with our walker into a fresh
// message and wants it equal to m.
func checkBothWays(t *testing.T, label string, m protoreflect.Message) {
	t.Helper()
	want, err := deterministic.Marshal(m.Interface())
	if err != nil {
		t.Fatalf("%s: proto.Marshal: %v", label, err)
	}
	got, err := appendMessage(nil, m)
	if err != nil {
		t.Fatalf("%s: wire encoding: %v", label, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: wire bytes differ from protobuf-go's (%d vs %d bytes)\nwire:     % x\nprotobuf: % x", label, len(got), len(want), trim(got), trim(want))
	}
	decoded := m.New()
	if err := decodeMessage(want, decoded); err != nil {
		t.Fatalf("%s: wire decoding of protobuf-go's bytes: %v", label, err)
	}
	if !proto.Equal(decoded.Interface(), m.Interface()) {
		t.Fatalf("%s: wire decoded\n%v\nwant\n%v", label, decoded.Interface(), m.Interface())
	}
}

func trim(b []byte) []byte {
	if len(b) > 256 {
		return b[:256]
	}
	return b
}

func TestRandomMessagesAllTypes(t *testing.T) {
	md := messageDescriptor(t, allTypesFile(), "AllTypes")
	g := &filler{rand.New(rand.NewPCG(1, 2))}
	for i := range 300 {
		m := dynamicpb.NewMessage(md)
		g.fill(m, 2)
		checkBothWays(t, fmt.Sprintf("AllTypes #%d", i), m)
	}
}

func TestRandomMessagesLegacyGroups(t *testing.T) {
	md := messageDescriptor(t, legacyFile(), "Legacy")
	g := &filler{rand.New(rand.NewPCG(3, 4))}
	for i := range 300 {
		m := dynamicpb.NewMessage(md)
		g.fill(m, 3)
		checkBothWays(t, fmt.Sprintf("Legacy #%d", i), m)
	}
	// proto2 strings are not checked for UTF-8, by either side.
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("s"), protoreflect.ValueOfString("\xff\xfe"))
	checkBothWays(t, "Legacy with invalid UTF-8", m)
}

// TestZeroValuesAreNotWritten sets every implicit-presence scalar to its
// zero value explicitly: neither side writes anything.
func TestZeroValuesAreNotWritten(t *testing.T) {
	md := messageDescriptor(t, allTypesFile(), "AllTypes")
	m := dynamicpb.NewMessage(md)
	for i := 0; i < md.Fields().Len(); i++ {
		fd := md.Fields().Get(i)
		if !fd.IsList() && !fd.IsMap() && fd.Message() == nil && !fd.HasPresence() {
			m.Set(fd, fd.Default())
		}
	}
	got, err := appendMessage(nil, m)
	if err != nil || len(got) != 0 {
		t.Errorf("zero AllTypes: wire wrote % x (%v), want nothing", got, err)
	}
	checkBothWays(t, "zero AllTypes", m)
	// With explicit presence, a zero value is written.
	m.Set(md.Fields().ByName("opt_int32"), protoreflect.ValueOfInt32(0))
	m.Set(md.Fields().ByName("o_string"), protoreflect.ValueOfString(""))
	checkBothWays(t, "present zeros", m)
}

// TestWellKnownTypes runs the comparison on protobuf-go's generated types:
// descriptor.proto's own descriptor (a large proto2 message of nested,
// repeated and enum fields) and a structpb.Struct (maps, oneofs, doubles).
func TestWellKnownTypes(t *testing.T) {
	fdProto := protodesc.ToFileDescriptorProto(descriptorpb.File_google_protobuf_descriptor_proto)
	checkBothWays(t, "descriptor.proto", fdProto.ProtoReflect())
	checkBothWays(t, "alltypes descriptor", allTypesFile().ProtoReflect())

	s, err := structpb.NewStruct(map[string]any{
		"name":   "h2rpc",
		"stars":  1.5e3,
		"ok":     true,
		"none":   nil,
		"list":   []any{1.0, "two", false, nil, map[string]any{"deep": []any{math.Copysign(0, -1)}}},
		"nested": map[string]any{"a": math.MaxFloat64, "b": strings.Repeat("long ", 100)},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkBothWays(t, "structpb.Struct", s.ProtoReflect())
}

// TestUnknownFieldsSkippedLikeProtobufGo: bytes from a writer that knows
// AllTypes are read by readers knowing less (Nested has a field 1, 2 and 3
// of other types; an empty message knows nothing). Our walker must keep the
// same fields protobuf-go keeps and set aside the same unknown bytes.
func TestUnknownFieldsSkippedLikeProtobufGo(t *testing.T) {
	md := messageDescriptor(t, allTypesFile(), "AllTypes")
	empty := (&descriptorpb.DescriptorProto{}).ProtoReflect().Descriptor() // fields 1-10, other types
	fewer := []protoreflect.MessageDescriptor{messageDescriptor(t, allTypesFile(), "Nested"), empty, md}
	g := &filler{rand.New(rand.NewPCG(5, 6))}
	compared, errs := 0, 0
	for i := range 100 {
		m := dynamicpb.NewMessage(md)
		g.fill(m, 2)
		b, err := deterministic.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, reader := range fewer {
			want := dynamicpb.NewMessage(reader)
			wantErr := proto.UnmarshalOptions{}.Unmarshal(b, want)
			got := dynamicpb.NewMessage(reader)
			gotErr := decodeMessage(b, got)
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("#%d as %s: protobuf-go error %v, wire error %v", i, reader.FullName(), wantErr, gotErr)
			}
			if wantErr != nil {
				// A string that the reader takes for a message (AllTypes'
				// s_string is DescriptorProto's reserved_range) may not
				// parse: both sides must refuse it.
				errs++
				continue
			}
			compared++
			if !proto.Equal(got, want) {
				t.Fatalf("#%d as %s: wire\n%v\nprotobuf-go\n%v", i, reader.FullName(), got, want)
			}
			if !bytes.Equal(got.GetUnknown(), want.GetUnknown()) {
				t.Fatalf("#%d as %s: unknown bytes differ", i, reader.FullName())
			}
		}
	}
	t.Logf("%d decodings compared equal, %d refused by both", compared, errs)
	if compared < 200 || errs == 0 {
		t.Errorf("too few cases of each kind: %d compared, %d refused", compared, errs)
	}
}

// TestInvalidUTF8RejectedLikeProtobufGo: a proto3 string with invalid UTF-8
// is refused by both encoders and both decoders.
func TestInvalidUTF8RejectedLikeProtobufGo(t *testing.T) {
	md := messageDescriptor(t, allTypesFile(), "AllTypes")
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("s_string"), protoreflect.ValueOfString("ok\xff"))
	if _, err := deterministic.Marshal(m); err == nil {
		t.Fatal("protobuf-go marshalled invalid UTF-8; the premise of this test is gone")
	}
	if _, err := appendMessage(nil, m); err == nil {
		t.Error("wire encoding accepted invalid UTF-8")
	}
	b := append([]byte{0x4a, 0x03}, "ok\xff"...) // field 9 (s_string), LEN
	if err := proto.Unmarshal(b, dynamicpb.NewMessage(md)); err == nil {
		t.Fatal("protobuf-go unmarshalled invalid UTF-8; the premise of this test is gone")
	}
	if err := decodeMessage(b, dynamicpb.NewMessage(md)); err == nil {
		t.Error("wire decoding accepted invalid UTF-8")
	}
}
