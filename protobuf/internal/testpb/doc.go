// Package testpb holds the .proto files of the generator's golden tests
// (under proto/) and, in its subpackages, what protoc-gen-go,
// protoc-gen-go-grpc and protoc-gen-go-h2rpc generate from them. The
// golden test regenerates everything and fails on a difference; run
// go test -run Golden -update here after changing a generator or a .proto.
package testpb
