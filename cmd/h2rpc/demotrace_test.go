package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/h2rpc/h2rpc/examples/messenger"
	"github.com/h2rpc/h2rpc/rpc"
	"github.com/h2rpc/h2rpc/trace"
)

// TestDemoTracePage runs `h2rpc demo --trace page.html` and checks the
// page draws the four call shapes: four streams, one per method.
func TestDemoTracePage(t *testing.T) {
	page := filepath.Join(t.TempDir(), "demo.html")
	var stdout, stderr bytes.Buffer
	if status := run(context.Background(), []string{"demo", "--delay", "1ms", "--trace", page}, &stdout, &stderr); status != 0 {
		t.Fatalf("demo --trace: status %d: %s", status, stderr.String())
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"<!doctype html>", "<svg", ">H1<", ">H3<", ">H5<", ">H7<", "4 streams", ">GetLearningStatus<", ">StreamLearnings<", ">SubmitResearchNotes<", ">CollaborativeFeed<"} {
		if !strings.Contains(s, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// frameKey is what both recordings must agree on for each frame.
func frameKey(e *trace.Event) string {
	k := fmt.Sprintf("%s %s stream=%d len=%d flags=%v", e.From, e.Type, e.Stream, e.Len, e.Flags)
	for _, f := range e.Fields {
		k += " " + f.Name + "=" + f.Value
	}
	return k
}

// TestDemoTraceMatchesTheWire runs the demo's client, traced by its
// connection's hook, through a recording proxy that sees the bytes on the
// wire, and compares the two: in each direction the same frames in the
// same order, with the same stream, type, length, flags and header fields.
func TestDemoTraceMatchesTheWire(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer()
	messenger.RegisterLearningMessengerServer(srv, &messenger.Server{Delay: 1})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	var wire bytes.Buffer
	ww, err := trace.NewWriter(&wire, trace.Proxy, "wire")
	if err != nil {
		t.Fatal(err)
	}
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	relayed := make(chan error, 1)
	upClosed := make(chan struct{})
	go func() {
		var d net.Dialer
		relayed <- trace.Relay(ctx, pln, func(ctx context.Context) (net.Conn, error) {
			nc, err := d.DialContext(ctx, "tcp", ln.Addr().String())
			return &closeSignal{Conn: nc, closed: upClosed}, err
		}, ww)
	}()

	tf := &traceFile{path: "unused.jsonl"}
	var hooked bytes.Buffer
	hw, err := trace.NewWriter(&hooked, trace.Client, "hook")
	if err != nil {
		t.Fatal(err)
	}
	tf.w = hw
	runErr := runDemoClient(context.Background(), pln.Addr().String(), io.Discard, 1, rpc.WithInsecure(), rpc.WithConnConfig(tf.config(nil)))
	srv.GracefulStop()
	<-served
	<-upClosed // the relay saw the connection end both ways: it has every frame
	cancel()
	if err := <-relayed; err != nil {
		t.Fatal(err)
	}
	if runErr != nil {
		t.Fatal(runErr)
	}
	for _, w := range []*trace.Writer{ww, hw} {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	wt, err := trace.Read(&wire)
	if err != nil {
		t.Fatal(err)
	}
	ht, err := trace.Read(&hooked)
	if err != nil {
		t.Fatal(err)
	}
	split := func(tr *trace.Trace) map[trace.Endpoint][]string {
		m := map[trace.Endpoint][]string{}
		for i := range tr.Events {
			e := &tr.Events[i]
			if e.Type == "ERROR" {
				t.Errorf("decoding error: %s", e.Error)
			}
			m[e.From] = append(m[e.From], frameKey(e))
		}
		return m
	}
	onWire, fromHook := split(wt), split(ht)
	for _, from := range []trace.Endpoint{trace.Client, trace.Server} {
		w, h := onWire[from], fromHook[from]
		if len(w) < 10 {
			t.Errorf("only %d frames from the %s on the wire", len(w), from)
		}
		if from == trace.Server && len(w) > len(h) {
			// The client closed its connection when the demo was done:
			// what the server sent after that (its GOAWAY) crossed the
			// wire but was never read.
			for _, k := range w[len(h):] {
				if !strings.Contains(k, " stream=0 ") {
					t.Errorf("the client did not read a stream frame the server sent: %s", k)
				}
			}
			w = w[:len(h)]
		}
		if strings.Join(w, "\n") != strings.Join(h, "\n") {
			t.Errorf("frames from the %s differ:\non the wire:\n%s\nfrom the hook:\n%s", from, strings.Join(w, "\n"), strings.Join(h, "\n"))
		}
	}
}

// closeSignal closes closed when the connection is closed (once).
type closeSignal struct {
	net.Conn
	closed chan struct{}
	once   sync.Once
}

func (c *closeSignal) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}
