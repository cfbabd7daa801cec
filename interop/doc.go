// Package interop is a nested module that judges h2rpc against real peers:
// h2spec for the HTTP/2 layer and grpc-go's interop client and server for the
// RPC layer. Its heavy dependencies stay out of the core module.
package interop
