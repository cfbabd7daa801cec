package interop

// h2load (nghttp2's load generator, Debian's nghttp2-client) against h2rpc:
// many concurrent streams on several connections, to h2serve and to the
// gRPC server (cmd/server), with the default large windows and with small
// ones that make both sides wait for credit. Every request must succeed with
// a 2xx, the bytes of DATA received must be exactly the bodies expected, and
// the server must answer normally afterwards (and, for h2serve, exit
// cleanly on SIGTERM: startH2serve checks).

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"

	"github.com/h2rpc/h2rpc/interop/testservice"
)

// h2loadRun runs h2load with args against url and checks that all n
// requests succeeded with a 2xx status and that the DATA received adds up
// to n*respBytes.
func h2loadRun(t *testing.T, h2load string, n, respBytes int, url string, args ...string) {
	t.Helper()
	all := append([]string{"-n", strconv.Itoa(n)}, args...)
	all = append(all, url)
	out, err := runPeer("", h2load, all...)
	if err != nil {
		t.Fatalf("h2load %s: %v\n%s", strings.Join(all, " "), err, out)
	}
	want := fmt.Sprintf("requests: %d total, %d started, %d done, %d succeeded, 0 failed, 0 errored, 0 timeout", n, n, n, n)
	if !strings.Contains(out, want) {
		t.Errorf("h2load %s: want %q in:\n%s", strings.Join(all, " "), want, out)
	}
	if want := fmt.Sprintf("status codes: %d 2xx, 0 3xx, 0 4xx, 0 5xx", n); !strings.Contains(out, want) {
		t.Errorf("h2load %s: want %q in:\n%s", strings.Join(all, " "), want, out)
	}
	m := regexp.MustCompile(`traffic: .* \((\d+)\) data`).FindStringSubmatch(out)
	if m == nil || m[1] != strconv.Itoa(n*respBytes) {
		t.Errorf("h2load %s: want %d bytes of DATA (%d responses of %d) in:\n%s", strings.Join(all, " "), n*respBytes, n, respBytes, out)
	}
}

// writeFile writes b to a new file in the test's directory.
func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestH2loadH2serve(t *testing.T) {
	h2load := lookPeer(t, "h2load")
	addr := startH2serve(t, "--body", "h2load says hi\n")
	h2loadRun(t, h2load, 200000, len("h2load says hi\n"), "http://"+addr+"/", "-c", "16", "-m", "100")
	// 100 kB bodies echoed on 1 KiB stream windows and a 4 KiB
	// connection window (h2load's -w and -W are powers of two).
	body, _ := randomBody(t, 100_000)
	h2loadRun(t, h2load, 1000, len(body), "http://"+addr+"/echo", "-c", "8", "-m", "50", "-w", "10", "-W", "12", "-d", writeFile(t, "body", body))

	// h2serve still answers.
	client := &http.Client{Transport: h2cTransport(t)}
	req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+addr+"/after", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET after the load: %v", err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(got) != "h2load says hi\n" {
		t.Errorf("GET after the load: status %d, body %q, error %v", resp.StatusCode, got, err)
	}
}

// h2load sends each request's body as soon as its preface is out, before
// it has the server's SETTINGS: on the default 65535-byte stream window,
// more than a server advertising 100 bytes allows once its SETTINGS are
// acknowledged, and not before (RFC 9113 §6.9.2). Fresh connections, so
// that bodies race the SETTINGS.
func TestH2loadBeforeSmallWindowAck(t *testing.T) {
	h2load := lookPeer(t, "h2load")
	addr := startH2serve(t, "--initial-window-size", "100", "--conn-window-size", "65535")
	body, _ := randomBody(t, 20_000)
	file := writeFile(t, "body", body)
	for range 3 {
		h2loadRun(t, h2load, 400, len(body), "http://"+addr+"/echo", "-c", "4", "-m", "50", "-d", file)
	}
}

// grpcFrame returns m as a gRPC length-prefixed message, uncompressed.
func grpcFrame(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(b))), b...)
}

func TestH2loadGRPC(t *testing.T) {
	h2load := lookPeer(t, "h2load")
	addr := startOurServerBinary(t, sharedBuild(t, "h2rpc-interop-server", "./cmd/server"))
	grpcHeaders := []string{"-H", "content-type: application/grpc", "-H", "te: trailers"}

	empty := writeFile(t, "empty", grpcFrame(t, &testpb.Empty{}))
	h2loadRun(t, h2load, 200000, len(grpcFrame(t, &testpb.Empty{})),
		"http://"+addr+"/grpc.testing.TestService/EmptyCall",
		append([]string{"-c", "16", "-m", "100", "-d", empty}, grpcHeaders...)...)

	// 1000-byte payloads each way on 4 KiB stream windows and a 64 KiB
	// connection window.
	req := &testpb.SimpleRequest{ResponseSize: 1000, Payload: &testpb.Payload{Body: make([]byte, 1000)}}
	resp := &testpb.SimpleResponse{Payload: &testpb.Payload{Body: make([]byte, 1000)}}
	h2loadRun(t, h2load, 50000, len(grpcFrame(t, resp)),
		"http://"+addr+"/grpc.testing.TestService/UnaryCall",
		append([]string{"-c", "16", "-m", "100", "-w", "12", "-W", "16", "-d", writeFile(t, "unary", grpcFrame(t, req))}, grpcHeaders...)...)

	// The server still answers calls.
	cc, err := testservice.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for _, name := range []string{"large_unary", "ping_pong"} {
		ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
		if err := testservice.RunCase(ctx, cc, name, testservice.Config{}); err != nil {
			t.Errorf("after the load: %v", err)
		}
		cancel()
	}
}
