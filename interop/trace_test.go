package interop

import (
	"bytes"
	"context"
	"net"
	"testing"

	"github.com/h2rpc/h2rpc/trace"
)

// TestTraceRelayGRPCGo runs grpc-go's interop client against grpc-go's
// interop server through the recording proxy (trace.Relay, what h2rpc
// trace -listen -upstream runs): every standard case must pass as it does
// directly, so the proxy changes nothing either side sees, and the trace
// must hold each case's calls, decoded without error.
func TestTraceRelayGRPCGo(t *testing.T) {
	checkNoLeaks(t) // the relay runs in process
	bins := t.TempDir()
	grpcClient := goBuild(t, bins, "grpc-go-interop-client", "google.golang.org/grpc/interop/client")
	grpcServer := goBuild(t, bins, "grpc-go-interop-server", "google.golang.org/grpc/interop/server")
	upstream := startProcessServer(t, grpcServer)

	var buf bytes.Buffer
	w, err := trace.NewWriter(&buf, trace.Proxy, "interop through the relay")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	relayed := make(chan error, 1)
	go func() {
		var d net.Dialer
		relayed <- trace.Relay(ctx, ln, func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", upstream) }, w)
	}()
	stopRelay := func() {
		cancel()
		if err := <-relayed; err != nil {
			t.Errorf("Relay: %v", err)
		}
	}
	defer func() {
		if ctx.Err() == nil {
			stopRelay()
		}
	}()

	host, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, name := range standardCases {
		t.Run(name, func(t *testing.T) {
			runProcess(t, grpcClient, "--server_host="+host, "--server_port="+port, "--test_case="+name, "--use_tls=false")
		})
	}
	stopRelay()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	tr, err := trace.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]int{}
	for _, e := range tr.Events {
		if e.Type == "ERROR" || e.Error != "" {
			t.Errorf("event %d on connection %d: %s %s", e.Seq, e.Conn, e.Type, e.Error)
		}
		for _, f := range e.Fields {
			if f.Name == ":path" {
				paths[f.Value]++
			}
		}
	}
	for _, want := range []string{"/grpc.testing.TestService/EmptyCall", "/grpc.testing.TestService/UnaryCall",
		"/grpc.testing.TestService/StreamingInputCall", "/grpc.testing.TestService/FullDuplexCall", "/grpc.testing.UnimplementedService/UnimplementedCall"} {
		if paths[want] == 0 {
			t.Errorf("the trace has no call to %s; paths: %v", want, paths)
		}
	}
	if len(tr.Conns()) < len(standardCases) {
		t.Errorf("%d connections traced, want at least one per case (%d)", len(tr.Conns()), len(standardCases))
	}
	t.Logf("%d frames on %d connections; calls per path: %v", len(tr.Events), len(tr.Conns()), paths)
}
