package wiremsg_test

import (
	"math"
	"math/rand/v2"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// populate sets a random selection of m's fields to random values, nesting
// messages up to depth levels.
func populate(r *rand.Rand, m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if r.IntN(3) == 0 && fd.Cardinality() != protoreflect.Required {
			continue
		}
		// Past depth, no messages: not even as map values, which could be
		// left without their required fields.
		if fd.Kind() == protoreflect.MessageKind && depth <= 0 {
			continue
		}
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range r.IntN(4) {
				k := randomValue(r, fd.MapKey(), nil, 0).MapKey()
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					v := mp.NewValue()
					populate(r, v.Message(), depth-1)
					mp.Set(k, v)
				} else {
					mp.Set(k, randomValue(r, fd.MapValue(), nil, 0))
				}
			}
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range r.IntN(4) {
				if fd.Kind() == protoreflect.MessageKind {
					v := l.NewElement()
					populate(r, v.Message(), depth-1)
					l.Append(v)
				} else {
					l.Append(randomValue(r, fd, nil, 0))
				}
			}
		case fd.Kind() == protoreflect.MessageKind:
			populate(r, m.Mutable(fd).Message(), depth-1)
		default:
			m.Set(fd, randomValue(r, fd, m, depth))
		}
	}
}

var specialFloats = []float64{0, math.Copysign(0, -1), 1, -1.5, math.Inf(1), math.Inf(-1), math.MaxFloat64, math.SmallestNonzeroFloat64}

func randomValue(r *rand.Rand, fd protoreflect.FieldDescriptor, _ protoreflect.Message, _ int) protoreflect.Value {
	u := r.Uint64() >> r.IntN(64)
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.IntN(2) == 0)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		if !fd.Enum().IsClosed() && r.IntN(4) == 0 {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(int32(u)))
		}
		return protoreflect.ValueOfEnum(vals.Get(r.IntN(vals.Len())).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(u))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(u))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(u))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(u)
	case protoreflect.FloatKind:
		f := specialFloats[r.IntN(len(specialFloats))]
		if r.IntN(2) == 0 {
			f = r.NormFloat64()
		}
		return protoreflect.ValueOfFloat32(float32(f))
	case protoreflect.DoubleKind:
		f := specialFloats[r.IntN(len(specialFloats))]
		if r.IntN(2) == 0 {
			f = r.NormFloat64()
		}
		return protoreflect.ValueOfFloat64(f)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(randomString(r))
	case protoreflect.BytesKind:
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return protoreflect.ValueOfBytes(b)
	}
	panic("randomValue: " + fd.Kind().String())
}

func randomString(r *rand.Rand) string {
	var sb strings.Builder
	for range r.IntN(12) {
		switch r.IntN(4) {
		case 0:
			sb.WriteRune(rune(0x80 + r.IntN(0x700)))
		case 1:
			sb.WriteRune('😀')
		default:
			sb.WriteByte(byte('a' + r.IntN(26)))
		}
	}
	return sb.String()
}
