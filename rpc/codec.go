package rpc

import (
	"encoding"

	"github.com/h2rpc/h2rpc/wire"
)

// A Codec turns messages into bytes and back: the stub layer's data types
// meet the channel layer's byte strings here. Its Name is the content-subtype
// of the call: "proto" travels as content-type application/grpc (the
// default), any other name n as application/grpc+n. A server picks the codec
// for each request by that subtype; a client picks one per ClientConn
// (WithCodec) or per call (CallCodec). Implementations must be safe for
// concurrent use.
type Codec interface {
	Name() string
	// Marshal returns the encoding of v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into v. data is valid only during the call:
	// a codec that keeps bytes from it must copy them.
	Unmarshal(data []byte, v any) error
}

// AppendCodec is a Codec that can encode into a caller's buffer, which
// spares a copy per message; the channel layer uses it when a codec has it.
type AppendCodec interface {
	Codec
	// AppendMarshal appends the encoding of v to b.
	AppendMarshal(b []byte, v any) ([]byte, error)
}

// DefaultCodec is the codec calls and servers use unless told otherwise.
// Its name is "proto" (content-type application/grpc) because the message
// types it handles either are opaque bytes or marshal themselves, which for
// the generated types of this project (see package wire) means protobuf's
// wire format. It accepts:
//
//   - []byte (marshal only) and *[]byte: the message bytes as they are. On
//     Unmarshal into a *[]byte the bytes are copied. (Receiving into a
//     *[]byte with DefaultCodec, a call reads the message straight into the
//     slice's array, reused when large enough; after a failed receive the
//     slice keeps its length but its bytes may have changed.)
//   - types that marshal themselves: wire.Message (the protobuf wire format,
//     which this project's hand-written and generated types implement), or
//     else encoding.BinaryAppender or encoding.BinaryMarshaler to send and
//     encoding.BinaryUnmarshaler to receive.
//
// Other types go to the codec ExtendDefaultCodec installed (importing
// github.com/h2rpc/h2rpc/protobuf installs one for protobuf-go messages);
// without one they fail with an error naming the fix.
var DefaultCodec AppendCodec = defaultCodec{}

type defaultCodec struct{}

func (defaultCodec) Name() string { return "proto" }

func (c defaultCodec) Marshal(v any) ([]byte, error) { return c.AppendMarshal(nil, v) }

func (defaultCodec) AppendMarshal(b []byte, v any) ([]byte, error) {
	switch m := v.(type) {
	case []byte:
		return append(b, m...), nil
	case *[]byte:
		return append(b, *m...), nil
	case wire.Message:
		return m.AppendWire(b)
	case encoding.BinaryAppender:
		return m.AppendBinary(b)
	case encoding.BinaryMarshaler:
		data, err := m.MarshalBinary()
		if err != nil {
			return b, err
		}
		return append(b, data...), nil
	}
	return fallbackMarshal(b, v)
}

func (defaultCodec) Unmarshal(data []byte, v any) error {
	switch m := v.(type) {
	case *[]byte:
		*m = append((*m)[:0], data...)
		return nil
	case wire.Message:
		return m.UnmarshalWire(data)
	case encoding.BinaryUnmarshaler:
		return m.UnmarshalBinary(data)
	}
	return fallbackUnmarshal(data, v)
}

// bytesTarget returns m when the message may be read straight into it:
// codec is DefaultCodec, whose Unmarshal into a *[]byte would copy the
// bytes there anyway. Otherwise nil.
func bytesTarget(codec Codec, m any) *[]byte {
	if _, ok := codec.(defaultCodec); !ok {
		return nil
	}
	p, _ := m.(*[]byte)
	return p
}

// contentType returns the content-type for a codec: application/grpc for
// "proto", application/grpc+name otherwise.
func contentType(codecName string) string {
	if codecName == "proto" {
		return "application/grpc"
	}
	return "application/grpc+" + codecName
}

// contentSubtype parses a request content-type. "If Content-Type does not
// begin with "application/grpc", gRPC servers SHOULD respond with HTTP status
// of 415" (PROTOCOL-HTTP2.md, Requests): ok is false then. The subtype is the
// part after "+" ("proto" when absent); parameters after ";" are ignored.
func contentSubtype(ct string) (subtype string, ok bool) {
	const base = "application/grpc"
	if len(ct) < len(base) || !equalFoldASCII(ct[:len(base)], base) {
		return "", false
	}
	rest := ct[len(base):]
	switch {
	case rest == "":
		return "proto", true
	case rest[0] == ';':
		return "proto", true
	case rest[0] == '+':
		rest = rest[1:]
		for i := 0; i < len(rest); i++ {
			if rest[i] == ';' {
				rest = rest[:i]
				break
			}
		}
		if rest == "" {
			return "proto", true
		}
		return lowerASCII(rest), true
	}
	return "", false
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerByte(b[j])
			}
			return string(b)
		}
	}
	return s
}
