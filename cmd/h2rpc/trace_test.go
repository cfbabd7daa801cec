package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/hpack"
	"github.com/h2rpc/h2rpc/trace"
)

// traceProxyInProcess runs `h2rpc trace -listen -upstream` in front of
// upstream, writing to out, until the returned stop is called.
func traceProxyInProcess(t *testing.T, upstream, out string) (addr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	result := make(chan error, 1)
	go func() {
		err := dispatch(ctx, []string{"trace", "-listen", "127.0.0.1:0", "-upstream", upstream, "-out", out}, pw, io.Discard)
		pw.Close()
		result <- err
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		t.Fatalf("trace printed no address: %v", <-result)
	}
	go io.Copy(io.Discard, pr)
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-result; err != nil {
			t.Errorf("trace: %v", err)
		}
	}
	t.Cleanup(stop)
	return sc.Text(), stop
}

// TestTraceProxy records a request to h2serve through the proxy and checks
// the trace holds the frames both sides sent, and that it draws.
func TestTraceProxy(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "t.jsonl")
	upstream, _, _ := h2serveInProcess(t, "--body", "hi there\n")
	addr, stop := traceProxyInProcess(t, upstream, out)
	c := dialClient(t, addr)
	st, err := c.OpenStream(context.Background(), request("GET", "/x", hpack.Field{Name: "authorization", Value: "Bearer s3cret"}), nil, conn.EndStream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadHeaders(); err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(st)
	if err != nil || string(body) != "hi there\n" {
		t.Fatalf("body %q, %v: the proxy changed the exchange", body, err)
	}
	c.Close()
	<-c.Done()
	stop()

	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := trace.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Meta.At != trace.Proxy {
		t.Errorf("recorded at %q", tr.Meta.At)
	}
	var seen []string
	for _, e := range tr.Events {
		if e.Stream == 1 {
			seen = append(seen, string(e.From)+" "+e.Type)
		}
		if e.Type == "DATA" && e.From == trace.Server && e.Len != 9 {
			t.Errorf("server DATA of %d octets, want 9", e.Len)
		}
		for _, fl := range e.Fields {
			if strings.Contains(fl.Value, "s3cret") {
				t.Errorf("the trace shows a credential: %v", fl)
			}
		}
	}
	if got := strings.Join(seen, ", "); !strings.HasPrefix(got, "client HEADERS, server HEADERS, server DATA") {
		t.Errorf("stream 1 frames: %s", got)
	}

	for _, name := range []string{"t.svg", "t.html"} {
		var stdout, stderr bytes.Buffer
		if status := run(context.Background(), []string{"trace", "-in", out, "-out", filepath.Join(dir, name)}, &stdout, &stderr); status != 0 {
			t.Fatalf("trace -in -out %s: status %d: %s", name, status, stderr.String())
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte(">H1<")) {
			t.Errorf("%s: %v, no drawing of stream 1", name, err)
		}
	}
	var stdout, stderr bytes.Buffer
	if status := run(context.Background(), []string{"trace", "-in", out, "-text"}, &stdout, &stderr); status != 0 {
		t.Fatalf("trace -text: status %d: %s", status, stderr.String())
	}
	if !strings.Contains(stdout.String(), "c->s HEADERS frame <length=") || !strings.Contains(stdout.String(), ":path: /x") {
		t.Errorf("text view:\n%s", stdout.String())
	}
	if status := run(context.Background(), []string{"trace", "-in", out, "-out", filepath.Join(dir, "t.png")}, &stdout, &stderr); status != 1 {
		t.Errorf("trace -out t.png: status %d, want 1", status)
	}
}

// TestH2serveTraceFlag records h2serve's connections with --trace and
// checks the file holds the request, seen from the server.
func TestH2serveTraceFlag(t *testing.T) {
	out := filepath.Join(t.TempDir(), "h2serve.jsonl")
	addr, cancel, wait := h2serveInProcess(t, "--trace", out)
	c := dialClient(t, addr)
	st, err := c.OpenStream(context.Background(), request("GET", "/traced"), nil, conn.EndStream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(st); err != nil {
		t.Fatal(err)
	}
	c.Close()
	<-c.Done()
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := trace.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	trace.Text(&text, tr)
	for _, want := range []string{"recv HEADERS frame", ":path: /traced", "send DATA frame <length=25, flags=0x01, stream_id=1>"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the trace lacks %q:\n%s", want, text.String())
		}
	}
}

// TestTraceProxyText runs the proxy with -text and no -out: each frame is
// printed as it passes, and no trace file is written.
func TestTraceProxyText(t *testing.T) {
	upstream, _, _ := h2serveInProcess(t)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	result := make(chan error, 1)
	go func() {
		err := dispatch(ctx, []string{"trace", "-listen", "127.0.0.1:0", "-upstream", upstream, "-text"}, pw, io.Discard)
		pw.Close()
		result <- err
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		t.Fatalf("trace printed no address: %v", <-result)
	}
	addr := sc.Text()
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	c := dialClient(t, addr)
	st, err := c.OpenStream(context.Background(), request("GET", "/live"), nil, conn.EndStream)
	if err != nil {
		t.Fatal(err)
	}
	// The request shows before the exchange ends: the view is live.
	timeout := time.After(30 * time.Second)
	for seen := false; !seen; {
		select {
		case l := <-lines:
			seen = strings.Contains(l, ":path: /live")
		case <-timeout:
			cancel()
			t.Fatal("the request's HEADERS were not printed while the stream was open")
		}
	}
	if _, err := io.ReadAll(st); err != nil {
		t.Fatal(err)
	}
	c.Close()
	<-c.Done()
	cancel()
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	if !strings.Contains(strings.Join(rest, "\n"), "#1 s->c DATA frame <length=") {
		t.Errorf("no response DATA in the live view:\n%s", strings.Join(rest, "\n"))
	}
	if _, err := os.Stat("trace.jsonl"); err == nil {
		t.Error("-text without -out wrote trace.jsonl")
	}
}
