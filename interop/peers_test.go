package interop

// What the tests of independent peers share (grpc-js, grpc C-core through
// Python, nginx, h2load, haproxy): finding the peer, child processes bound
// to the test, free ports, and the grpc.testing schema for peers that load
// it at run time.
//
// tools/peers.sh installs every peer; `make test` runs it and sets
// H2RPC_PEERS=required, so that a missing peer fails the run. Without that
// variable (go test by hand) a missing peer skips its test, saying what to
// install.

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// peerCases are the standard cases of interop-test-descriptions.md the
// independent peers run, both ways: standardCases less the soak cases,
// which time many large calls and belong to the grpc-go judge.
var peerCases = []string{
	"empty_unary", "large_unary", "client_streaming", "server_streaming",
	"ping_pong", "empty_stream", "cancel_after_begin",
	"cancel_after_first_response", "timeout_on_sleeping_server",
	"custom_metadata", "status_code_and_message", "special_status_message",
	"unimplemented_method", "unimplemented_service",
}

// peersRequired reports whether a missing peer fails the test (make test)
// rather than skipping it.
func peersRequired() bool { return os.Getenv("H2RPC_PEERS") == "required" }

// missingPeer skips the test, or fails it under H2RPC_PEERS=required.
func missingPeer(t *testing.T, what string) {
	t.Helper()
	msg := what + ": run tools/peers.sh to install the independent peers (make test does)"
	if peersRequired() {
		t.Fatal(msg + "; H2RPC_PEERS=required makes a missing peer a failure")
	}
	t.Skip(msg)
}

// lookPeer returns the path of the peer's command, or skips (fails) the
// test. Debian puts nginx and haproxy in /usr/sbin, which a user's PATH may
// lack: it is looked in too.
func lookPeer(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if path, err = exec.LookPath(filepath.Join("/usr/sbin", name)); err == nil {
			return path
		}
		missingPeer(t, name+" is not on PATH")
	}
	return path
}

// peersDir is where the peers' own programs and packages live.
func peersDir(t *testing.T, sub string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "peers", sub))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// freePort returns a loopback port that was free a moment ago, for peers
// that cannot listen on port 0 and say which port they took.
func freePort(t *testing.T) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().(*net.TCPAddr).Port
}

// peerProcess is a long-running child (a server or a proxy) bound to its
// test: cleanup ends it with SIGTERM, then SIGKILL, and reaps it.
type peerProcess struct {
	cmd    *exec.Cmd
	out    lockedBuffer
	exited chan struct{}
	err    error
}

// startPeer starts name with args in dir (if not "") and stops it when the
// test ends. firstLine, if not nil, receives the first line of stdout.
func startPeer(t *testing.T, dir, name string, args []string, env []string) (*peerProcess, <-chan string) {
	t.Helper()
	p := &peerProcess{cmd: exec.Command(name, args...), exited: make(chan struct{})}
	p.cmd.Dir = dir
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stderr = &p.out
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
			p.out.Write([]byte(sc.Text() + "\n"))
		}
		close(first)
		io.Copy(&p.out, stdout)
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
			t.Logf("%s still running 10s after SIGTERM: killed", filepath.Base(name))
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), p.out.String())
		}
	})
	return p, first
}

// running reports whether the process has not exited.
func (p *peerProcess) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// waitListening waits until addr accepts TCP connections, failing the test
// if p exits first or 30 s pass. It returns false, without failing, if p
// exited because the port was taken in the meantime (freePort can only
// say which port was free a moment ago): the caller tries another.
func (p *peerProcess) waitListening(t *testing.T, addr string) bool {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return true
		}
		if !p.running() {
			if strings.Contains(p.out.String(), "in use") {
				t.Logf("%s could not listen on %s, taken meanwhile: trying another port", filepath.Base(p.cmd.Path), addr)
				return false
			}
			t.Fatalf("%s exited (%v) before accepting on %s:\n%s", filepath.Base(p.cmd.Path), p.err, addr, p.out.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not accepting on %s after 30s: %v\n%s", filepath.Base(p.cmd.Path), addr, err, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startOnFreePort calls start with a free loopback address until the peer
// it starts listens there (three tries), and returns the address.
func startOnFreePort(t *testing.T, start func(addr string) *peerProcess) string {
	t.Helper()
	for try := 0; ; try++ {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
		if start(addr).waitListening(t, addr) {
			return addr
		}
		if try == 2 {
			t.Fatal("three free ports were taken before the peer could listen")
		}
	}
}

// waitAddress returns the address a peer prints as "listening on ADDR" on
// its first line.
func (p *peerProcess) waitAddress(t *testing.T, first <-chan string) string {
	t.Helper()
	select {
	case line, ok := <-first:
		addr, found := strings.CutPrefix(line, "listening on ")
		if !ok || !found {
			<-p.exited
			t.Fatalf("%s printed %q instead of its address:\n%s", filepath.Base(p.cmd.Path), line, p.out.String())
		}
		return addr
	case <-time.After(30 * time.Second):
		t.Fatalf("%s printed no address within 30s:\n%s", filepath.Base(p.cmd.Path), p.out.String())
		return ""
	}
}

// runPeer runs a short-lived peer command bounded by caseTimeout and
// returns its combined output and error.
func runPeer(dir, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

var (
	descOnce sync.Once
	descPath string
	descErr  error
)

// testingDescriptors writes grpc.testing's schema (test.proto and what it
// imports), as grpc-go's generated code holds it, to a FileDescriptorSet
// file for the peers that load a schema at run time, and returns its path.
func testingDescriptors(t *testing.T) string {
	t.Helper()
	descOnce.Do(func() {
		var set descriptorpb.FileDescriptorSet
		seen := map[string]bool{}
		var add func(fd protoreflect.FileDescriptor)
		add = func(fd protoreflect.FileDescriptor) {
			if seen[fd.Path()] {
				return
			}
			seen[fd.Path()] = true
			imports := fd.Imports()
			for i := 0; i < imports.Len(); i++ {
				add(imports.Get(i).FileDescriptor)
			}
			set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
		}
		add(testpb.File_grpc_testing_test_proto)
		b, err := proto.Marshal(&set)
		if err != nil {
			descErr = err
			return
		}
		descPath = filepath.Join(binDir, "grpc-testing.pb")
		descErr = os.WriteFile(descPath, b, 0o644)
	})
	if descErr != nil {
		t.Fatal(descErr)
	}
	return descPath
}

// hostPort splits addr into host and port for the interop clients' flags.
func hostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
	return host, port
}

var (
	sharedMu    sync.Mutex
	sharedBuilt = map[string]string{}
)

// sharedBuild builds pkg (run in the interop module) once per test run into
// the run's binary directory, for the peer tests that share a binary.
func sharedBuild(t *testing.T, name, pkg string) string {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if bin, ok := sharedBuilt[name]; ok {
		return bin
	}
	bin := goBuild(t, binDir, name, pkg)
	sharedBuilt[name] = bin
	return bin
}

// runScriptCases runs a peer's interop client script (bin script) against
// our TestService at addr: once per standard case, then two gzip cases on a
// channel that compresses every request. Each run must print "PASS case".
func runScriptCases(t *testing.T, ty *tally, dir, bin, script, addr, desc string) {
	t.Helper()
	for _, name := range append(peerCases, "large_unary_gzip", "streaming_gzip") {
		ty.run(t, name, func(t *testing.T) {
			out, err := runPeer(dir, bin, script, "--addr="+addr, "--descriptors="+desc, "--test_case="+name)
			if err != nil || !strings.Contains(out, "PASS "+name) {
				t.Errorf("%s --test_case=%s: %v\n%s", script, name, err, out)
			}
		})
	}
}
