package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"regexp"
	"strings"
	"testing"
)

// labClientLines are the lines the lab's client.py prints, timestamps
// written as HH:MM:SS.
var labClientLines = []string{
	"--- Unary Request ---",
	"Server Response: System ready for research. Status check OK. (Active: True)",
	"",
	"--- Server Streaming (Real-time updates) ---",
	"[HH:MM:SS] Progress 25%: Searching for research papers on gRPC Protocols...",
	"[HH:MM:SS] Progress 50%: Analyzing core principles of gRPC Protocols...",
	"[HH:MM:SS] Progress 75%: Synthesizing key gRPC use cases...",
	"[HH:MM:SS] Progress 100%: Finalizing the consolidated report.",
	"",
	"--- Client Streaming (Uploading research notes) ---",
	"Server Summary: Processed 4 notes. Key takeaway: Note 4: Typed interface contracts (Total 4)",
	"",
	"--- Bi-directional Streaming (Collaborative Feed) ---",
	" [Feed Update] System: Acknowledged Engineer's update: Initializing system...",
	" [Feed Update] System: Acknowledged Lead's update: Monitoring data flow...",
	" [Feed Update] System: Acknowledged QA's update: Verifying latency...",
}

// labServerLines are the lines the lab's server.py prints for that client.
var labServerLines = []string{
	"📡 Unary Request from: researcher-01",
	"📡 Server Streaming topic: gRPC Protocols",
	"📡 Receiving stream of research notes...",
	" - Received fragment 1: Note 1: gRPC uses HT...",
	" - Received fragment 2: Note 2: Built on Pro...",
	" - Received fragment 3: Note 3: Binary TLV s...",
	" - Received fragment 4: Note 4: Typed interf...",
	"📡 Bi-directional 'Collaborative Feed' opened.",
	" [Feed] From Engineer: Initializing system...",
	" [Feed] From Lead: Monitoring data flow...",
	" [Feed] From QA: Verifying latency...",
}

var clock = regexp.MustCompile(`^\[\d\d:\d\d:\d\d\]`)

// splitDemo separates the demo's output into the client's lines (time of
// day replaced by HH:MM:SS) and the server's, prefix removed.
func splitDemo(out string) (client, server []string) {
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if rest, ok := strings.CutPrefix(line, serverPrefix); ok {
			server = append(server, rest)
			continue
		}
		client = append(client, clock.ReplaceAllString(line, "[HH:MM:SS]"))
	}
	return client, server
}

func TestDemoPrintsTheLabsOutput(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := dispatch(context.Background(), []string{"demo", "--delay", "1ms"}, &stdout, &stderr); err != nil {
		t.Fatalf("demo: %v\nstderr:\n%s", err, stderr.String())
	}
	client, server := splitDemo(stdout.String())
	if got, want := strings.Join(client, "\n"), strings.Join(labClientLines, "\n"); got != want {
		t.Errorf("client lines:\n%s\nwant:\n%s", got, want)
	}
	if len(server) == 0 || !strings.HasPrefix(server[0], "🚀 gRPC server logic running on 127.0.0.1:") {
		t.Fatalf("server lines %q: want the listening line first", server)
	}
	if got, want := strings.Join(server[1:], "\n"), strings.Join(labServerLines, "\n"); got != want {
		t.Errorf("server lines:\n%s\nwant:\n%s", got, want)
	}
	// The server logs a call before answering it: each of its lines comes
	// before the client prints the answer.
	out := stdout.String()
	if i, j := strings.Index(out, serverPrefix+"📡 Unary Request"), strings.Index(out, "Server Response:"); i < 0 || j < i {
		t.Errorf("the server's unary line does not come before the response:\n%s", out)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %s", stderr.String())
	}
}

func TestDemoWithoutServerLog(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := dispatch(context.Background(), []string{"demo", "--delay=0", "--server-log=false"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	client, server := splitDemo(stdout.String())
	if len(server) != 0 || strings.Join(client, "\n") != strings.Join(labClientLines, "\n") {
		t.Errorf("output:\n%s", stdout.String())
	}
}

// A demo interrupted (SIGINT cancels its context) stops with the
// cancellation, not a hang.
func TestDemoInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	err := dispatch(ctx, []string{"demo"}, &stdout, &stderr)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("demo with a cancelled context: %v; want context.Canceled", err)
	}
}

func TestDemoUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := dispatch(context.Background(), []string{"demo", "extra"}, &stdout, &stderr); !errors.Is(err, errUsage) {
		t.Errorf("demo extra: %v, want a usage error", err)
	}
	stdout.Reset()
	if err := dispatch(context.Background(), []string{"demo", "-h"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("demo -h: %v, want flag.ErrHelp", err)
	}
	for _, f := range []string{"-delay", "-server-log"} {
		if !strings.Contains(stdout.String(), f) {
			t.Errorf("demo -h lacks %s:\n%s", f, stdout.String())
		}
	}
}
