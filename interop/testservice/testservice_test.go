package testservice_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/rpc"
)

func serve(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := rpc.NewServer(rpc.ServerCodec(testservice.Codec))
	testservice.Register(s, &testservice.Server{})
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return lis.Addr().String()
}

// TestEveryCaseAgainstOurServer runs each case of our client against our
// server in process, where the race detector sees both sides.
func TestEveryCaseAgainstOurServer(t *testing.T) {
	addr := serve(t)
	cc, err := testservice.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cfg := testservice.Config{
		Dial:           func() (*rpc.ClientConn, error) { return testservice.Dial(addr) },
		SoakIterations: 3,
		// Limits only a hang reaches: the suite checks that the calls
		// succeed, not how fast (a loaded machine under -race is slow).
		SoakPerIterationMaxLatency: time.Minute,
		SoakOverallTimeout:         time.Minute,
		LenientCompressionProbe:    true, // Server does not implement CompressedRequest
	}
	for _, name := range testservice.Cases() {
		t.Run(name, func(t *testing.T) {
			if err := testservice.RunCase(context.Background(), cc, name, cfg); err != nil {
				t.Error(err)
			}
		})
	}
}

// The strict probe reports that our server lacks CompressedRequest rather
// than passing silently.
func TestStrictCompressionProbeFails(t *testing.T) {
	cc, err := testservice.Dial(serve(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	err = testservice.RunCase(context.Background(), cc, "client_compressed_unary", testservice.Config{})
	if err == nil || !strings.Contains(err.Error(), "does not implement CompressedRequest") {
		t.Errorf("strict probe against a server without the feature: %v", err)
	}
}

func TestUnknownCase(t *testing.T) {
	if err := testservice.RunCase(context.Background(), nil, "no_such_case", testservice.Config{}); err == nil {
		t.Error("no error for an unknown case")
	}
}
