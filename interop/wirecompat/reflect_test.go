package wirecompat

// A generic encoder and decoder written on package wire and driven by
// protoreflect descriptors, so that any protobuf-go message (dynamic or
// generated) can be encoded and decoded by our code and compared with
// protobuf-go's own result.

import (
	"fmt"
	"math"
	"sort"

	"github.com/h2rpc/h2rpc/wire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// reflectMessage adapts a protoreflect.Message to wire.Message.
type reflectMessage struct{ m protoreflect.Message }

func (r reflectMessage) AppendWire(b []byte) ([]byte, error) { return appendMessage(b, r.m) }
func (r reflectMessage) UnmarshalWire(b []byte) error        { return decodeMessage(b, r.m) }

// legacyOrder is the field order of protobuf-go's deterministic marshal
// (internal/order.LegacyFieldOrder): fields outside real oneofs by number,
// then oneof members by oneof declaration index.
func legacyOrder(md protoreflect.MessageDescriptor) []protoreflect.FieldDescriptor {
	fds := make([]protoreflect.FieldDescriptor, md.Fields().Len())
	for i := range fds {
		fds[i] = md.Fields().Get(i)
	}
	inOneof := func(fd protoreflect.FieldDescriptor) bool {
		od := fd.ContainingOneof()
		return od != nil && !od.IsSynthetic()
	}
	sort.SliceStable(fds, func(i, j int) bool {
		x, y := fds[i], fds[j]
		if inOneof(x) != inOneof(y) {
			return !inOneof(x)
		}
		if inOneof(x) && x.ContainingOneof() != y.ContainingOneof() {
			return x.ContainingOneof().Index() < y.ContainingOneof().Index()
		}
		return x.Number() < y.Number()
	})
	return fds
}

// appendMessage encodes m with package wire: the proto3 field helpers for
// fields with implicit presence (called for every such field, so that they
// must skip the zero ones themselves), tag plus value otherwise.
func appendMessage(b []byte, m protoreflect.Message) ([]byte, error) {
	for _, fd := range legacyOrder(m.Descriptor()) {
		var err error
		switch {
		case fd.IsMap():
			b, err = appendMap(b, fd, m.Get(fd).Map())
		case fd.IsList():
			b, err = appendList(b, fd, m.Get(fd).List())
		case fd.Kind() == protoreflect.MessageKind:
			if m.Has(fd) {
				b, err = wire.AppendMessageField(b, wire.Number(fd.Number()), reflectMessage{m.Get(fd).Message()})
			}
		case fd.Kind() == protoreflect.GroupKind:
			if m.Has(fd) {
				b = wire.AppendTag(b, wire.Number(fd.Number()), wire.TypeSGroup)
				b, err = appendMessage(b, m.Get(fd).Message())
				b = wire.AppendTag(b, wire.Number(fd.Number()), wire.TypeEGroup)
			}
		case !fd.HasPresence():
			b, err = appendImplicit(b, fd, m.Get(fd))
		case m.Has(fd):
			b = wire.AppendTag(b, wire.Number(fd.Number()), wireType(fd.Kind()))
			b, err = appendValue(b, fd, m.Get(fd))
		}
		if err != nil {
			return b, err
		}
	}
	return append(b, m.GetUnknown()...), nil
}

// appendImplicit writes a proto3 scalar field with implicit presence through
// the typed helper for its kind.
func appendImplicit(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, error) {
	num := wire.Number(fd.Number())
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return wire.AppendBoolField(b, num, v.Bool()), nil
	case protoreflect.EnumKind:
		return wire.AppendInt32Field(b, num, int32(v.Enum())), nil
	case protoreflect.Int32Kind:
		return wire.AppendInt32Field(b, num, int32(v.Int())), nil
	case protoreflect.Sint32Kind:
		return wire.AppendSint32Field(b, num, int32(v.Int())), nil
	case protoreflect.Uint32Kind:
		return wire.AppendUint32Field(b, num, uint32(v.Uint())), nil
	case protoreflect.Int64Kind:
		return wire.AppendInt64Field(b, num, v.Int()), nil
	case protoreflect.Sint64Kind:
		return wire.AppendSint64Field(b, num, v.Int()), nil
	case protoreflect.Uint64Kind:
		return wire.AppendUint64Field(b, num, v.Uint()), nil
	case protoreflect.Sfixed32Kind:
		return wire.AppendFixed32Field(b, num, uint32(int32(v.Int()))), nil
	case protoreflect.Fixed32Kind:
		return wire.AppendFixed32Field(b, num, uint32(v.Uint())), nil
	case protoreflect.FloatKind:
		return wire.AppendFloatField(b, num, float32(v.Float())), nil
	case protoreflect.Sfixed64Kind:
		return wire.AppendFixed64Field(b, num, uint64(v.Int())), nil
	case protoreflect.Fixed64Kind:
		return wire.AppendFixed64Field(b, num, v.Uint()), nil
	case protoreflect.DoubleKind:
		return wire.AppendDoubleField(b, num, v.Float()), nil
	case protoreflect.StringKind:
		if err := wire.CheckUTF8(num, v.String()); err != nil {
			return b, err
		}
		return wire.AppendStringField(b, num, v.String()), nil
	case protoreflect.BytesKind:
		return wire.AppendBytesField(b, num, v.Bytes()), nil
	}
	return b, fmt.Errorf("field %v: no implicit-presence encoding for kind %v", fd.FullName(), fd.Kind())
}

// appendValue writes a value without its tag.
func appendValue(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		if v.Bool() {
			return wire.AppendVarint(b, 1), nil
		}
		return wire.AppendVarint(b, 0), nil
	case protoreflect.EnumKind:
		return wire.AppendVarint(b, uint64(int64(v.Enum()))), nil
	case protoreflect.Int32Kind, protoreflect.Int64Kind:
		return wire.AppendVarint(b, uint64(v.Int())), nil
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return wire.AppendZigZag(b, v.Int()), nil
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind:
		return wire.AppendVarint(b, v.Uint()), nil
	case protoreflect.Sfixed32Kind:
		return wire.AppendFixed32(b, uint32(int32(v.Int()))), nil
	case protoreflect.Fixed32Kind:
		return wire.AppendFixed32(b, uint32(v.Uint())), nil
	case protoreflect.FloatKind:
		return wire.AppendFixed32(b, math.Float32bits(float32(v.Float()))), nil
	case protoreflect.Sfixed64Kind:
		return wire.AppendFixed64(b, uint64(v.Int())), nil
	case protoreflect.Fixed64Kind:
		return wire.AppendFixed64(b, v.Uint()), nil
	case protoreflect.DoubleKind:
		return wire.AppendFixed64(b, math.Float64bits(v.Float())), nil
	case protoreflect.StringKind:
		if isProto3String(fd) {
			if err := wire.CheckUTF8(wire.Number(fd.Number()), v.String()); err != nil {
				return b, err
			}
		}
		return wire.AppendString(b, v.String()), nil
	case protoreflect.BytesKind:
		return wire.AppendBytes(b, v.Bytes()), nil
	case protoreflect.MessageKind:
		// The length is unknown until the body is written: AppendMessageField
		// does that dance, so write through it and drop the tag it adds.
		start := len(b)
		out, err := wire.AppendMessageField(b, wire.Number(fd.Number()), reflectMessage{v.Message()})
		if err != nil {
			return b, err
		}
		tag := wire.SizeTag(wire.Number(fd.Number()))
		return append(out[:start], out[start+tag:]...), nil
	case protoreflect.GroupKind:
		b, err := appendMessage(b, v.Message())
		return wire.AppendTag(b, wire.Number(fd.Number()), wire.TypeEGroup), err
	}
	return b, fmt.Errorf("field %v: unknown kind %v", fd.FullName(), fd.Kind())
}

func isProto3String(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() == protoreflect.StringKind && fd.ParentFile() != nil && fd.ParentFile().Syntax() == protoreflect.Proto3
}

func appendList(b []byte, fd protoreflect.FieldDescriptor, l protoreflect.List) ([]byte, error) {
	if l.Len() == 0 {
		return b, nil
	}
	if fd.IsPacked() {
		var payload []byte
		for i := 0; i < l.Len(); i++ {
			var err error
			if payload, err = appendValue(payload, fd, l.Get(i)); err != nil {
				return b, err
			}
		}
		return wire.AppendBytes(wire.AppendTag(b, wire.Number(fd.Number()), wire.TypeLen), payload), nil
	}
	for i := 0; i < l.Len(); i++ {
		b = wire.AppendTag(b, wire.Number(fd.Number()), wireType(fd.Kind()))
		var err error
		if b, err = appendValue(b, fd, l.Get(i)); err != nil {
			return b, err
		}
	}
	return b, nil
}

// mapEntry is a map entry as a wire.Message: key and value, both always
// written, as protobuf-go does.
type mapEntry struct {
	fd  protoreflect.FieldDescriptor
	key protoreflect.MapKey
	val protoreflect.Value
}

func (e mapEntry) AppendWire(b []byte) ([]byte, error) {
	kfd, vfd := e.fd.MapKey(), e.fd.MapValue()
	b = wire.AppendTag(b, wire.Number(kfd.Number()), wireType(kfd.Kind()))
	b, err := appendValue(b, kfd, e.key.Value())
	if err != nil {
		return b, err
	}
	b = wire.AppendTag(b, wire.Number(vfd.Number()), wireType(vfd.Kind()))
	return appendValue(b, vfd, e.val)
}

func (mapEntry) UnmarshalWire([]byte) error { return fmt.Errorf("mapEntry: encode only") }

func appendMap(b []byte, fd protoreflect.FieldDescriptor, mp protoreflect.Map) ([]byte, error) {
	var keys []protoreflect.MapKey
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	// protobuf-go's deterministic key order: false before true, numbers
	// ascending, strings by bytes.
	sort.Slice(keys, func(i, j int) bool {
		x, y := keys[i].Interface(), keys[j].Interface()
		switch x := x.(type) {
		case bool:
			return !x && y.(bool)
		case int32, int64:
			return keys[i].Int() < keys[j].Int()
		case uint32, uint64:
			return keys[i].Uint() < keys[j].Uint()
		case string:
			return x < y.(string)
		}
		panic(fmt.Sprintf("map key type %T", x))
	})
	for _, k := range keys {
		var err error
		b, err = wire.AppendMessageField(b, wire.Number(fd.Number()), mapEntry{fd, k, mp.Get(k)})
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// wireType is the wire type of a kind's unpacked encoding.
func wireType(k protoreflect.Kind) wire.Type {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
		protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return wire.TypeVarint
	case protoreflect.Sfixed32Kind, protoreflect.Fixed32Kind, protoreflect.FloatKind:
		return wire.TypeI32
	case protoreflect.Sfixed64Kind, protoreflect.Fixed64Kind, protoreflect.DoubleKind:
		return wire.TypeI64
	case protoreflect.GroupKind:
		return wire.TypeSGroup
	}
	return wire.TypeLen // string, bytes, message
}

// decodeMessage merges the fields of b into m using wire.Range: known fields
// with a fitting wire type are decoded, everything else is kept as unknown
// fields (as protobuf-go does), so the result can be compared with
// proto.Equal against protobuf-go's own decoding.
func decodeMessage(b []byte, m protoreflect.Message) error {
	return wire.Range(b, func(f wire.Field) error {
		fd := m.Descriptor().Fields().ByNumber(protoreflect.FieldNumber(f.Num))
		if fd == nil || !fits(fd, f.Type) {
			m.SetUnknown(append(m.GetUnknown(), f.Raw...))
			return nil
		}
		switch {
		case fd.IsMap():
			return decodeMapEntry(f.Bytes, fd, m.Mutable(fd).Map())
		case fd.IsList():
			l := m.Mutable(fd).List()
			if f.Type == wire.TypeLen && wireType(fd.Kind()) != wire.TypeLen {
				return decodePacked(f.Bytes, fd, l)
			}
			if fd.Message() != nil {
				e := l.NewElement()
				if err := decodeMessage(f.Bytes, e.Message()); err != nil {
					return err
				}
				l.Append(e)
				return nil
			}
			v, err := scalar(fd, f)
			if err != nil {
				return err
			}
			l.Append(v)
		case fd.Message() != nil:
			return decodeMessage(f.Bytes, m.Mutable(fd).Message()) // messages merge
		default:
			v, err := scalar(fd, f)
			if err != nil {
				return err
			}
			m.Set(fd, v)
		}
		return nil
	})
}

// decodeMapEntry decodes one map entry: key 1 and value 2, each defaulting
// to its zero value when absent (an empty message for message values).
func decodeMapEntry(b []byte, fd protoreflect.FieldDescriptor, mp protoreflect.Map) error {
	kfd, vfd := fd.MapKey(), fd.MapValue()
	key := kfd.Default()
	var val protoreflect.Value
	if vfd.Message() != nil {
		val = mp.NewValue()
	} else {
		val = vfd.Default()
	}
	err := wire.Range(b, func(f wire.Field) error {
		var err error
		switch {
		case f.Num == 1 && fits(kfd, f.Type):
			key, err = scalar(kfd, f)
		case f.Num == 2 && fits(vfd, f.Type) && vfd.Message() != nil:
			err = decodeMessage(f.Bytes, val.Message())
		case f.Num == 2 && fits(vfd, f.Type):
			val, err = scalar(vfd, f)
		}
		return err
	})
	if err != nil {
		return err
	}
	mp.Set(key.MapKey(), val)
	return nil
}

// fits reports whether a field of wire type t can hold a value of fd.
func fits(fd protoreflect.FieldDescriptor, t wire.Type) bool {
	want := wireType(fd.Kind())
	if fd.IsList() && t == wire.TypeLen && (want == wire.TypeVarint || want == wire.TypeI32 || want == wire.TypeI64) {
		return true // packed
	}
	return t == want
}

func decodePacked(b []byte, fd protoreflect.FieldDescriptor, l protoreflect.List) error {
	for len(b) > 0 {
		f := wire.Field{Num: wire.Number(fd.Number()), Type: wireType(fd.Kind())}
		var n int
		switch f.Type {
		case wire.TypeVarint:
			f.Bits, n = wire.ConsumeVarint(b)
		case wire.TypeI32:
			var v uint32
			v, n = wire.ConsumeFixed32(b)
			f.Bits = uint64(v)
		case wire.TypeI64:
			f.Bits, n = wire.ConsumeFixed64(b)
		}
		if n < 0 {
			return fmt.Errorf("packed field %d: %w", wire.Number(fd.Number()), wire.ParseError(n))
		}
		v, err := scalar(fd, f)
		if err != nil {
			return err
		}
		l.Append(v)
		b = b[n:]
	}
	return nil
}

// scalar converts a field to a value of fd's kind with the Field methods.
func scalar(fd protoreflect.FieldDescriptor, f wire.Field) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(f.Bool()), nil
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(f.Int32())), nil
	case protoreflect.Int32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(f.Int32()), nil
	case protoreflect.Sint32Kind:
		return protoreflect.ValueOfInt32(f.Sint32()), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(f.Uint32()), nil
	case protoreflect.Int64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(f.Int64()), nil
	case protoreflect.Sint64Kind:
		return protoreflect.ValueOfInt64(f.Sint64()), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(f.Bits), nil
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(f.Float()), nil
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(f.Double()), nil
	case protoreflect.StringKind:
		if isProto3String(fd) {
			s, err := f.UTF8()
			return protoreflect.ValueOfString(s), err
		}
		return protoreflect.ValueOfString(string(f.Bytes)), nil
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes(append([]byte{}, f.Bytes...)), nil
	}
	return protoreflect.Value{}, fmt.Errorf("field %v: kind %v is not scalar", fd.FullName(), fd.Kind())
}
