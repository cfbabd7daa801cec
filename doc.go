// Package h2rpc is the root of a from-scratch HTTP/2 framing engine with a
// gRPC-compatible RPC layer. The code lives in the subpackages: frame, hpack,
// flowcontrol, stream, conn, wire and rpc; see docs/ARCHITECTURE.md.
package h2rpc
