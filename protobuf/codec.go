// Package protobuf plugs protobuf-go into h2rpc. Importing it, which the
// stubs protoc-gen-go-h2rpc generates for protobuf-go messages do, makes
// rpc.DefaultCodec marshal protobuf-go messages (proto.Message) with
// protobuf-go, under the name "proto" (content-type application/grpc, as
// every gRPC implementation sends): a program written against generated
// code writes no codec lines. It also holds the rich-error helpers
// (google.rpc.Status details); health and reflection live in its
// subpackages.
package protobuf

import (
	"fmt"

	"github.com/h2rpc/h2rpc/rpc"
	"github.com/h2rpc/h2rpc/wire"
	"google.golang.org/protobuf/proto"
)

func init() { rpc.ExtendDefaultCodec(Codec) }

// Codec marshals protobuf-go messages; its name is "proto". Importing this
// package already makes rpc.DefaultCodec hand it protobuf-go messages, so
// it is needed by name only to pass it explicitly (rpc.CallCodec,
// rpc.ServerCodec). It takes proto.Message values, and hands the types
// rpc.DefaultCodec marshals itself ([]byte, *[]byte, wire.Message) to it,
// so services that send raw bytes (health, reflection) work under either.
var Codec rpc.AppendCodec = codec{}

type codec struct{}

func (codec) Name() string { return "proto" }

func (c codec) Marshal(v any) ([]byte, error) { return c.AppendMarshal(nil, v) }

func (codec) AppendMarshal(b []byte, v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		if known(v) {
			return rpc.DefaultCodec.AppendMarshal(b, v)
		}
		return b, notProto("marshal", v)
	}
	out, err := proto.MarshalOptions{}.MarshalAppend(b, m)
	if err != nil {
		return b, fmt.Errorf("h2rpc/protobuf: marshal %T: %w", v, err)
	}
	return out, nil
}

func (codec) Unmarshal(data []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		if known(v) {
			return rpc.DefaultCodec.Unmarshal(data, v)
		}
		return notProto("unmarshal into", v)
	}
	if err := proto.Unmarshal(data, m); err != nil {
		return fmt.Errorf("h2rpc/protobuf: unmarshal into %T: %w", v, err)
	}
	return nil
}

// known reports whether rpc.DefaultCodec handles v without handing it back
// to this codec.
func known(v any) bool {
	switch v.(type) {
	case []byte, *[]byte, wire.Message:
		return true
	}
	return false
}

func notProto(verb string, v any) error {
	return fmt.Errorf("h2rpc/protobuf: cannot %s %T: it is neither a protobuf-go message (proto.Message; "+
		"generate it with protoc-gen-go) nor a type rpc.DefaultCodec handles itself ([]byte, *[]byte, "+
		"wire.Message, encoding.BinaryMarshaler and BinaryUnmarshaler)", verb, v)
}
