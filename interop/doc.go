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
package interop
