package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/hpack"
)

// binDir holds the binaries the tests build, shared by every test in the run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "h2rpc-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goTool returns the go command: `go test` puts the toolchain running the
// tests first on PATH.
func goTool() string { return "go" }

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// h2rpcBinary builds cmd/h2rpc from the core module (once per test run)
// and returns the path of the binary.
func h2rpcBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		bin := filepath.Join(binDir, "h2rpc")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool(), "build", "-o", bin, "./cmd/h2rpc")
		cmd.Dir = ".." // the core module
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/h2rpc: %v\n%s", err, out)
			return
		}
		buildBin = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// startH2serve runs `h2rpc h2serve --addr 127.0.0.1:0 args...` and returns
// the address it listens on. Cleanup stops it with SIGTERM and checks that
// it exits cleanly (status 0) after its graceful shutdown; a server that does
// not exit within a bound is killed and reported.
func startH2serve(t *testing.T, args ...string) string {
	t.Helper()
	bin := h2rpcBinary(t)
	cmd := exec.Command(bin, append([]string{"h2serve", "--addr", "127.0.0.1:0", "--grace", "5s"}, args...)...)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 1)
	go func() {
		// The first line is the address; read the rest so the server
		// never blocks on a full pipe, then reap the process.
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			}
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("h2serve did not exit cleanly after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("h2serve still running 30s after SIGTERM: killed\nstderr:\n%s", stderr.String())
		}
	})
	select {
	case addr, ok := <-lines:
		if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Fatalf("h2serve printed %q instead of its address\nstderr:\n%s", addr, stderr.String())
		}
		return addr
	case <-time.After(30 * time.Second):
		t.Fatalf("h2serve printed no address within 30s\nstderr:\n%s", stderr.String())
		return ""
	}
}

// lockedBuffer is a bytes.Buffer safe for a writing process and a reading test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// exitCode returns the exit status in err from exec, or -1.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// randomBody returns n random bytes and their SHA-256 in hex.
func randomBody(t *testing.T, n int) ([]byte, string) {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b, sha256Hex(b)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// fieldValue returns the value of the first field called name, or "".
func fieldValue(fields []hpack.Field, name string) string {
	for _, f := range fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// checkNoLeaks registers a cleanup, run after all the test's others, that
// waits for goroutines of conn and x/net/http2 started by the test to end
// and fails the test naming those that do not within a generous bound.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	before := interestingGoroutines()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		var leaked []string
		for {
			leaked = leaked[:0]
			for id, stack := range interestingGoroutines() {
				if _, old := before[id]; !old {
					leaked = append(leaked, stack)
				}
			}
			if len(leaked) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, g := range leaked {
			t.Errorf("leaked goroutine:\n%s", g)
		}
	})
}

// interestingGoroutines returns the goroutines running code of conn or
// x/net/http2, by id ("goroutine 42"), with their stacks.
func interestingGoroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	gs := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, stack, ok := strings.Cut(g, "\n")
		if !ok {
			continue
		}
		id, _, _ := strings.Cut(header, " [") // "goroutine 42 [select]:"
		if strings.Contains(stack, "github.com/h2rpc/h2rpc/conn.") || strings.Contains(stack, "golang.org/x/net/http2.") {
			gs[id] = g
		}
	}
	return gs
}
