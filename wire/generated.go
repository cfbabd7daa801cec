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
