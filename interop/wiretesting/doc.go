// Package wiretesting is gRPC's interop test service, grpc.testing, with
// its messages generated on package wire (protoc-gen-go-h2rpc,
// messages=generate) from the descriptors grpc-go registers: the interop
// module's wire tests run it against grpc-go's client and server, which use
// protobuf-go's messages for the same .proto files.
package wiretesting
