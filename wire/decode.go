package wire

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// ConsumeVarint parses a varint. It accepts non-minimal encodings (such as
// 0x80 0x00 for 0), as protobuf parsers do, and rejects a varint that is
// longer than 10 bytes or whose tenth byte carries bits beyond the 64th
// (ErrOverflow), or that runs off the end of b (ErrTruncated).
func ConsumeVarint(b []byte) (v uint64, n int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if i == 9 {
			// The tenth byte holds bit 63 only: any more would overflow.
			if c > 1 {
				return 0, errCodeOverflow
			}
			return v | uint64(c)<<63, 10
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, errCodeTruncated
}

// ConsumeTag parses a field's tag. It rejects field number 0 and numbers
// above MaxNumber (ErrFieldNumber), and wire types 6 and 7 (ErrWireType).
func ConsumeTag(b []byte) (Number, Type, int) {
	v, n := ConsumeVarint(b)
	if n < 0 {
		return 0, 0, n
	}
	num := v >> 3
	if num < uint64(MinNumber) || num > uint64(MaxNumber) {
		return 0, 0, errCodeFieldNumber
	}
	typ := Type(v & 7)
	if typ > TypeI32 {
		return 0, 0, errCodeWireType
	}
	return Number(num), typ, n
}

// ConsumeFixed32 parses a 4-byte little-endian value.
func ConsumeFixed32(b []byte) (v uint32, n int) {
	if len(b) < 4 {
		return 0, errCodeTruncated
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24, 4
}

// ConsumeFixed64 parses an 8-byte little-endian value.
func ConsumeFixed64(b []byte) (v uint64, n int) {
	if len(b) < 8 {
		return 0, errCodeTruncated
	}
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56, 8
}

// ConsumeBytes parses a length-delimited value and returns its contents,
// which alias b (with their capacity cut to their length, so appending to
// them cannot overwrite the rest of b). A length past the end of b is
// ErrTruncated.
func ConsumeBytes(b []byte) (v []byte, n int) {
	m, n := ConsumeVarint(b)
	if n < 0 {
		return nil, n
	}
	if m > uint64(len(b)-n) {
		return nil, errCodeTruncated
	}
	end := n + int(m)
	return b[n:end:end], end
}

// ConsumeGroup parses the body of group num, b starting just after its
// start-group tag, up to and including the end-group tag, which must carry the
// same number (ErrEndGroup). The body returned excludes the end-group tag; n
// includes it. Groups nested deeper than MaxGroupDepth fail with ErrDepth.
func ConsumeGroup(num Number, b []byte) (body []byte, n int) {
	return consumeGroup(num, b, 1)
}

// ConsumeFieldValue returns the length of the value of a field whose tag,
// with number num and wire type typ, has already been consumed; it is how a
// reader skips a field it does not know. A group's length includes its
// end-group tag. A lone end-group tag is ErrEndGroup.
func ConsumeFieldValue(num Number, typ Type, b []byte) (n int) {
	return consumeValue(num, typ, b, 0)
}

// consumeValue skips one value; depth is the number of groups around it.
func consumeValue(num Number, typ Type, b []byte, depth int) int {
	switch typ {
	case TypeVarint:
		_, n := ConsumeVarint(b)
		return n
	case TypeI32:
		_, n := ConsumeFixed32(b)
		return n
	case TypeI64:
		_, n := ConsumeFixed64(b)
		return n
	case TypeLen:
		_, n := ConsumeBytes(b)
		return n
	case TypeSGroup:
		_, n := consumeGroup(num, b, depth+1)
		return n
	case TypeEGroup:
		return errCodeEndGroup
	}
	return errCodeWireType
}

// consumeGroup parses a group body; depth is the group's own nesting level,
// 1 for a group that is a field of the message being parsed. Recursion is
// bounded by MaxGroupDepth, and each byte is read once.
func consumeGroup(num Number, b []byte, depth int) (body []byte, n int) {
	if depth > MaxGroupDepth {
		return nil, errCodeDepth
	}
	for i := 0; ; {
		num2, typ2, m := ConsumeTag(b[i:])
		if m < 0 {
			return nil, m
		}
		if typ2 == TypeEGroup {
			if num2 != num {
				return nil, errCodeEndGroup
			}
			return b[:i:i], i + m
		}
		v := consumeValue(num2, typ2, b[i+m:], depth)
		if v < 0 {
			return nil, v
		}
		i += m + v
	}
}

// Field is one field of a message, as Range hands it out. Its slices alias
// the buffer being walked: copy them (string(f.Bytes), bytes.Clone) to keep
// them beyond the buffer's life. Their capacity ends where they do, so
// appending to one copies rather than overwriting the next field.
type Field struct {
	Num  Number
	Type Type
	// Bits is the value of a VARINT field, or the bits of an I32 or I64
	// field; the methods below interpret it for each scalar type.
	Bits uint64
	// Bytes is the contents of a LEN field (without the length prefix), or
	// the body of a group (without its start and end tags).
	Bytes []byte
	// Raw is the whole field as it appeared in the input: tag, value and,
	// for a group, the end-group tag. A message that keeps unknown fields
	// appends Raw to its store of them and writes them back unchanged.
	Raw []byte
}

// Is reports whether f is field num with wire type typ. A message decodes a
// field it knows only when both match; protobuf parsers treat a known number
// arriving with another wire type as an unknown field.
func (f Field) Is(num Number, typ Type) bool { return f.Num == num && f.Type == typ }

// Bool interprets a VARINT as a bool: any nonzero value is true.
func (f Field) Bool() bool { return f.Bits != 0 }

// Int32 interprets a VARINT as an int32 or enum, or an I32 as an sfixed32.
// Like protobuf, it keeps the low 32 bits of a wider value.
func (f Field) Int32() int32 { return int32(f.Bits) }

// Uint32 interprets a VARINT as a uint32, or an I32 as a fixed32.
func (f Field) Uint32() uint32 { return uint32(f.Bits) }

// Int64 interprets a VARINT as an int64, or an I64 as an sfixed64. (For a
// uint64 or fixed64, use Bits.)
func (f Field) Int64() int64 { return int64(f.Bits) }

// Sint32 interprets a VARINT as a zigzag-encoded sint32.
func (f Field) Sint32() int32 { return int32(DecodeZigZag(f.Bits & math.MaxUint32)) }

// Sint64 interprets a VARINT as a zigzag-encoded sint64.
func (f Field) Sint64() int64 { return DecodeZigZag(f.Bits) }

// Float interprets an I32 as a float.
func (f Field) Float() float32 { return math.Float32frombits(uint32(f.Bits)) }

// Double interprets an I64 as a double.
func (f Field) Double() float64 { return math.Float64frombits(f.Bits) }

// UTF8 returns a copy of a LEN field's contents as a proto3 string, which
// must be valid UTF-8 (ErrInvalidUTF8).
func (f Field) UTF8() (string, error) {
	if !utf8.Valid(f.Bytes) {
		return "", fmt.Errorf("%w: field %d", ErrInvalidUTF8, f.Num)
	}
	return string(f.Bytes), nil
}

// CheckUTF8 returns an error wrapping ErrInvalidUTF8 if s, the value of
// proto3 string field num, is not valid UTF-8. protobuf-go refuses to marshal
// such a string and its peers refuse to unmarshal one, so a Message checks
// before writing.
func CheckUTF8(num Number, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: field %d", ErrInvalidUTF8, num)
	}
	return nil
}

// Range walks the fields of the message encoded in b, in order, calling fn
// for each. A reader handles the fields it knows and ignores the rest, which
// Range has already measured and stepped over: that is the rule that lets an
// old reader decode a newer writer's messages. Range itself allocates nothing.
//
// Range stops at the first malformed field with an error wrapping one of the
// Err values, naming the field and its offset; fields before it have already
// been passed to fn. A lone end-group tag is malformed (ErrEndGroup). If fn
// returns an error, Range stops and returns that error unchanged.
func Range(b []byte, fn func(Field) error) error {
	for off := 0; off < len(b); {
		rest := b[off:]
		num, typ, n := ConsumeTag(rest)
		if n < 0 {
			return fmt.Errorf("%w: tag at offset %d", ParseError(n), off)
		}
		f := Field{Num: num, Type: typ}
		var m int
		switch typ {
		case TypeVarint:
			f.Bits, m = ConsumeVarint(rest[n:])
		case TypeI32:
			var v uint32
			v, m = ConsumeFixed32(rest[n:])
			f.Bits = uint64(v)
		case TypeI64:
			f.Bits, m = ConsumeFixed64(rest[n:])
		case TypeLen:
			f.Bytes, m = ConsumeBytes(rest[n:])
		case TypeSGroup:
			f.Bytes, m = consumeGroup(num, rest[n:], 1)
		default: // TypeEGroup: ConsumeTag admits no other value
			m = errCodeEndGroup
		}
		if m < 0 {
			return fmt.Errorf("%w: field %d (%v) at offset %d", ParseError(m), num, typ, off)
		}
		f.Raw = rest[: n+m : n+m]
		if err := fn(f); err != nil {
			return err
		}
		off += n + m
	}
	return nil
}
