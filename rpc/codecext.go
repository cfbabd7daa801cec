package rpc

import (
	"fmt"
	"reflect"
	"sync/atomic"
)

// defaultFallback is the codec ExtendDefaultCodec installed, or nil.
var defaultFallback atomic.Pointer[Codec]

// ExtendDefaultCodec makes DefaultCodec hand c every message type it does
// not handle itself: c marshals and unmarshals them, under DefaultCodec's
// name "proto". It is how a message library plugs into every call and
// server at once: importing github.com/h2rpc/h2rpc/protobuf (which the
// stubs protoc-gen-go-h2rpc generates for protobuf-go messages do) calls it
// with a protobuf-go codec. Call it from an init function; a later call
// replaces the codec. It is safe for concurrent use.
func ExtendDefaultCodec(c Codec) {
	defaultFallback.Store(&c)
}

func fallbackCodec() Codec {
	if p := defaultFallback.Load(); p != nil {
		return *p
	}
	return nil
}

// fallbackMarshal appends the encoding of v by the extension codec, or
// fails with an error naming the fix.
func fallbackMarshal(b []byte, v any) ([]byte, error) {
	switch c := fallbackCodec().(type) {
	case nil:
	case AppendCodec:
		return c.AppendMarshal(b, v)
	default:
		data, err := c.Marshal(v)
		if err != nil {
			return b, err
		}
		return append(b, data...), nil
	}
	return b, fmt.Errorf("rpc: DefaultCodec cannot marshal %T: it takes []byte, *[]byte, a wire.Message, "+
		"an encoding.BinaryAppender or an encoding.BinaryMarshaler%s", v, fix(v))
}

func fallbackUnmarshal(data []byte, v any) error {
	if c := fallbackCodec(); c != nil {
		return c.Unmarshal(data, v)
	}
	return fmt.Errorf("rpc: DefaultCodec cannot unmarshal into %T: it takes *[]byte, a wire.Message "+
		"or an encoding.BinaryUnmarshaler%s", v, fix(v))
}

// fix says how to make DefaultCodec handle v.
func fix(v any) string {
	if v != nil {
		if _, ok := reflect.TypeOf(v).MethodByName("ProtoReflect"); ok {
			return fmt.Sprintf(`; %T is a protobuf-go message: import _ "github.com/h2rpc/h2rpc/protobuf" `+
				"(the stubs protoc-gen-go-h2rpc generates do) to marshal it", v)
		}
	}
	return "; for other types plug in a Codec (CallCodec or WithCodec on the client, ServerCodec on " +
		"the server) or extend DefaultCodec (ExtendDefaultCodec)"
}
