package interop

// gRPC interoperability against gRPC C-core, through Debian's grpcio
// (python3-grpcio; Debian's python3 is /usr/bin/python3), both ways:
//
//	ClientPython_ServerH2RPC: testdata/peers/python/client.py runs the
//	  standard cases, and two gzip cases, against our TestService;
//	ClientH2RPC_ServerPython: our client runs the standard and compression
//	  cases against testdata/peers/python/server.py, which compresses
//	  responses as asked (grpcio does not show a handler whether a request
//	  arrived compressed: the probe is lenient);
//	ClientH2RPC_ServerPython_4Streams: 300 concurrent calls from our client
//	  to a grpcio server that allows 4 streams at a time
//	  (MAX_CONCURRENT_STREAMS): every call waits its turn and succeeds.

import (
	"context"
	"fmt"
	"strings"
	"testing"

	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/h2rpc/h2rpc/interop/testservice"
)

// debianPython is the interpreter Debian's python3-grpcio installs into; a
// python3 earlier on PATH may be another one.
const debianPython = "/usr/bin/python3"

// grpcPython returns the Python with grpcio and the directory of the
// programs, or skips (fails) the test.
func grpcPython(t *testing.T) (python, dir string) {
	t.Helper()
	dir = peersDir(t, "python")
	if out, err := runPeer(dir, debianPython, "-c", "import grpc, google.protobuf"); err != nil {
		missingPeer(t, debianPython+" cannot import grpc (python3-grpcio): "+strings.TrimSpace(out))
	}
	return debianPython, dir
}

func TestGRPCPython(t *testing.T) {
	python, dir := grpcPython(t)
	desc := testingDescriptors(t)
	newTally := tallies(t)

	t.Run("ClientPython_ServerH2RPC", func(t *testing.T) {
		runScriptCases(t, newTally("grpcio client -> h2rpc server"), dir, python, "client.py", startH2RPCTestService(t), desc)
	})

	t.Run("ClientH2RPC_ServerPython", func(t *testing.T) {
		p, first := startPeer(t, dir, python, []string{"server.py", "--port=0", "--descriptors=" + desc}, nil)
		runOurCases(t, newTally("h2rpc client -> grpcio server"), p.waitAddress(t, first), append(peerCases, compressionCases...),
			testservice.Config{LenientCompressionProbe: true})
	})

	t.Run("ClientH2RPC_ServerPython_4Streams", func(t *testing.T) {
		p, first := startPeer(t, dir, python, []string{"server.py", "--port=0", "--max_concurrent_streams=4", "--descriptors=" + desc}, nil)
		cc, err := testservice.Dial(p.waitAddress(t, first))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
		defer cancel()
		req := &testpb.SimpleRequest{ResponseSize: 10000, Payload: &testpb.Payload{Body: make([]byte, 10000)}}
		errs := make(chan error, 300)
		for range cap(errs) {
			go func() {
				var resp testpb.SimpleResponse
				err := cc.Invoke(ctx, testservice.UnaryCallMethod, req, &resp)
				if err == nil && len(resp.GetPayload().GetBody()) != 10000 {
					err = fmt.Errorf("response of %d bytes, want 10000", len(resp.GetPayload().GetBody()))
				}
				errs <- err
			}()
		}
		failed := 0
		for range cap(errs) {
			if err := <-errs; err != nil {
				if failed++; failed <= 3 {
					t.Error(err)
				}
			}
		}
		if failed > 0 {
			t.Errorf("%d of %d calls failed", failed, cap(errs))
		}
	})
}
