package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/examples/messenger"
	"github.com/h2rpc/h2rpc/examples/messenger/pb"
	"github.com/h2rpc/h2rpc/health"
	"github.com/h2rpc/h2rpc/reflection"
	"github.com/h2rpc/h2rpc/rpc"
	"github.com/h2rpc/h2rpc/wire"
)

// serveInProcess runs `h2rpc serve --addr 127.0.0.1:0 args...` until stop is
// called; it returns the address and the lines printed after it, which are
// complete once wait has returned.
func serveInProcess(t *testing.T, args ...string) (addr string, logLines func() []string, stop func(), wait func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	result := make(chan error, 1)
	go func() {
		err := dispatch(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), pw, io.Discard)
		pw.Close()
		result <- err
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		t.Fatalf("serve printed no address: %v", <-result)
	}
	addr = sc.Text()
	var mu sync.Mutex
	var lines []string
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
		}
	}()
	var once sync.Once
	var err error
	wait = func() error {
		once.Do(func() { err = <-result; <-copied })
		return err
	}
	logLines = func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), lines...)
	}
	t.Cleanup(func() {
		cancel()
		if err := wait(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return addr, logLines, cancel, wait
}

func dialMessenger(t *testing.T, addr string) messenger.LearningMessengerClient {
	t.Helper()
	cc, err := rpc.Dial(addr, rpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return messenger.NewLearningMessengerClient(cc)
}

func TestServeAnswersTheLabsClient(t *testing.T) {
	addr, logLines, stop, wait := serveInProcess(t, "--delay", "1ms")
	var out bytes.Buffer
	c := &messenger.Client{Stub: dialMessenger(t, addr), Out: &out}
	if err := c.RunAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	client, _ := splitDemo(out.String())
	if got, want := strings.Join(client, "\n"), strings.Join(labClientLines, "\n"); got != want {
		t.Errorf("client printed:\n%s\nwant:\n%s", got, want)
	}
	stop()
	if err := wait(); err != nil {
		t.Fatalf("serve after SIGINT: %v; want nil", err)
	}
	if got, want := strings.Join(logLines(), "\n"), strings.Join(labServerLines, "\n"); got != want {
		t.Errorf("server printed:\n%s\nwant:\n%s", got, want)
	}
}

// TestServeGracefulStop checks that a stop (SIGINT or SIGTERM) lets a call
// in flight finish: a StreamLearnings call begun before it gets all four
// updates and a clean end.
func TestServeGracefulStop(t *testing.T) {
	addr, _, stop, wait := serveInProcess(t, "--delay", "20ms", "-q")
	stream, err := dialMessenger(t, addr).StreamLearnings(context.Background(), &pb.TopicRequest{Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	stop() // the call is in flight: the server has sent one update of four
	n := 1
	for {
		_, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("update %d after the stop began: %v", n+1, err)
		}
		n++
	}
	if n != 4 {
		t.Errorf("%d updates, want 4", n)
	}
	if err := wait(); err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestServeGraceEnds checks that a call outliving -grace is cancelled and
// serve still returns.
func TestServeGraceEnds(t *testing.T) {
	addr, logLines, stop, wait := serveInProcess(t, "--grace", "10ms")
	stream, err := dialMessenger(t, addr).SubmitResearchNotes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&pb.ResearchNote{Text: "never finished"}); err != nil {
		t.Fatal(err)
	}
	// The handler logs each note: once it has, it waits for the next one,
	// which never comes.
	for !slices.Contains(logLines(), " - Received fragment 1: never finished...") {
		time.Sleep(time.Millisecond)
	}
	stop()
	if err := wait(); err != nil {
		t.Errorf("serve: %v", err)
	}
	if _, err := stream.CloseAndRecv(); err == nil {
		t.Error("the unfinished call succeeded after the server stopped")
	}
}

func TestServeUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := dispatch(context.Background(), []string{"serve", "extra"}, &stdout, &stderr); !errors.Is(err, errUsage) {
		t.Errorf("serve extra: %v, want a usage error", err)
	}
	if err := dispatch(context.Background(), []string{"serve", "--addr", "no-port"}, &stdout, &stderr); err == nil {
		t.Error("serve --addr no-port: no error")
	}
}

// healthStatus decodes a HealthCheckResponse.
func healthStatus(t *testing.T, b []byte) health.Status {
	t.Helper()
	var st health.Status
	if err := wire.Range(b, func(f wire.Field) error {
		if f.Is(1, wire.TypeVarint) {
			st = health.Status(f.Int32())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestServeHealth checks that serve answers health checks, SERVING for
// the server and the messenger, and that a stop turns them NOT_SERVING
// before the server goes: a Watch begun before it sees NOT_SERVING.
func TestServeHealth(t *testing.T) {
	addr, _, stop, wait := serveInProcess(t, "-q")
	cc, err := rpc.Dial(addr, rpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, svc := range []string{"", messenger.LearningMessenger_ServiceName} {
		var resp []byte
		if err := cc.Invoke(ctx, "/grpc.health.v1.Health/Check", wire.AppendStringField(nil, 1, svc), &resp); err != nil || healthStatus(t, resp) != health.Serving {
			t.Errorf("Check(%q) = %v, %v; want SERVING", svc, healthStatus(t, resp), err)
		}
	}
	watch, err := cc.NewStream(ctx, &rpc.StreamDesc{ServerStreams: true}, "/grpc.health.v1.Health/Watch")
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.SendMsg([]byte{}); err != nil {
		t.Fatal(err)
	}
	watch.CloseSend()
	var b []byte
	if err := watch.RecvMsg(&b); err != nil || healthStatus(t, b) != health.Serving {
		t.Fatalf("Watch: %v, %v; want SERVING", healthStatus(t, b), err)
	}
	stop()
	if err := watch.RecvMsg(&b); err != nil || healthStatus(t, b) != health.NotServing {
		t.Fatalf("Watch after the stop: %v, %v; want NOT_SERVING", healthStatus(t, b), err)
	}
	if err := wait(); err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestServeReflection checks that serve lists its services through
// reflection and describes the messenger from the descriptor its stubs
// register.
func TestServeReflection(t *testing.T) {
	addr, _, _, _ := serveInProcess(t, "-q")
	cc, err := rpc.Dial(addr, rpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := cc.NewStream(ctx, &rpc.StreamDesc{ClientStreams: true, ServerStreams: true}, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
	if err != nil {
		t.Fatal(err)
	}
	// ask sends a request and returns the LEN fields of the response's
	// answer (field 4 or 6), each one's field 1.
	ask := func(req []byte) []string {
		t.Helper()
		if err := st.SendMsg(req); err != nil {
			t.Fatal(err)
		}
		var b []byte
		if err := st.RecvMsg(&b); err != nil {
			t.Fatal(err)
		}
		var got []string
		err := wire.Range(b, func(f wire.Field) error {
			if f.Num != 4 && f.Num != 6 {
				return nil
			}
			return wire.Range(f.Bytes, func(g wire.Field) error {
				return wire.Range(g.Bytes, func(h wire.Field) error {
					if h.Is(1, wire.TypeLen) {
						got = append(got, string(h.Bytes))
					}
					return nil
				})
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := []string{"grpc.health.v1.Health", reflection.ServiceNameV1, reflection.ServiceNameV1Alpha, messenger.LearningMessenger_ServiceName}
	if got := ask(wire.AppendStringField(nil, 7, "*")); !slices.Equal(got, want) {
		t.Errorf("list_services = %v, want %v", got, want)
	}
	if got := ask(wire.AppendStringField(nil, 4, "messenger.LearningMessenger.CollaborativeFeed")); !slices.Equal(got, []string{"messenger.proto"}) {
		t.Errorf("file_containing_symbol(CollaborativeFeed) = %v, want [messenger.proto]", got)
	}
	st.CloseSend()
}
