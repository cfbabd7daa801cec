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

// LenBytes returns the total length of the values of the LEN fields of the
// message encoding b whose numbers are in the set fields (bit n stands for
// field n; numbers 1 to 63). A generated decoder calls it at a message's
// first string field to allocate the bytes of all its strings at once. It
// stops at the first malformed field, which the decoder then reports.
func LenBytes(b []byte, fields uint64) (n int) {
	for len(b) > 0 {
		// Fields 1 to 15, inline: the common case.
		if t := b[0]; 8 <= t && t < 0x80 {
			switch Type(t & 7) {
			case TypeLen:
				if len(b) >= 2 && b[1] < 0x80 {
					l := int(b[1])
					if l > len(b)-2 {
						return n
					}
					if fields&(1<<(t>>3)) != 0 {
						n += l
					}
					b = b[2+l:]
					continue
				}
			case TypeVarint:
				// Up to 9 bytes: a tenth may overflow, which ConsumeVarint checks.
				i := 1
				for i < len(b) && i <= 9 && b[i] >= 0x80 {
					i++
				}
				if i < len(b) && i <= 9 {
					b = b[i+1:]
					continue
				}
			case TypeI64:
				if len(b) >= 9 {
					b = b[9:]
					continue
				}
			case TypeI32:
				if len(b) >= 5 {
					b = b[5:]
					continue
				}
			}
		}
		num, typ, k := ConsumeTag(b)
		if k < 0 {
			return n
		}
		b = b[k:]
		if typ == TypeLen {
			v, k := ConsumeBytes(b)
			if k < 0 {
				return n
			}
			if num < 64 && fields&(1<<num) != 0 {
				n += len(v)
			}
			b = b[k:]
			continue
		}
		if k = ConsumeFieldValue(num, typ, b); k < 0 {
			return n
		}
		b = b[k:]
	}
	return n
}
