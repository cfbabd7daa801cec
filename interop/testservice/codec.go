// Package testservice is grpc.testing.TestService, the service of gRPC's
// interoperability tests (grpc doc/interop-test-descriptions.md), on h2rpc:
// a Server implementing the server features the standard test cases need,
// and the client side of those cases (RunCase). Messages are grpc-go's
// generated types from google.golang.org/grpc/interop/grpc_testing,
// carried by Codec, an rpc.Codec over protobuf-go.
package testservice

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Codec is an rpc.Codec for protobuf-go messages (proto.Message). Its name
// is "proto", so it serves content-type application/grpc and
// application/grpc+proto: install it with rpc.ServerCodec on a server and
// rpc.WithCodec on a client.
var Codec codec

type codec struct{}

func (codec) Name() string { return "proto" }

func (codec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("testservice: cannot marshal %T: not a proto.Message", v)
	}
	return proto.Marshal(m)
}

// AppendMarshal implements rpc.AppendCodec: it encodes into the caller's
// buffer.
func (codec) AppendMarshal(b []byte, v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return b, fmt.Errorf("testservice: cannot marshal %T: not a proto.Message", v)
	}
	return proto.MarshalOptions{}.MarshalAppend(b, m)
}

// Unmarshal decodes data into v; protobuf-go copies what it keeps, so data
// may be reused after it returns.
func (codec) Unmarshal(data []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("testservice: cannot unmarshal into %T: not a proto.Message", v)
	}
	return proto.Unmarshal(data, m)
}
