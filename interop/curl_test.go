package interop

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// curl runs curl with args (bounded to a minute) and returns its stdout.
func curl(t *testing.T, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not on PATH: the curl interop test runs only when curl is present")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, append([]string{"--silent", "--show-error", "--max-time", "30"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// The write-out marker separates the body from curl's report of the
// protocol version and status.
const curlReport = "\n--curl-report-- http_version=%{http_version} status=%{http_code}"

func splitCurlOutput(t *testing.T, out []byte) (body []byte, report string) {
	t.Helper()
	i := bytes.LastIndex(out, []byte("\n--curl-report-- "))
	if i < 0 {
		t.Fatalf("curl output lacks its report: %q", out)
	}
	return out[:i], string(out[i+1:])
}

func TestCurlGet(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not on PATH: the curl interop test runs only when curl is present")
	}
	addr := startH2serve(t, "--body", "curl says hi\n")
	out := curl(t, "--http2-prior-knowledge", "--write-out", curlReport, "http://"+addr+"/hello")
	body, report := splitCurlOutput(t, out)
	if string(body) != "curl says hi\n" {
		t.Errorf("body %q, want %q", body, "curl says hi\n")
	}
	if report != "--curl-report-- http_version=2 status=200" {
		t.Errorf("curl reports %q; want HTTP/2 with status 200", report)
	}
}

func TestCurlPost(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not on PATH: the curl interop test runs only when curl is present")
	}
	addr := startH2serve(t)
	// A body of 3 MiB: larger than the default windows, so flow control
	// works in both directions while h2serve echoes.
	body, _ := randomBody(t, 3<<20)
	file := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(file, body, 0o644); err != nil {
		t.Fatal(err)
	}
	out := curl(t, "--http2-prior-knowledge", "--write-out", curlReport,
		"-H", "Content-Type: application/x-test", "--data-binary", "@"+file, "http://"+addr+"/echo")
	got, report := splitCurlOutput(t, out)
	if !bytes.Equal(got, body) {
		t.Errorf("echoed %d bytes (sha256 %s), sent %d (sha256 %s)", len(got), sha256Hex(got), len(body), sha256Hex(body))
	}
	if report != "--curl-report-- http_version=2 status=200" {
		t.Errorf("curl reports %q; want HTTP/2 with status 200", report)
	}

	// The headers, body and trailer h2serve sends, as curl prints them.
	out = curl(t, "--http2-prior-knowledge", "--include", "-H", "Content-Type: application/x-test",
		"--data-binary", "twelve bytes", "http://"+addr+"/echo")
	text := strings.ReplaceAll(string(out), "\r\n", "\n")
	if !strings.HasPrefix(text, "HTTP/2 200") {
		t.Errorf("curl --include output does not start with the HTTP/2 status line:\n%s", text)
	}
	// curl prints the trailer fields right after the body.
	for _, want := range []string{"\ncontent-type: application/x-test\n", "\n\ntwelve bytes", "x-h2rpc-echo-bytes: 12\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("curl --include output lacks %q:\n%s", want, text)
		}
	}
}
