package interop

// gRPC interoperability against gRPC C-core, through Debian's grpcio
// (python3-grpcio; Debian's python3 is /usr/bin/python3), both ways:
//
//	ClientPython_ServerH2RPC: testdata/peers/python/client.py runs the
//	  standard cases, and two gzip cases, against our TestService;
//	ClientH2RPC_ServerPython: our client runs the standard and compression
//	  cases against testdata/peers/python/server.py, which compresses
//	  responses as asked (grpcio does not show a handler whether a request
//	  arrived compressed: the probe is lenient).

import (
	"context"
	"strings"
	"testing"

	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/rpc"
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
	var summaries []*tally
	t.Cleanup(func() {
		for _, s := range summaries {
			t.Log(s.summary())
		}
	})

	t.Run("ClientPython_ServerH2RPC", func(t *testing.T) {
		ty := &tally{name: "grpcio client -> h2rpc server"}
		summaries = append(summaries, ty)
		addr := startH2RPCTestService(t)
		for _, name := range append(peerCases, "large_unary_gzip", "streaming_gzip") {
			ty.run(t, name, func(t *testing.T) {
				out, err := runPeer(dir, python, "client.py", "--addr="+addr, "--descriptors="+desc, "--test_case="+name)
				if err != nil || !strings.Contains(out, "PASS "+name) {
					t.Errorf("client.py --test_case=%s: %v\n%s", name, err, out)
				}
			})
		}
	})

	t.Run("ClientH2RPC_ServerPython", func(t *testing.T) {
		ty := &tally{name: "h2rpc client -> grpcio server"}
		summaries = append(summaries, ty)
		p, first := startPeer(t, dir, python, []string{"server.py", "--port=0", "--descriptors=" + desc}, nil)
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
	})
}
