package wire

import (
	"math"
	"math/bits"
	"strconv"
)

// AppendVarint appends v as a base-128 varint: seven bits per byte, least
// significant group first, the high bit set on every byte but the last. It
// writes 1 to 10 bytes.
func AppendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// SizeVarint returns the number of bytes AppendVarint writes for v.
func SizeVarint(v uint64) int {
	// bits.Len64(0) is 0, and -1/7 truncates to 0, so v == 0 gives 1.
	return 1 + (bits.Len64(v)-1)/7
}

// AppendTag appends the tag that starts a field: the varint num<<3 | typ.
//
// It panics if num is not a valid field number or typ not a valid wire type:
// both are constants of the message's code, so a bad one is a programming
// error, never bad input, and writing it would produce bytes no reader accepts.
func AppendTag(b []byte, num Number, typ Type) []byte {
	if !num.IsValid() || typ < 0 || typ > TypeI32 {
		panic("wire: AppendTag(" + strconv.Itoa(int(num)) + ", " + typ.String() + "): invalid field number or wire type")
	}
	return AppendVarint(b, uint64(num)<<3|uint64(typ))
}

// SizeTag returns the number of bytes AppendTag writes for num.
func SizeTag(num Number) int { return SizeVarint(uint64(num) << 3) }

// EncodeZigZag maps a signed integer to an unsigned one so that numbers of
// small magnitude, negative or not, get short varints (sint32 and sint64):
// 0→0, -1→1, 1→2, -2→3, ... For a sint32, pass the int32 value converted to
// int64; the result is the same as 32-bit zigzag.
func EncodeZigZag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// DecodeZigZag reverses EncodeZigZag. For a sint32, convert the result to
// int32 (protobuf truncates to the low 32 bits).
func DecodeZigZag(v uint64) int64 { return int64(v>>1) ^ -int64(v&1) }

// AppendZigZag appends v zigzag-encoded as a varint (sint32, sint64).
func AppendZigZag(b []byte, v int64) []byte { return AppendVarint(b, EncodeZigZag(v)) }

// AppendFixed32 appends v as 4 bytes, little-endian (fixed32, sfixed32, float).
func AppendFixed32(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

// AppendFixed64 appends v as 8 bytes, little-endian (fixed64, sfixed64, double).
func AppendFixed64(b []byte, v uint64) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24),
		byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

// AppendBytes appends v as a length-delimited value: its length as a varint,
// then the bytes.
func AppendBytes(b []byte, v []byte) []byte {
	return append(AppendVarint(b, uint64(len(v))), v...)
}

// AppendString appends s as a length-delimited value, like AppendBytes.
func AppendString(b []byte, s string) []byte {
	return append(AppendVarint(b, uint64(len(s))), s...)
}

// SizeBytes returns the size of a length-delimited value of n bytes, length
// prefix included.
func SizeBytes(n int) int { return SizeVarint(uint64(n)) + n }

// AppendBoolField appends field num as a bool (VARINT 1) unless v is false.
func AppendBoolField(b []byte, num Number, v bool) []byte {
	if !v {
		return b
	}
	return append(AppendTag(b, num, TypeVarint), 1)
}

// AppendInt32Field appends field num as an int32 or enum unless v is 0. A
// negative value is sign-extended to 64 bits and so takes 10 bytes, as
// protobuf requires so that int32 and int64 fields are interchangeable.
func AppendInt32Field(b []byte, num Number, v int32) []byte {
	if v == 0 {
		return b
	}
	return AppendVarint(AppendTag(b, num, TypeVarint), uint64(int64(v)))
}

// AppendInt64Field appends field num as an int64 unless v is 0.
func AppendInt64Field(b []byte, num Number, v int64) []byte {
	if v == 0 {
		return b
	}
	return AppendVarint(AppendTag(b, num, TypeVarint), uint64(v))
}

// AppendUint32Field appends field num as a uint32 unless v is 0.
func AppendUint32Field(b []byte, num Number, v uint32) []byte {
	if v == 0 {
		return b
	}
	return AppendVarint(AppendTag(b, num, TypeVarint), uint64(v))
}

// AppendUint64Field appends field num as a uint64 unless v is 0.
func AppendUint64Field(b []byte, num Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return AppendVarint(AppendTag(b, num, TypeVarint), v)
}

// AppendSint32Field appends field num as a zigzag-encoded sint32 unless v is 0.
func AppendSint32Field(b []byte, num Number, v int32) []byte {
	if v == 0 {
		return b
	}
	return AppendZigZag(AppendTag(b, num, TypeVarint), int64(v))
}

// AppendSint64Field appends field num as a zigzag-encoded sint64 unless v is 0.
func AppendSint64Field(b []byte, num Number, v int64) []byte {
	if v == 0 {
		return b
	}
	return AppendZigZag(AppendTag(b, num, TypeVarint), v)
}

// AppendFixed32Field appends field num as a fixed32 (I32) unless v is 0. For
// an sfixed32, pass uint32(v).
func AppendFixed32Field(b []byte, num Number, v uint32) []byte {
	if v == 0 {
		return b
	}
	return AppendFixed32(AppendTag(b, num, TypeI32), v)
}

// AppendFixed64Field appends field num as a fixed64 (I64) unless v is 0. For
// an sfixed64, pass uint64(v).
func AppendFixed64Field(b []byte, num Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return AppendFixed64(AppendTag(b, num, TypeI64), v)
}

// AppendFloatField appends field num as a float (I32) unless v is +0.0.
// Negative zero and NaN are written, as protobuf does: only the all-zero bit
// pattern is the default.
func AppendFloatField(b []byte, num Number, v float32) []byte {
	return AppendFixed32Field(b, num, math.Float32bits(v))
}

// AppendDoubleField appends field num as a double (I64) unless v is +0.0.
func AppendDoubleField(b []byte, num Number, v float64) []byte {
	return AppendFixed64Field(b, num, math.Float64bits(v))
}

// AppendStringField appends field num as a string (LEN) unless s is empty.
// It does not check that s is UTF-8, which proto3 requires of string fields;
// a Message does that with CheckUTF8 before writing.
func AppendStringField(b []byte, num Number, s string) []byte {
	if s == "" {
		return b
	}
	return AppendString(AppendTag(b, num, TypeLen), s)
}

// AppendBytesField appends field num as bytes (LEN) unless v is empty.
func AppendBytesField(b []byte, num Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	return AppendBytes(AppendTag(b, num, TypeLen), v)
}

// AppendMessageField appends m as the embedded message field num (LEN). An
// embedded message has explicit presence, so it is always written, even when
// empty; to leave the field unset, do not call this (for example, when the
// pointer holding the message is nil).
//
// The message is encoded in place, after a one-byte length placeholder; if
// its encoding is 128 bytes or longer, it is moved up by the extra bytes the
// length needs. On error it returns b with its original length.
func AppendMessageField(b []byte, num Number, m Message) ([]byte, error) {
	orig := len(b)
	b = append(AppendTag(b, num, TypeLen), 0)
	start := len(b)
	b, err := m.AppendWire(b)
	if err != nil {
		return b[:orig], err
	}
	n := len(b) - start
	if n < 0x80 {
		b[start-1] = byte(n)
		return b, nil
	}
	extra := SizeVarint(uint64(n)) - 1
	b = append(b, make([]byte, extra)...)
	copy(b[start+extra:], b[start:start+n])
	AppendVarint(b[:start-1], uint64(n))
	return b, nil
}
