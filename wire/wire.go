package wire

import (
	"errors"
	"strconv"
)

// Number is a field number. Valid numbers are MinNumber to MaxNumber. (Numbers
// 19000 to 19999 are reserved for the protobuf implementation, but only protoc
// enforces that; this package accepts them like any other.)
type Number int32

// The range of valid field numbers: the number must fit in the 29 bits a
// 32-bit tag leaves beside the 3-bit wire type.
const (
	MinNumber Number = 1
	MaxNumber Number = 1<<29 - 1
)

// IsValid reports whether num is a valid field number.
func (num Number) IsValid() bool { return MinNumber <= num && num <= MaxNumber }

// Type is a wire type: how a field's value is encoded, and so how long it is.
// The names are those of the protobuf encoding guide.
type Type int8

// The six wire types. Values 6 and 7 are invalid.
const (
	TypeVarint Type = 0 // VARINT: int32, int64, uint32, uint64, sint32, sint64, bool, enum
	TypeI64    Type = 1 // I64: fixed64, sfixed64, double (8 bytes, little-endian)
	TypeLen    Type = 2 // LEN: string, bytes, embedded messages, packed repeated fields
	TypeSGroup Type = 3 // SGROUP: group start (deprecated)
	TypeEGroup Type = 4 // EGROUP: group end (deprecated)
	TypeI32    Type = 5 // I32: fixed32, sfixed32, float (4 bytes, little-endian)
)

var typeNames = [...]string{
	TypeVarint: "VARINT",
	TypeI64:    "I64",
	TypeLen:    "LEN",
	TypeSGroup: "SGROUP",
	TypeEGroup: "EGROUP",
	TypeI32:    "I32",
}

// String returns the encoding guide's name for the type, such as "LEN", or
// "Type(n)" for an invalid one.
func (t Type) String() string {
	if 0 <= t && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// MaxGroupDepth is how deeply groups may nest inside one another before a
// decoder gives up with ErrDepth (the default recursion limit of the C++
// protobuf parser). It bounds the work and stack spent skipping hostile input.
const MaxGroupDepth = 100

// The errors of malformed input. Decoders wrap them with the field number and
// offset; test with errors.Is.
var (
	ErrTruncated   = errors.New("wire: truncated input")
	ErrOverflow    = errors.New("wire: varint longer than 10 bytes or overflowing 64 bits")
	ErrFieldNumber = errors.New("wire: invalid field number")
	ErrWireType    = errors.New("wire: invalid wire type")
	ErrEndGroup    = errors.New("wire: unexpected or mismatched end of group")
	ErrDepth       = errors.New("wire: groups nested too deeply")
	ErrInvalidUTF8 = errors.New("wire: string field contains invalid UTF-8")
)

// Error codes returned as negative lengths by the Consume functions.
const (
	errCodeTruncated = -1 - iota
	errCodeOverflow
	errCodeFieldNumber
	errCodeWireType
	errCodeEndGroup
	errCodeDepth
)

// ParseError returns the error that a negative length returned by a Consume
// function stands for, or nil if n is not negative.
func ParseError(n int) error {
	switch {
	case n >= 0:
		return nil
	case n == errCodeTruncated:
		return ErrTruncated
	case n == errCodeOverflow:
		return ErrOverflow
	case n == errCodeFieldNumber:
		return ErrFieldNumber
	case n == errCodeWireType:
		return ErrWireType
	case n == errCodeEndGroup:
		return ErrEndGroup
	case n == errCodeDepth:
		return ErrDepth
	}
	return errors.New("wire: unknown parse error code " + strconv.Itoa(n))
}
