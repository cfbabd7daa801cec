package messenger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/h2rpc/h2rpc/examples/messenger/pb"
)

// LabDelay is the example's simulated latency: the server waits this long before
// each StreamLearnings update and the client before each streamed item.
const LabDelay = time.Second

// Server implements LearningMessengerServer. Its zero value works (no delay, no log); it is safe for
// concurrent calls.
type Server struct {
	UnimplementedLearningMessengerServer

	// Delay is waited before each StreamLearnings update; the wait ends early if the call is cancelled.
	Delay time.Duration
	// Log, if not nil, receives the lines the server prints, one Write per
	// line.
	Log io.Writer
	// Now returns the time stamped on updates; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex // serializes writes to Log
}

// logf writes one line to s.Log.
func (s *Server) logf(format string, args ...any) {
	if s.Log == nil {
		return
	}
	line := fmt.Sprintf(format, args...) + "\n"
	s.mu.Lock()
	defer s.mu.Unlock()
	io.WriteString(s.Log, line)
}

// GetLearningStatus is a readiness handshake: a fixed answer.
func (s *Server) GetLearningStatus(ctx context.Context, req *pb.StatusRequest) (*pb.StatusResponse, error) {
	s.logf("📡 Unary Request from: %s", req.UserId)
	return &pb.StatusResponse{
		Message: "System ready for research. Status check OK.",
		Active:  true,
	}, nil
}

// StreamLearnings pushes four updates on the topic, 25% progress apart,
// each after s.Delay and stamped with the time of day (HH:MM:SS).
func (s *Server) StreamLearnings(req *pb.TopicRequest, stream LearningMessenger_StreamLearningsServer) error {
	topic := req.Topic
	s.logf("📡 Server Streaming topic: %s", topic)
	updates := []string{
		fmt.Sprintf("Searching for research papers on %s...", topic),
		fmt.Sprintf("Analyzing core principles of %s...", topic),
		"Synthesizing key gRPC use cases...",
		"Finalizing the consolidated report.",
	}
	now := s.Now
	if now == nil {
		now = time.Now
	}
	for i, text := range updates {
		if err := sleep(stream.Context(), s.Delay); err != nil {
			return err
		}
		err := stream.Send(&pb.LearningUpdate{
			Content:   text,
			Progress:  int32(i+1) * 25,
			Timestamp: now().Format("15:04:05"),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// SubmitResearchNotes counts the notes until the client half-closes, then
// answers with the count and the last note.
func (s *Server) SubmitResearchNotes(stream LearningMessenger_SubmitResearchNotesServer) error {
	s.logf("📡 Receiving stream of research notes...")
	var count int32
	last := "None"
	for {
		note, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		count++
		last = note.Text
		s.logf(" - Received fragment %d: %s...", count, prefix(note.Text, 20))
	}
	return stream.SendAndClose(&pb.SummaryResponse{
		Count:        count,
		FinalSummary: fmt.Sprintf("Processed %d notes. Key takeaway: %s", count, last),
	})
}

// CollaborativeFeed acknowledges each update as it arrives, as "System".
func (s *Server) CollaborativeFeed(stream LearningMessenger_CollaborativeFeedServer) error {
	s.logf("📡 Bi-directional 'Collaborative Feed' opened.")
	for {
		in, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		s.logf(" [Feed] From %s: %s", in.User, in.Message)
		err = stream.Send(&pb.FeedUpdate{
			User:    "System",
			Message: fmt.Sprintf("Acknowledged %s's update: %s", in.User, in.Message),
		})
		if err != nil {
			return err
		}
	}
}

// prefix returns the first n characters of s, as Python's s[:n] does.
func prefix(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// sleep waits d, or less if ctx ends first (then it returns ctx's error).
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
