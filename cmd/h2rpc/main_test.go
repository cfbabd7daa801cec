package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"go/parser"
	"go/token"
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

// TestExitStatus runs command lines through run, as main does, and checks
// the exit status and where the text goes: asked-for help on stdout with
// status 0; a usage error as one line on stderr followed by the usage, with
// status 2, for every subcommand alike.
func TestExitStatus(t *testing.T) {
	type want struct {
		status int
		stdout string // a prefix of stdout; "" for nothing at all
		line   string // a prefix of stderr's first line; "" for no stderr
		usage  string // the first line of the usage that follows line
	}
	const topUsage = "usage: h2rpc <command>"
	cases := map[string]want{
		"":                                      {2, "", "h2rpc: no subcommand given", topUsage},
		"no-such-command":                       {2, "", `h2rpc: unknown subcommand "no-such-command"`, topUsage},
		"-no-such-flag":                         {2, "", `h2rpc: unknown subcommand "-no-such-flag"`, topUsage},
		"help no-such-command":                  {2, "", `h2rpc help: unknown subcommand "no-such-command"`, topUsage},
		"help demo serve":                       {2, "", `h2rpc help: unexpected arguments ["serve"]`, topUsage},
		"help":                                  {0, topUsage, "", ""},
		"-h":                                    {0, topUsage, "", ""},
		"--help":                                {0, topUsage, "", ""},
		"h2serve --max-frame-size not-a-number": {2, "", `h2rpc h2serve: invalid value "not-a-number" for flag -max-frame-size`, "usage: h2rpc h2serve [flags]"},
	}
	for name := range commands {
		usage := "usage: h2rpc " + name + " [flags]"
		cases[name+" -no-such-flag"] = want{2, "", "h2rpc " + name + ": flag provided but not defined: -no-such-flag", usage}
		cases[name+" --grace"] = want{2, "", "h2rpc " + name + ": flag needs an argument: -grace", usage}
		cases[name+" stray-argument"] = want{2, "", "h2rpc " + name + `: unexpected arguments ["stray-argument"]`, usage}
		cases[name+" -h"] = want{0, usage, "", ""}
		cases[name+" --help"] = want{0, usage, "", ""}
		cases["help "+name] = want{0, usage, "", ""}
	}
	// demo and certs have no -grace flag: a different error, the same shape.
	cases["demo --grace"] = want{2, "", "h2rpc demo: flag provided but not defined: -grace", "usage: h2rpc demo [flags]"}
	cases["certs --grace"] = want{2, "", "h2rpc certs: flag provided but not defined: -grace", "usage: h2rpc certs [flags]"}
	cases["trace --grace"] = want{2, "", "h2rpc trace: flag provided but not defined: -grace", "usage: h2rpc trace [flags]"}
	cases["trace"] = want{2, "", "h2rpc trace: give -listen and -upstream to record, or -in to draw", "usage: h2rpc trace [flags]"}
	cases["trace -listen :0"] = want{2, "", "h2rpc trace: the proxy needs both -listen and -upstream", "usage: h2rpc trace [flags]"}

	for cmdline, w := range cases {
		var stdout, stderr bytes.Buffer
		status := run(context.Background(), strings.Fields(cmdline), &stdout, &stderr)
		if status != w.status {
			t.Errorf("h2rpc %s: exit status %d, want %d\nstderr: %s", cmdline, status, w.status, stderr.String())
		}
		if w.stdout == "" && stdout.Len() > 0 || !strings.HasPrefix(stdout.String(), w.stdout) {
			t.Errorf("h2rpc %s: stdout %q, want it to begin with %q", cmdline, stdout.String(), w.stdout)
		}
		if w.line == "" {
			if stderr.Len() > 0 {
				t.Errorf("h2rpc %s: stderr %q, want none", cmdline, stderr.String())
			}
			continue
		}
		lines := strings.SplitN(stderr.String(), "\n", 3)
		if len(lines) < 3 || !strings.HasPrefix(lines[0], w.line) || !strings.HasPrefix(lines[1], w.usage) {
			t.Errorf("h2rpc %s: stderr\n%s\nwant one line beginning %q, then the usage beginning %q", cmdline, stderr.String(), w.line, w.usage)
		}
		if strings.Count(stderr.String(), "flag provided") > 1 || strings.Count(stderr.String(), "invalid value") > 1 {
			t.Errorf("h2rpc %s: the error is printed more than once:\n%s", cmdline, stderr.String())
		}
	}
}

// TestRunErrorStatus checks that a failure past the command line exits with
// status 1 and says why on one line.
func TestRunErrorStatus(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if status := run(context.Background(), []string{"h2serve", "--addr", "no-port"}, &stdout, &stderr); status != 1 {
		t.Errorf("h2serve --addr no-port: exit status %d, want 1", status)
	}
	if got := stderr.String(); !strings.HasPrefix(got, "h2rpc: h2serve: ") || strings.Count(got, "\n") != 1 {
		t.Errorf("h2serve --addr no-port: stderr %q, want one line naming the subcommand", got)
	}
}

// TestPackageDocListsCommands keeps the package doc's list of subcommands
// complete: each registered one appears as "h2rpc NAME".
func TestPackageDocListsCommands(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.Doc.Text()
	for name := range commands {
		if !strings.Contains(doc, "\th2rpc "+name+" ") {
			t.Errorf("the package doc (main.go) does not list h2rpc %s", name)
		}
	}
	if !strings.Contains(doc, "\th2rpc help") {
		t.Error("the package doc (main.go) does not list h2rpc help")
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
	st, err := c.OpenStream(context.Background(), request("GET", "/"), nil, conn.EndStream)
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
	st, err := c.OpenStream(context.Background(), request("HEAD", "/"), nil, conn.EndStream)
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
	st, err := c.OpenStream(context.Background(), request("POST", "/echo", hpack.Field{Name: "content-type", Value: "text/x-test"}), nil, 0)
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
		if err := st.WriteData(nil, []byte(piece), false); err != nil {
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
	if err := st.WriteData(nil, nil, true); err != nil {
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
	st, err := c.OpenStream(context.Background(), request("POST", "/echo"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteData(nil, []byte("before "), false); err != nil {
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
	if _, err := c.OpenStream(context.Background(), request("GET", "/"), nil, conn.EndStream); !errors.Is(err, conn.ErrNotAvailable) {
		t.Errorf("OpenStream while draining: %v; want ErrNotAvailable", err)
	}
	if err := st.WriteData(nil, []byte("after"), true); err != nil {
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
