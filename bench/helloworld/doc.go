// Package helloworld compares the hello-world Greeter built on h2rpc with
// messages generated on package wire (./h2rpc-server) and on grpc-go with
// protobuf-go's (./grpcgo-server): the size test builds both, stripped, and
// checks that the first holds no protobuf runtime and how its size compares
// with the second's.
package helloworld
