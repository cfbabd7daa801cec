package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/hpack"
)

func TestHelpListsCommands(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := dispatch(context.Background(), []string{"help"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"usage: h2rpc <command>", "h2serve", "help"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestHelpForOneCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := dispatch(context.Background(), []string{"help", "h2serve"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-addr", "-max-concurrent-streams", "-grace"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help h2serve lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"no-such-command"},
		{"help", "no-such-command"},
		{"h2serve", "stray-argument"},
		{"h2serve", "--max-frame-size", "not-a-number"},
	} {
		var stdout, stderr bytes.Buffer
		err := dispatch(context.Background(), args, &stdout, &stderr)
		if err == nil {
			t.Errorf("%q: no error", args)
			continue
		}
		if !errors.Is(err, errUsage) && !strings.Contains(err.Error(), "invalid value") {
			t.Errorf("%q: %v; want a usage error", args, err)
		}
		if stderr.Len() == 0 {
			t.Errorf("%q: nothing on stderr", args)
		}
	}
}

func TestH2serveHelpFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := dispatch(context.Background(), []string{"h2serve", "-h"}, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("h2serve -h: %v; want flag.ErrHelp (exit 0 after the flags)", err)
	}
	if !strings.Contains(stderr.String(), "-addr") {
		t.Errorf("h2serve -h printed no flags:\n%s", stderr.String())
	}
}

// h2serveInProcess runs the h2serve subcommand on a free loopback port
// until cancel is called; wait returns its result.
func h2serveInProcess(t *testing.T, args ...string) (addr string, cancel func(), wait func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	result := make(chan error, 1)
	go func() {
		err := dispatch(ctx, append([]string{"h2serve", "--addr", "127.0.0.1:0"}, args...), pw, io.Discard)
		pw.Close()
		result <- err
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		t.Fatalf("h2serve printed no address: %v", <-result)
	}
	addr = sc.Text()
	go io.Copy(io.Discard, pr)
	var waited bool
	var err error
	wait = func() error {
		if !waited {
			err, waited = <-result, true
		}
		return err
	}
	t.Cleanup(func() {
		cancel()
		if err := wait(); err != nil {
			t.Errorf("h2serve: %v", err)
		}
	})
	return addr, cancel, wait
}

func dialClient(t *testing.T, addr string) *conn.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := conn.Client(nc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		<-c.Done()
	})
	return c
}

func request(method, path string, extra ...hpack.Field) []hpack.Field {
	return append([]hpack.Field{
		{Name: ":method", Value: method},
		{Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: "h2serve.test"},
		{Name: ":path", Value: path},
	}, extra...)
}

func TestH2serveGet(t *testing.T) {
	addr, _, _ := h2serveInProcess(t, "--body", "hi there\n")
	c := dialClient(t, addr)
	st, err := c.NewStream(context.Background(), request("GET", "/"), true)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := st.ReadHeaders()
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(st)
	if err != nil {
		t.Fatal(err)
	}
	if fieldValue(hdr, ":status") != "200" || fieldValue(hdr, "content-length") != "9" || string(body) != "hi there\n" {
		t.Errorf("got %v %q; want :status 200, content-length 9, %q", hdr, body, "hi there\n")
	}
}

func TestH2serveHead(t *testing.T) {
	addr, _, _ := h2serveInProcess(t)
	c := dialClient(t, addr)
	st, err := c.NewStream(context.Background(), request("HEAD", "/"), true)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := st.ReadHeaders()
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(st)
	if err != nil {
		t.Fatal(err)
	}
	if fieldValue(hdr, ":status") != "200" || len(body) != 0 {
		t.Errorf("got %v %q; want :status 200 and no body", hdr, body)
	}
}

// TestH2serveEchoStreams checks that the echo is a stream, not a buffer:
// each piece comes back before the next is sent.
func TestH2serveEchoStreams(t *testing.T) {
	addr, _, _ := h2serveInProcess(t)
	c := dialClient(t, addr)
	st, err := c.NewStream(context.Background(), request("POST", "/echo", hpack.Field{Name: "content-type", Value: "text/x-test"}), false)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := st.ReadHeaders()
	if err != nil {
		t.Fatal(err)
	}
	if fieldValue(hdr, ":status") != "200" || fieldValue(hdr, "content-type") != "text/x-test" {
		t.Fatalf("headers %v; want :status 200 and the request's content-type", hdr)
	}
	total := 0
	for _, piece := range []string{"one ", "two ", strings.Repeat("three", 20000)} {
		if _, err := st.Write([]byte(piece)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(piece))
		if _, err := io.ReadFull(st, got); err != nil {
			t.Fatal(err)
		}
		if string(got) != piece {
			t.Fatalf("echoed %q, want %q", got[:min(len(got), 20)], piece[:min(len(piece), 20)])
		}
		total += len(piece)
	}
	if err := st.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(st); err != nil || len(rest) != 0 {
		t.Fatalf("after the last piece: %q, %v; want EOF", rest, err)
	}
	if got := fieldValue(st.Trailers(), "x-h2rpc-echo-bytes"); got != "100008" || total != 100008 {
		t.Errorf("trailer x-h2rpc-echo-bytes %q, want %d", got, total)
	}
}

// TestH2serveGracefulShutdown checks that cancelling h2serve (SIGINT and
// SIGTERM cancel its context) lets a stream in progress finish, refuses new
// streams, and returns nil.
func TestH2serveGracefulShutdown(t *testing.T) {
	addr, cancel, wait := h2serveInProcess(t)
	c := dialClient(t, addr)
	st, err := c.NewStream(context.Background(), request("POST", "/echo"), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte("before ")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadHeaders(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("before "))
	if _, err := io.ReadFull(st, got); err != nil {
		t.Fatal(err)
	}

	cancel() // the server sends GOAWAY and waits for st
	// The GOAWAY comes from another goroutine at its own pace: wait for it
	// (bounded, so a server that never sends it fails rather than hangs).
	deadline := time.Now().Add(30 * time.Second)
	for c.Available() {
		if time.Now().After(deadline) {
			t.Fatal("no GOAWAY from the server 30s after its shutdown began")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := c.NewStream(context.Background(), request("GET", "/"), true); !errors.Is(err, conn.ErrNotAvailable) {
		t.Errorf("NewStream while draining: %v; want ErrNotAvailable", err)
	}
	if err := st.WriteData([]byte("after"), true); err != nil {
		t.Fatalf("finishing the stream after GOAWAY: %v", err)
	}
	rest, err := io.ReadAll(st)
	if err != nil || string(rest) != "after" {
		t.Fatalf("rest of the echo: %q, %v", rest, err)
	}
	if err := wait(); err != nil {
		t.Fatalf("h2serve returned %v after a graceful shutdown", err)
	}
	<-c.Done()
}
