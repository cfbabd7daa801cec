package wire

import (
	"errors"
	"fmt"
)

// MaxMessageDepth is how deeply messages may nest inside one another before
// a generated decoder gives up with ErrMessageDepth (protobuf-go's default
// recursion limit). It bounds the stack spent on hostile input.
const MaxMessageDepth = 10000

// The errors generated message code returns besides the Err values of
// malformed input.
var (
	ErrMessageDepth = errors.New("wire: messages nested too deeply")
	ErrRequired     = errors.New("wire: required field not set")
)

// FieldError wraps err, met while encoding or decoding field num of the
// message whose full name is msg. Generated code uses it so that every error
// names where it happened; test the result with errors.Is.
func FieldError(msg string, num Number, err error) error {
	return fmt.Errorf("%s field %d: %w", msg, num, err)
}

// MessageError wraps err, met while decoding the message whose full name is
// msg outside any one field (a malformed tag, say).
func MessageError(msg string, err error) error {
	return fmt.Errorf("%s: %w", msg, err)
}

// FinishLen completes a length-delimited value written in place, so that an
// encoder need not size a nested message before writing it: at is the index
// of one byte reserved for the length, and the value runs from at+1 to the
// end of b. A value of 128 bytes or more needs a longer length varint: it is
// then moved up to make room, growing b. The result is the minimal encoding,
// the same bytes as AppendBytes would write.
func FinishLen(b []byte, at int) []byte {
	n := len(b) - at - 1
	if n < 0x80 {
		b[at] = byte(n)
		return b
	}
	k := SizeVarint(uint64(n)) - 1
	b = append(b, make([]byte, k)...)
	copy(b[at+1+k:], b[at+1:len(b)-k])
	AppendVarint(b[:at], uint64(n))
	return b
}
