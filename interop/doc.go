// Package interop is a nested module that judges h2rpc against real peers;
// its heavy dependencies stay out of the core module. Its tests:
//
//   - TestH2spec: the h2spec conformance suite (pinned as a Go tool
//     dependency, `go tool h2spec`) against `h2rpc h2serve`; it fails on any
//     failed case and writes the failures to
//     /tmp/h2rpc-notes/h2spec-failures.txt (H2RPC_H2SPEC_NOTES overrides,
//     "-" disables; H2RPC_H2SPEC_ADDR targets a server already running).
//   - xnet_test.go: both directions against Go's own HTTP/2
//     (golang.org/x/net/http2) over loopback TCP: concurrent echoes with
//     trailers, bodies larger than every window, resets, cancellation,
//     graceful shutdown.
//   - curl_test.go: `curl --http2-prior-knowledge` against h2serve, when curl
//     is on PATH.
//   - grpcinterop_test.go (with testservice/ and cmd/): the RPC layer
//     against grpc-go's interop client and server, pinned as tools too.
//   - wirecompat/: the wire package against protobuf-go.
//
// And independent stacks that share no code with Go's, installed by
// tools/peers.sh (Debian packages and npm; `make test` runs it):
//
//   - grpcjs_test.go: grpc-js (Node), a client and a server of its own
//     under testdata/peers/js, the standard interop cases both ways, gzip,
//     and a call whose metadata Node refuses.
//   - grpcpython_test.go: gRPC C-core through Debian's grpcio, a client and
//     a server under testdata/peers/python, the standard cases both ways
//     and gzip.
//   - drain_test.go: graceful stops mid-call across grpc-js, grpcio and
//     h2rpc, both ways.
//   - nginx_test.go, haproxy_test.go: both as gRPC reverse proxies (h2c on
//     both sides) between our client or grpc-go's and our server, and
//     between ours and grpc-go's; h2load through them.
//   - h2load_test.go: nghttp2's h2load against h2serve and the gRPC server,
//     with large and small flow-control windows.
//
// The peers load grpc.testing at run time from a descriptor set the tests
// write from grpc-go's generated code. A missing peer skips its test,
// saying what to install; with H2RPC_PEERS=required (make test) it fails.
package interop
