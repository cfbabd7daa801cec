package interop

// gRPC interoperability against grpc-go v1.85.0, both ways, every standard
// case of grpc doc/interop-test-descriptions.md that needs no credentials:
//
//	ClientGRPCGo_ServerH2RPC: grpc-go's interop client binary (`go tool
//	  client`) against our TestService on rpc.Server;
//	ClientH2RPC_ServerGRPCGo: our client (interop/testservice, and once the
//	  cmd/client binary) against grpc-go's interop server binary;
//	Compression: gzip both ways, observed on the grpc-go side by a
//	  stats.Handler (grpcgo_peer_test.go explains why an in-process grpc-go
//	  peer is needed).
//
// Binaries are built once per run into a temporary directory.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/rpc"
)

// standardCases are the cases both grpc-go's interop client and ours run.
var standardCases = []string{
	"empty_unary", "large_unary", "client_streaming", "server_streaming",
	"ping_pong", "empty_stream", "timeout_on_sleeping_server",
	"cancel_after_begin", "cancel_after_first_response",
	"status_code_and_message", "special_status_message", "custom_metadata",
	"unimplemented_method", "unimplemented_service", "rpc_soak", "channel_soak",
}

// compressionCases are the cases of ours that grpc-go's interop client
// does not have.
var compressionCases = []string{
	"client_compressed_unary", "server_compressed_unary",
	"client_compressed_streaming", "server_compressed_streaming",
}

// caseTimeout bounds one case, process start included.
const caseTimeout = 60 * time.Second

// goBuild builds pkg (run in the interop module) into dir/name.
func goBuild(t *testing.T, dir, name, pkg string) string {
	t.Helper()
	bin := filepath.Join(dir, name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// startH2RPCTestService serves our TestService in process until the test
// ends.
func startH2RPCTestService(t *testing.T) string {
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

// tally counts the subtests of one direction for the summary line.
type tally struct {
	name           string
	passed, failed atomic.Int32
}

func (ty *tally) run(t *testing.T, name string, f func(t *testing.T)) {
	ok := t.Run(name, f)
	if ok {
		ty.passed.Add(1)
	} else {
		ty.failed.Add(1)
	}
}

// tallies returns a maker of tallies whose summaries are printed when t
// ends (on stdout, so that go test shows them with or without -v).
func tallies(t *testing.T) func(name string) *tally {
	var all []*tally
	t.Cleanup(func() {
		for _, ty := range all {
			fmt.Println(ty.summary())
		}
	})
	return func(name string) *tally {
		ty := &tally{name: name}
		all = append(all, ty)
		return ty
	}
}

func (ty *tally) summary() string {
	return fmt.Sprintf("grpc interop %s: %d passed, %d failed", ty.name, ty.passed.Load(), ty.failed.Load())
}

// TestEveryClientCaseIsRun checks that the cases below cover every case
// our client knows.
func TestEveryClientCaseIsRun(t *testing.T) {
	all := append(slices.Clone(standardCases), compressionCases...)
	slices.Sort(all)
	if !slices.Equal(all, testservice.Cases()) {
		t.Errorf("cases run here %q; the client knows %q", all, testservice.Cases())
	}
}

func TestGRPCInterop(t *testing.T) {
	checkNoLeaks(t) // our servers and clients run in process here
	bins := t.TempDir()
	grpcClient := goBuild(t, bins, "grpc-go-interop-client", "google.golang.org/grpc/interop/client")
	grpcServer := goBuild(t, bins, "grpc-go-interop-server", "google.golang.org/grpc/interop/server")
	ourClient := goBuild(t, bins, "h2rpc-interop-client", "./cmd/client")
	ourServer := goBuild(t, bins, "h2rpc-interop-server", "./cmd/server")

	newTally := tallies(t)

	t.Run("ClientGRPCGo_ServerH2RPC", func(t *testing.T) {
		ty := newTally("grpc-go client -> h2rpc server")
		host, port, _ := net.SplitHostPort(startH2RPCTestService(t))
		for _, name := range standardCases {
			ty.run(t, name, func(t *testing.T) {
				runProcess(t, grpcClient, "--server_host="+host, "--server_port="+port, "--test_case="+name, "--use_tls=false")
			})
		}
		// The command-line server, as other interop harnesses run it.
		host, port, _ = net.SplitHostPort(startOurServerBinary(t, ourServer))
		for _, name := range []string{"large_unary", "ping_pong"} {
			ty.run(t, "cmd/server/"+name, func(t *testing.T) {
				runProcess(t, grpcClient, "--server_host="+host, "--server_port="+port, "--test_case="+name, "--use_tls=false")
			})
		}
	})

	t.Run("ClientH2RPC_ServerGRPCGo", func(t *testing.T) {
		ty := newTally("h2rpc client -> grpc-go server")
		addr := startProcessServer(t, grpcServer)
		cc, err := testservice.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		cfg := soakLenient(testservice.Config{Dial: func() (*rpc.ClientConn, error) { return testservice.Dial(addr) }})
		for _, name := range standardCases {
			ty.run(t, name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
				defer cancel()
				if err := testservice.RunCase(ctx, cc, name, cfg); err != nil {
					t.Error(err)
				}
			})
		}
		// The command-line client, as other interop harnesses run it.
		host, port, _ := net.SplitHostPort(addr)
		for _, name := range []string{"large_unary", "ping_pong"} {
			ty.run(t, "cmd/client/"+name, func(t *testing.T) {
				out := runProcess(t, ourClient, "--server_host="+host, "--server_port="+port, "--test_case="+name, "--use_tls=false")
				if !strings.Contains(out, "PASS "+name) {
					t.Errorf("output %q lacks PASS %s", out, name)
				}
			})
		}
	})

	t.Run("Compression", func(t *testing.T) {
		ty := newTally("compression, both ways")
		testCompressionOurClient(t, ty)
		testCompressionGRPCGoClient(t, ty)
	})
}

// runProcess runs bin with args, bounded by caseTimeout, and fails the test
// if it does not exit 0. It returns the combined output.
func runProcess(t *testing.T, bin string, args ...string) string {
	t.Helper()
	args = append(args, soakLimits(args)...)
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// soakLimits returns, for an interop client's soak case (rpc_soak,
// channel_soak), limits that only a hang can reach: the clients' defaults
// fail an iteration that takes over a second (a 300 KB call each way) and
// a case over ten seconds, which a loaded machine running the suite under
// the race detector can take without anything being wrong. The suite
// checks that every iteration succeeds, not how fast: speed is the
// benchmarks' to measure.
func soakLimits(args []string) []string {
	for _, a := range args {
		if a == "--test_case=rpc_soak" || a == "--test_case=channel_soak" {
			return []string{
				fmt.Sprintf("--soak_per_iteration_max_acceptable_latency_ms=%d", (caseTimeout / 2).Milliseconds()),
				fmt.Sprintf("--soak_overall_timeout_seconds=%d", int((caseTimeout / 2).Seconds())),
			}
		}
	}
	return nil
}

// soakLenient gives cfg the soak limits soakLimits gives the interop
// clients' processes, for our client's cases run in the test's process.
func soakLenient(cfg testservice.Config) testservice.Config {
	cfg.SoakPerIterationMaxLatency = caseTimeout / 2
	cfg.SoakOverallTimeout = caseTimeout / 2
	return cfg
}

// startOurServerBinary runs interop/cmd/server on a free port and returns
// the address it prints; cleanup stops it with SIGTERM and expects a clean
// exit.
func startOurServerBinary(t *testing.T, bin string, extra ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--port=0", "--use_tls=false"}, extra...)...)
	var stderr bytes.Buffer // read only after Wait
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		close(first)
		io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("cmd/server did not exit cleanly after SIGTERM: %v\n%s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Error("cmd/server still running 30s after SIGTERM: killed")
		}
	})
	select {
	case line, ok := <-first:
		addr, found := strings.CutPrefix(line, "listening on ")
		if !ok || !found {
			t.Fatalf("cmd/server printed %q instead of its address", line)
		}
		return addr
	case <-time.After(30 * time.Second):
		t.Fatal("cmd/server printed no address within 30s")
		return ""
	}
}

// startProcessServer starts grpc-go's interop server binary on a free
// loopback port, waits until it accepts connections and stops it when the
// test ends. extra flags go after the defaults, which they override.
func startProcessServer(t *testing.T, bin string, extra ...string) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	lis.Close() // the server takes the port over; nothing else on this host races for it in practice
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin, append([]string{"--port=" + strconv.Itoa(port), "--use_tls=false"}, extra...)...)
	var output bytes.Buffer // read only after Wait, which ends exec's copying
	cmd.Stdout, cmd.Stderr = io.Discard, &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("grpc-go interop server exited: %v\n%s", err, output.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("grpc-go interop server not accepting on %s after 30s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testCompressionOurClient runs our compression cases against the grpc-go
// peer, which implements CompressedRequest (so the feature probe is
// strict) and CompressedResponse, and checks on its side that requests
// arrived gzip-compressed and responses left compressed as asked.
func testCompressionOurClient(t *testing.T, ty *tally) {
	addr, rec := startGRPCGoPeer(t)
	cc, err := testservice.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	run := func(t *testing.T, name string) []*callRecord {
		rec.take()
		ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
		defer cancel()
		if err := testservice.RunCase(ctx, cc, name, testservice.Config{}); err != nil {
			t.Fatal(err)
		}
		return rec.take()
	}

	ty.run(t, "h2rpc_client/client_compressed_unary", func(t *testing.T) {
		calls := run(t, "client_compressed_unary")
		// probe (uncompressed, refused), compressed call, uncompressed call.
		want := []bool{false, true, false}
		if len(calls) != len(want) {
			t.Fatalf("%d calls recorded, want %d", len(calls), len(want))
		}
		for i, c := range calls {
			enc, in, out := c.snapshot()
			if len(in) != 1 || in[0].compressed() != want[i] {
				t.Errorf("call %d: request messages %+v, want one with compressed=%v", i+1, in, want[i])
			}
			if want[i] && enc != "gzip" {
				t.Errorf("call %d: grpc-encoding %q, want gzip", i+1, enc)
			}
			// grpc-go answers a gzip request in kind: our client
			// decompressed that response.
			if i == 1 && (len(out) != 1 || !out[0].compressed()) {
				t.Errorf("call 2: response messages %+v, want one compressed", out)
			}
		}
	})
	ty.run(t, "h2rpc_client/server_compressed_unary", func(t *testing.T) {
		calls := run(t, "server_compressed_unary")
		if len(calls) != 2 {
			t.Fatalf("%d calls recorded, want 2", len(calls))
		}
		for i, want := range []bool{true, false} {
			_, _, out := calls[i].snapshot()
			if len(out) != 1 || out[0].compressed() != want {
				t.Errorf("response_compressed=%v: response messages %+v", want, out)
			}
		}
	})
	ty.run(t, "h2rpc_client/client_compressed_streaming", func(t *testing.T) {
		calls := run(t, "client_compressed_streaming")
		if len(calls) != 2 {
			t.Fatalf("%d calls recorded, want 2 (probe and upload)", len(calls))
		}
		_, in, _ := calls[1].snapshot()
		if len(in) != 2 || !in[0].compressed() {
			t.Errorf("upload messages %+v: want two, the first compressed", in)
		}
	})
	ty.run(t, "h2rpc_client/server_compressed_streaming", func(t *testing.T) {
		calls := run(t, "server_compressed_streaming")
		if len(calls) != 1 {
			t.Fatalf("%d calls recorded, want 1", len(calls))
		}
		_, _, out := calls[0].snapshot()
		if len(out) != 2 || !out[0].compressed() {
			t.Errorf("responses %+v: want two, the first compressed", out)
		}
	})
}

// testCompressionGRPCGoClient drives our server with a grpc-go client, in
// process, and checks on the client's side what travelled compressed.
func testCompressionGRPCGoClient(t *testing.T, ty *tally) {
	addr := startH2RPCTestService(t)
	rec := &recorder{}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithStatsHandler(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tc := testpb.NewTestServiceClient(conn)
	large := func() *testpb.SimpleRequest {
		return &testpb.SimpleRequest{
			ResponseType: testpb.PayloadType_COMPRESSABLE,
			ResponseSize: 314159,
			Payload:      &testpb.Payload{Type: testpb.PayloadType_COMPRESSABLE, Body: make([]byte, 271828)},
		}
	}
	ctx := context.Background()

	ty.run(t, "grpc-go_client/client_compressed_unary", func(t *testing.T) {
		rec.take()
		req := large()
		req.ExpectCompressed = &testpb.BoolValue{Value: true}
		resp, err := tc.UnaryCall(ctx, req, grpc.UseCompressor("gzip"))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(resp.GetPayload().GetBody()); n != 314159 {
			t.Errorf("response payload %d bytes, want 314159", n)
		}
		calls := rec.take()
		if len(calls) != 1 {
			t.Fatalf("%d calls recorded", len(calls))
		}
		enc, in, out := calls[0].snapshot()
		if len(out) != 1 || !out[0].compressed() {
			t.Errorf("request messages %+v: want one, compressed", out)
		}
		// rpc answers a gzip request in gzip.
		if enc != "gzip" || len(in) != 1 || !in[0].compressed() {
			t.Errorf("response: grpc-encoding %q, messages %+v; want gzip, compressed", enc, in)
		}
	})
	ty.run(t, "grpc-go_client/server_compressed_unary", func(t *testing.T) {
		for _, want := range []bool{true, false} {
			rec.take()
			req := large()
			req.ResponseCompressed = &testpb.BoolValue{Value: want}
			if _, err := tc.UnaryCall(ctx, req); err != nil {
				t.Fatal(err)
			}
			calls := rec.take()
			if len(calls) != 1 {
				t.Fatalf("%d calls recorded", len(calls))
			}
			_, in, _ := calls[0].snapshot()
			if len(in) != 1 || in[0].compressed() != want {
				t.Errorf("response_compressed=%v: response messages %+v", want, in)
			}
		}
	})
	ty.run(t, "grpc-go_client/client_compressed_streaming", func(t *testing.T) {
		rec.take()
		stream, err := tc.StreamingInputCall(ctx, grpc.UseCompressor("gzip"))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{27182, 45904} {
			if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, n)}}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := stream.CloseAndRecv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetAggregatedPayloadSize() != 73086 {
			t.Errorf("aggregated_payload_size %d, want 73086", resp.GetAggregatedPayloadSize())
		}
		_, _, out := rec.take()[0].snapshot()
		if len(out) != 2 || !out[0].compressed() || !out[1].compressed() {
			t.Errorf("request messages %+v: want two, compressed", out)
		}
	})
	ty.run(t, "grpc-go_client/server_compressed_streaming", func(t *testing.T) {
		rec.take()
		stream, err := tc.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
			ResponseType: testpb.PayloadType_COMPRESSABLE,
			ResponseParameters: []*testpb.ResponseParameters{
				{Size: 31415, Compressed: &testpb.BoolValue{Value: true}},
				{Size: 92653, Compressed: &testpb.BoolValue{Value: false}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int
		for {
			m, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(m.GetPayload().GetBody()))
		}
		if fmt.Sprint(sizes) != "[31415 92653]" {
			t.Errorf("response sizes %v, want [31415 92653]", sizes)
		}
		enc, in, _ := rec.take()[0].snapshot()
		// rpc compresses per call: the first response's setting holds for
		// both (the spec wants the second uncompressed; see
		// testservice.Server).
		if enc != "gzip" || len(in) != 2 || !in[0].compressed() {
			t.Errorf("responses: grpc-encoding %q, messages %+v; want gzip, the first compressed", enc, in)
		}
	})
}
