package interop

// gRPC interoperability against grpc-js, the Node gRPC stack (its own
// HTTP/2 is Node's, built on nghttp2), both ways:
//
//	ClientJS_ServerH2RPC: testdata/peers/js/client.js runs the standard
//	  cases, and two gzip cases on a channel that compresses every request,
//	  against our TestService;
//	ClientH2RPC_ServerJS: our client runs the standard and compression cases
//	  against testdata/peers/js/server.js (grpc-js neither compresses
//	  responses nor implements CompressedRequest: the probe is lenient);
//	  then a call with 100 KB of metadata, which Node's HPACK decoder
//	  refuses with GOAWAY COMPRESSION_ERROR while keeping the socket open:
//	  the call must fail at once (not at its deadline), and the next call
//	  succeed on a new connection.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/rpc"
)

// grpcJS returns node and the directory of the grpc-js programs, with their
// packages installed, or skips (fails) the test.
func grpcJS(t *testing.T) (node, dir string) {
	t.Helper()
	node = lookPeer(t, "node")
	dir = peersDir(t, "js")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@grpc", "grpc-js", "package.json")); err != nil {
		missingPeer(t, "grpc-js is not installed in "+dir)
	}
	return node, dir
}

func TestGRPCJS(t *testing.T) {
	node, dir := grpcJS(t)
	desc := testingDescriptors(t)
	newTally := tallies(t)

	t.Run("ClientJS_ServerH2RPC", func(t *testing.T) {
		runScriptCases(t, newTally("grpc-js client -> h2rpc server"), dir, node, "client.js", startH2RPCTestService(t), desc)
	})

	t.Run("ClientH2RPC_ServerJS", func(t *testing.T) {
		p, first := startPeer(t, dir, node, []string{"server.js", "--port=0", "--descriptors=" + desc}, nil)
		addr := p.waitAddress(t, first)
		runOurCases(t, newTally("h2rpc client -> grpc-js server"), addr, append(peerCases, compressionCases...),
			testservice.Config{LenientCompressionProbe: true})
		cc, err := testservice.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		t.Run("oversized_metadata", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
			defer cancel()
			// On a connection in use, as after the cases above.
			if err := cc.Invoke(ctx, testservice.EmptyCallMethod, &testpb.Empty{}, new(testpb.Empty)); err != nil {
				t.Fatal(err)
			}
			big := rpc.AppendToOutgoingContext(ctx, "x-big", strings.Repeat("v", 100_000))
			err := cc.Invoke(big, testservice.EmptyCallMethod, &testpb.Empty{}, new(testpb.Empty))
			// The peer's GOAWAY is the cause, not a deadline or a timeout
			// of ours (our SETTINGS left unacknowledged by the peer that
			// stopped reading ended the call after 10 s when we waited).
			if rpc.CodeOf(err) != rpc.Unavailable || !strings.Contains(err.Error(), "GOAWAY") {
				t.Errorf("call with 100 KB of metadata: %v; want Unavailable for the peer's GOAWAY", err)
			}
			cfg := testservice.Config{Dial: func() (*rpc.ClientConn, error) { return testservice.Dial(addr) }}
			if err := testservice.RunCase(ctx, cc, "large_unary", cfg); err != nil {
				t.Errorf("the next call: %v", err)
			}
		})
	})
}
