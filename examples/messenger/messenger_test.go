package messenger_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/examples/messenger"
	"github.com/h2rpc/h2rpc/examples/messenger/pb"
	"github.com/h2rpc/h2rpc/internal/leakcheck"
	"github.com/h2rpc/h2rpc/rpc"
)

// TestMain fails the run if goroutines of h2rpc outlive the tests.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// syncBuffer is a bytes.Buffer for a server logging while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// start serves srv on a loopback port and returns a client for it; both
// stop when the test ends.
func start(t *testing.T, srv messenger.LearningMessengerServer) messenger.LearningMessengerClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := rpc.NewServer()
	messenger.RegisterLearningMessengerServer(s, srv)
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	cc, err := rpc.Dial(lis.Addr().String(), rpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return messenger.NewLearningMessengerClient(cc)
}

// signalWriter is a log that signals each write on ch (without blocking).
type signalWriter chan struct{}

func (w signalWriter) Write(p []byte) (int, error) {
	select {
	case w <- struct{}{}:
	default:
	}
	return len(p), nil
}

var noon = time.Date(2026, 11, 23, 12, 34, 56, 0, time.UTC)

func fixedClock() time.Time { return noon }

func TestGetLearningStatus(t *testing.T) {
	var log syncBuffer
	c := start(t, &messenger.Server{Log: &log})
	resp, err := c.GetLearningStatus(context.Background(), &pb.StatusRequest{UserId: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	want := pb.StatusResponse{Message: "System ready for research. Status check OK.", Active: true}
	if !resp.Equal(&want) {
		t.Errorf("got %+v, want %+v", resp, &want)
	}
	if got := log.String(); got != "📡 Unary Request from: ada\n" {
		t.Errorf("server log %q", got)
	}
}

func TestStreamLearnings(t *testing.T) {
	c := start(t, &messenger.Server{Now: fixedClock})
	stream, err := c.StreamLearnings(context.Background(), &pb.TopicRequest{Topic: "HPACK"})
	if err != nil {
		t.Fatal(err)
	}
	var got []pb.LearningUpdate
	for {
		u, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, *u)
	}
	want := []pb.LearningUpdate{
		{Content: "Searching for research papers on HPACK...", Progress: 25, Timestamp: "12:34:56"},
		{Content: "Analyzing core principles of HPACK...", Progress: 50, Timestamp: "12:34:56"},
		{Content: "Synthesizing key gRPC use cases...", Progress: 75, Timestamp: "12:34:56"},
		{Content: "Finalizing the consolidated report.", Progress: 100, Timestamp: "12:34:56"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("updates:\n%+v\nwant\n%+v", got, want)
	}
}

// TestStreamLearningsDelayIsCancellable checks that the delay between
// updates does not outlive a cancelled call: the handler returns, so the
// server's Stop in the cleanup returns too.
func TestStreamLearningsDelayIsCancellable(t *testing.T) {
	arrived := make(chan struct{}, 1)
	c := start(t, &messenger.Server{Delay: time.Hour, Log: signalWriter(arrived)})
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.StreamLearnings(ctx, &pb.TopicRequest{Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	<-arrived // the handler logs before its first wait
	cancel()
	if _, err := stream.Recv(); rpc.CodeOf(err) != rpc.Canceled {
		t.Fatalf("Recv after cancel: %v, want CANCELLED", err)
	}
}

func TestStreamLearningsDelayBetweenUpdates(t *testing.T) {
	const delay = 30 * time.Millisecond
	c := start(t, &messenger.Server{Delay: delay})
	begin := time.Now()
	stream, err := c.StreamLearnings(context.Background(), &pb.TopicRequest{Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		u, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		// A lower bound only: the server waits delay before each update.
		if elapsed := time.Since(begin); elapsed < time.Duration(n)*delay {
			t.Errorf("update %d after %v, before %d delays of %v", n, elapsed, n, delay)
		}
		if len(u.Timestamp) != len("15:04:05") || u.Timestamp[2] != ':' || u.Timestamp[5] != ':' {
			t.Errorf("timestamp %q is not HH:MM:SS", u.Timestamp)
		}
	}
	if n != 4 {
		t.Errorf("%d updates, want 4", n)
	}
}

func TestSubmitResearchNotes(t *testing.T) {
	var log syncBuffer
	c := start(t, &messenger.Server{Log: &log})
	for _, tc := range []struct {
		notes []string
		want  pb.SummaryResponse
	}{
		{nil, pb.SummaryResponse{Count: 0, FinalSummary: "Processed 0 notes. Key takeaway: None"}},
		{[]string{"only"}, pb.SummaryResponse{Count: 1, FinalSummary: "Processed 1 notes. Key takeaway: only"}},
		{[]string{"a", "b", "Note 4: Typed interface contracts"}, pb.SummaryResponse{Count: 3, FinalSummary: "Processed 3 notes. Key takeaway: Note 4: Typed interface contracts"}},
	} {
		stream, err := c.SubmitResearchNotes(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tc.notes {
			if err := stream.Send(&pb.ResearchNote{Text: n}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := stream.CloseAndRecv()
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Equal(&tc.want) {
			t.Errorf("notes %q: got %+v, want %+v", tc.notes, resp, &tc.want)
		}
	}
	// server.py prints the first 20 characters of each note.
	if !strings.Contains(log.String(), " - Received fragment 3: Note 4: Typed interf...\n") {
		t.Errorf("server log lacks the truncated note:\n%s", log.String())
	}
}

func TestCollaborativeFeed(t *testing.T) {
	c := start(t, &messenger.Server{})
	stream, err := c.CollaborativeFeed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Each update is acknowledged before the next is sent: the answers
	// are streamed, not collected until the end.
	for _, u := range []pb.FeedUpdate{{User: "QA", Message: "Verifying latency..."}, {User: "Lead", Message: "é"}} {
		if err := stream.Send(&u); err != nil {
			t.Fatal(err)
		}
		ack, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		want := pb.FeedUpdate{User: "System", Message: "Acknowledged " + u.User + "'s update: " + u.Message}
		if !ack.Equal(&want) {
			t.Errorf("got %+v, want %+v", ack, &want)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("after CloseSend: %v, want io.EOF", err)
	}
}

// unimplemented serves nothing of its own.
type unimplemented struct {
	messenger.UnimplementedLearningMessengerServer
}

func TestUnimplementedServer(t *testing.T) {
	c := start(t, unimplemented{})
	_, err := c.GetLearningStatus(context.Background(), &pb.StatusRequest{})
	if rpc.CodeOf(err) != rpc.Unimplemented {
		t.Errorf("GetLearningStatus: %v, want UNIMPLEMENTED", err)
	}
	stream, err := c.CollaborativeFeed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); rpc.CodeOf(err) != rpc.Unimplemented {
		t.Errorf("CollaborativeFeed: %v, want UNIMPLEMENTED", err)
	}
}

// labOutput is what client.py prints against server.py, for the clock at
// noon.
const labOutput = `--- Unary Request ---
Server Response: System ready for research. Status check OK. (Active: True)

--- Server Streaming (Real-time updates) ---
[12:34:56] Progress 25%: Searching for research papers on gRPC Protocols...
[12:34:56] Progress 50%: Analyzing core principles of gRPC Protocols...
[12:34:56] Progress 75%: Synthesizing key gRPC use cases...
[12:34:56] Progress 100%: Finalizing the consolidated report.

--- Client Streaming (Uploading research notes) ---
Server Summary: Processed 4 notes. Key takeaway: Note 4: Typed interface contracts (Total 4)

--- Bi-directional Streaming (Collaborative Feed) ---
 [Feed Update] System: Acknowledged Engineer's update: Initializing system...
 [Feed Update] System: Acknowledged Lead's update: Monitoring data flow...
 [Feed Update] System: Acknowledged QA's update: Verifying latency...
`

const labServerLog = `📡 Unary Request from: researcher-01
📡 Server Streaming topic: gRPC Protocols
📡 Receiving stream of research notes...
 - Received fragment 1: Note 1: gRPC uses HT...
 - Received fragment 2: Note 2: Built on Pro...
 - Received fragment 3: Note 3: Binary TLV s...
 - Received fragment 4: Note 4: Typed interf...
📡 Bi-directional 'Collaborative Feed' opened.
 [Feed] From Engineer: Initializing system...
 [Feed] From Lead: Monitoring data flow...
 [Feed] From QA: Verifying latency...
`

func TestClientPrintsTheLabsOutput(t *testing.T) {
	var log syncBuffer
	stub := start(t, &messenger.Server{Log: &log, Now: fixedClock, Delay: time.Millisecond})
	var out bytes.Buffer
	c := &messenger.Client{Stub: stub, Out: &out, Delay: time.Millisecond}
	if err := c.RunAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out.String() != labOutput {
		t.Errorf("client printed:\n%s\nwant:\n%s", out.String(), labOutput)
	}
	if log.String() != labServerLog {
		t.Errorf("server printed:\n%s\nwant:\n%s", log.String(), labServerLog)
	}
}

// A client whose call fails reports the call and the status.
func TestClientReportsErrors(t *testing.T) {
	c := &messenger.Client{Stub: start(t, unimplemented{}), Out: io.Discard}
	for name, run := range map[string]func(context.Context) error{
		"GetLearningStatus":   c.RunUnary,
		"StreamLearnings":     c.RunServerStreaming,
		"SubmitResearchNotes": c.RunClientStreaming,
		"CollaborativeFeed":   c.RunBidirectionalStreaming,
	} {
		err := run(context.Background())
		if rpc.CodeOf(err) != rpc.Unimplemented || !strings.HasPrefix(err.Error(), name+": ") {
			t.Errorf("%s: %v; want UNIMPLEMENTED, prefixed with the method", name, err)
		}
	}
}
