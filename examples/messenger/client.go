package messenger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/h2rpc/h2rpc/examples/messenger/pb"
)

// Client runs the example's four calls: four run functions, one per call
// shape, each printing a line per message sent and received.
type Client struct {
	Stub LearningMessengerClient
	Out  io.Writer
	// Delay is waited before each streamed item the client sends, to
	// make the streaming visible.
	Delay time.Duration
}

// The requests the client sends.
var (
	labNotes = []string{
		"Note 1: gRPC uses HTTP/2 Multiplexing",
		"Note 2: Built on Protocol Buffers",
		"Note 3: Binary TLV serialization",
		"Note 4: Typed interface contracts",
	}
	labFeed = []pb.FeedUpdate{
		{User: "Engineer", Message: "Initializing system..."},
		{User: "Lead", Message: "Monitoring data flow..."},
		{User: "QA", Message: "Verifying latency..."},
	}
)

// RunAll runs the four shapes in order (unary, server, client, bidi streaming), stopping at the first
// error.
func (c *Client) RunAll(ctx context.Context) error {
	for _, run := range []func(context.Context) error{
		c.RunUnary, c.RunServerStreaming, c.RunClientStreaming, c.RunBidirectionalStreaming,
	} {
		if err := run(ctx); err != nil {
			return err
		}
	}
	return nil
}

// RunUnary is run_unary: GetLearningStatus for "researcher-01".
func (c *Client) RunUnary(ctx context.Context) error {
	fmt.Fprintln(c.Out, "--- Unary Request ---")
	resp, err := c.Stub.GetLearningStatus(ctx, &pb.StatusRequest{UserId: "researcher-01"})
	if err != nil {
		return fmt.Errorf("GetLearningStatus: %w", err)
	}
	fmt.Fprintf(c.Out, "Server Response: %s (Active: %s)\n", resp.Message, pyBool(resp.Active))
	return nil
}

// RunServerStreaming is run_server_streaming: StreamLearnings on "gRPC
// Protocols", printing each update as it arrives.
func (c *Client) RunServerStreaming(ctx context.Context) error {
	fmt.Fprintln(c.Out, "\n--- Server Streaming (Real-time updates) ---")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the call if we stop early
	stream, err := c.Stub.StreamLearnings(ctx, &pb.TopicRequest{Topic: "gRPC Protocols"})
	if err != nil {
		return fmt.Errorf("StreamLearnings: %w", err)
	}
	for {
		u, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("StreamLearnings: %w", err)
		}
		fmt.Fprintf(c.Out, "[%s] Progress %d%%: %s\n", u.Timestamp, u.Progress, u.Content)
	}
}

// RunClientStreaming is run_client_streaming: four notes uploaded one by
// one, c.Delay apart, then the server's summary.
func (c *Client) RunClientStreaming(ctx context.Context) error {
	fmt.Fprintln(c.Out, "\n--- Client Streaming (Uploading research notes) ---")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.Stub.SubmitResearchNotes(ctx)
	if err != nil {
		return fmt.Errorf("SubmitResearchNotes: %w", err)
	}
	for _, text := range labNotes {
		if err := sleep(ctx, c.Delay); err != nil {
			return err
		}
		if err := stream.Send(&pb.ResearchNote{Text: text}); err != nil {
			break // the server ended the call: CloseAndRecv says why
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("SubmitResearchNotes: %w", err)
	}
	fmt.Fprintf(c.Out, "Server Summary: %s (Total %d)\n", resp.FinalSummary, resp.Count)
	return nil
}

// RunBidirectionalStreaming is run_bidirectional_streaming: three feed
// updates sent c.Delay apart on one goroutine while this one prints the
// server's acknowledgements as they come.
func (c *Client) RunBidirectionalStreaming(ctx context.Context) error {
	fmt.Fprintln(c.Out, "\n--- Bi-directional Streaming (Collaborative Feed) ---")
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.Stub.CollaborativeFeed(ctx)
	if err != nil {
		return fmt.Errorf("CollaborativeFeed: %w", err)
	}
	sent := make(chan error, 1)
	go func() { // ends when all are sent or ctx ends; waited for below
		sent <- c.sendFeed(ctx, stream)
	}()
	var recvErr error
	for {
		u, err := stream.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				recvErr = fmt.Errorf("CollaborativeFeed: %w", err)
			}
			break
		}
		fmt.Fprintf(c.Out, " [Feed Update] %s: %s\n", u.User, u.Message)
	}
	cancel() // stops the sender if the call ended early
	sendErr := <-sent
	if recvErr != nil {
		return recvErr
	}
	if sendErr != nil && (parent.Err() != nil || !errors.Is(sendErr, context.Canceled)) {
		// Not our own cancel above, after the server ended the call.
		return fmt.Errorf("CollaborativeFeed: %w", sendErr)
	}
	return nil
}

func (c *Client) sendFeed(ctx context.Context, stream LearningMessenger_CollaborativeFeedClient) error {
	for i := range labFeed {
		if err := sleep(ctx, c.Delay); err != nil {
			return err
		}
		if err := stream.Send(&labFeed[i]); err != nil {
			return nil // the call ended: Recv reports why
		}
	}
	return stream.CloseSend()
}

// pyBool formats a bool the way Python prints one.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
