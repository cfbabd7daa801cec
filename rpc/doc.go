// Package rpc is gRPC over h2rpc's HTTP/2 connection engine (package conn):
// length-prefixed messages, status in trailers, metadata, deadlines carried
// as grpc-timeout, cancellation as RST_STREAM, and the four call shapes on
// one stream API, for a Server and a ClientConn. The wire protocol is grpc's
// doc/PROTOCOL-HTTP2.md; docs/rpc.md describes the call lifecycle.
package rpc
