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
	var summaries []*tally
	t.Cleanup(func() {
		for _, s := range summaries {
			t.Log(s.summary())
		}
	})

	t.Run("ClientJS_ServerH2RPC", func(t *testing.T) {
		ty := &tally{name: "grpc-js client -> h2rpc server"}
		summaries = append(summaries, ty)
		addr := startH2RPCTestService(t)
		for _, name := range append(peerCases, "large_unary_gzip", "streaming_gzip") {
			ty.run(t, name, func(t *testing.T) {
				out, err := runPeer(dir, node, "client.js", "--addr="+addr, "--descriptors="+desc, "--test_case="+name)
				if err != nil || !strings.Contains(out, "PASS "+name) {
					t.Errorf("client.js --test_case=%s: %v\n%s", name, err, out)
				}
			})
		}
	})

	t.Run("ClientH2RPC_ServerJS", func(t *testing.T) {
		ty := &tally{name: "h2rpc client -> grpc-js server"}
		summaries = append(summaries, ty)
		p, first := startPeer(t, dir, node, []string{"server.js", "--port=0", "--descriptors=" + desc}, nil)
		addr := p.waitAddress(t, first)
		cc, err := testservice.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		cfg := testservice.Config{
			Dial:                    func() (*rpc.ClientConn, error) { return testservice.Dial(addr) },
			LenientCompressionProbe: true,
		}
		for _, name := range append(peerCases, compressionCases...) {
			ty.run(t, name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
				defer cancel()
				if err := testservice.RunCase(ctx, cc, name, cfg); err != nil {
					t.Error(err)
				}
			})
		}
		t.Run("oversized_metadata", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
			defer cancel()
			big := rpc.AppendToOutgoingContext(ctx, "x-big", strings.Repeat("v", 100_000))
			err := cc.Invoke(big, testservice.EmptyCallMethod, &testpb.Empty{}, new(testpb.Empty))
			// The peer's GOAWAY is the cause, not a deadline or a timeout
			// of ours (our SETTINGS left unacknowledged by the peer that
			// stopped reading ended the call after 10 s when we waited).
			if rpc.CodeOf(err) != rpc.Unavailable || !strings.Contains(err.Error(), "GOAWAY") {
				t.Errorf("call with 100 KB of metadata: %v; want Unavailable for the peer's GOAWAY", err)
			}
			if err := testservice.RunCase(ctx, cc, "large_unary", cfg); err != nil {
				t.Errorf("the next call: %v", err)
			}
		})
	})
}
