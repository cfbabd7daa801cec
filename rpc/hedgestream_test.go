package rpc

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// hedgeStreamServer runs a streaming handler per attempt, told the
// attempt's grpc-previous-rpc-attempts; it counts the attempts and reports
// each one's start.
type hedgeStreamServer struct {
	mu      sync.Mutex
	prev    []string
	started chan string // receives each attempt's grpc-previous-rpc-attempts
}

func (h *hedgeStreamServer) env(t *testing.T, config string, attempt func(prev string, ss ServerStream) error) *env {
	h.started = make(chan string, 16)
	return newEnv(t, &echoServer{stream: func(ss ServerStream) error {
		md, _ := FromIncomingContext(ss.Context())
		prev := strings.Join(md["grpc-previous-rpc-attempts"], ",")
		h.mu.Lock()
		h.prev = append(h.prev, prev)
		h.mu.Unlock()
		h.started <- prev
		return attempt(prev, ss)
	}}, nil, WithServiceConfig(config))
}

func (h *hedgeStreamServer) attempts() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.prev)
}

// waitStarted waits for n attempts to reach the server.
func (h *hedgeStreamServer) waitStarted(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-h.started:
		case <-time.After(10 * time.Second):
			t.Fatalf("fewer than %d attempts reached the server", n)
		}
	}
}

func hedgeStreamConfig(maxAttempts int, delay string) string {
	return fmt.Sprintf(`{"methodConfig": [{"name": [{"service": "test.Echo"}],
	  "hedgingPolicy": {"maxAttempts": %d, "hedgingDelay": %q, "nonFatalStatusCodes": ["UNAVAILABLE"]}}]}`, maxAttempts, delay)
}

// readAll reads the request stream to its end.
func readAll(ss ServerStream) []string {
	var got []string
	for {
		var m []byte
		if err := ss.RecvMsg(&m); err != nil {
			return got
		}
		got = append(got, string(m))
	}
}

// A hedged client-streaming call: the first attempt never answers; the
// second, hedged after 50ms, gets the message sent before it started
// (replayed) and those sent after, and wins; the first is cancelled and its
// handler's context ends.
func TestHedgedClientStream(t *testing.T) {
	var h hedgeStreamServer
	loserEnded := make(chan error, 1)
	winnerGot := make(chan []string, 1)
	e := h.env(t, hedgeStreamConfig(2, "0.05s"), func(prev string, ss ServerStream) error {
		got := readAll(ss)
		if prev == "" {
			<-ss.Context().Done()
			loserEnded <- ss.Context().Err()
			return ss.Context().Err()
		}
		winnerGot <- got
		return ss.SendMsg([]byte(strings.Join(got, "+")))
	})
	s, err := e.cc.NewStream(context.Background(), clientStreamDesc, "/test.Echo/ClientStream")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg([]byte("a")); err != nil {
		t.Fatal(err)
	}
	h.waitStarted(t, 2) // the hedge went out
	for _, m := range []string{"b", "c"} {
		if err := s.SendMsg([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	s.CloseSend()
	var reply []byte
	if err := s.RecvMsg(&reply); err != nil {
		t.Fatal(err)
	}
	if string(reply) != "a+b+c" {
		t.Errorf("reply %q, want a+b+c", reply)
	}
	if err := s.RecvMsg(&reply); err != io.EOF {
		t.Errorf("after the reply: %v, want io.EOF", err)
	}
	if got := <-winnerGot; strings.Join(got, "+") != "a+b+c" {
		t.Errorf("the winning attempt got %q", got)
	}
	select {
	case err := <-loserEnded:
		if err != context.Canceled {
			t.Errorf("the loser's context ended with %v, want Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the losing attempt's handler never saw its context end")
	}
	if n := h.attempts(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
	if b := e.cc.retryBuffered.Load(); b != 0 {
		t.Errorf("%d bytes still counted as kept for a retry", b)
	}
}

// A hedged bidi call: the first attempt reads and never answers; the
// second echoes, and every message reaches it, the one sent before it
// started included.
func TestHedgedBidi(t *testing.T) {
	var h hedgeStreamServer
	loserEnded := make(chan error, 1)
	winnerGot := make(chan []string, 1)
	e := h.env(t, hedgeStreamConfig(2, "0.05s"), func(prev string, ss ServerStream) error {
		if prev == "" {
			readAll(ss)
			<-ss.Context().Done()
			loserEnded <- ss.Context().Err()
			return ss.Context().Err()
		}
		var got []string
		defer func() { winnerGot <- got }()
		for {
			var m []byte
			if err := ss.RecvMsg(&m); err != nil {
				return nil
			}
			got = append(got, string(m))
			if err := ss.SendMsg(m); err != nil {
				return err
			}
		}
	})
	s, err := e.cc.NewStream(context.Background(), bidiDesc, "/test.Echo/Bidi")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg([]byte("a")); err != nil {
		t.Fatal(err)
	}
	h.waitStarted(t, 2)
	if err := s.SendMsg([]byte("b")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a", "b"} {
		var m []byte
		if err := s.RecvMsg(&m); err != nil || string(m) != want {
			t.Fatalf("RecvMsg: %q, %v; want %q", m, err, want)
		}
	}
	if err := s.SendMsg([]byte("c")); err != nil {
		t.Fatal(err)
	}
	var m []byte
	if err := s.RecvMsg(&m); err != nil || string(m) != "c" {
		t.Fatalf("RecvMsg after the commit: %q, %v; want c", m, err)
	}
	s.CloseSend()
	if err := s.RecvMsg(&m); err != io.EOF {
		t.Fatalf("RecvMsg at the end: %v, want io.EOF", err)
	}
	if got := <-winnerGot; strings.Join(got, " ") != "a b c" {
		t.Errorf("the winning attempt got %q, want a b c", got)
	}
	select {
	case err := <-loserEnded:
		if err != context.Canceled {
			t.Errorf("the loser's context ended with %v, want Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the losing attempt's handler never saw its context end")
	}
}

// Once response headers commit a hedged stream, no attempt is started,
// however long the call lasts.
func TestHedgedStreamCommittedNoMoreHedges(t *testing.T) {
	var h hedgeStreamServer
	e := h.env(t, hedgeStreamConfig(5, "0.1s"), func(prev string, ss ServerStream) error {
		if err := ss.SendHeader(MD{"attempt": {prev}}); err != nil {
			return err
		}
		got := readAll(ss)
		return ss.SendMsg([]byte(strings.Join(got, "+")))
	})
	s, err := e.cc.NewStream(context.Background(), bidiDesc, "/test.Echo/Bidi")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Header(); err != nil {
		t.Fatal(err)
	}
	hs := s.(*clientStream).hedge
	select {
	case <-hs.done:
	default:
		t.Fatal("Header returned before the hedging loop ended")
	}
	s.(*clientStream).retryMu.Lock()
	made := hs.started
	s.(*clientStream).retryMu.Unlock()
	time.Sleep(time.Second) // ten hedging delays
	if err := s.SendMsg([]byte("x")); err != nil {
		t.Fatal(err)
	}
	s.CloseSend()
	var m []byte
	if err := s.RecvMsg(&m); err != nil || string(m) != "x" {
		t.Fatalf("RecvMsg: %q, %v", m, err)
	}
	s.(*clientStream).retryMu.Lock()
	after := hs.started
	s.(*clientStream).retryMu.Unlock()
	if after != made || h.attempts() > made {
		t.Errorf("%d attempts made when the call committed, %d made and %d seen by the server after", made, after, h.attempts())
	}
}

// A non-fatal failure sends the next attempt at once (not after the 5s
// hedging delay), which gets every message; a fatal one ends the call.
func TestHedgedStreamNonFatalAndFatal(t *testing.T) {
	var h hedgeStreamServer
	var mu sync.Mutex
	code := Unavailable
	e := h.env(t, hedgeStreamConfig(3, "5s"), func(prev string, ss ServerStream) error {
		got := readAll(ss)
		mu.Lock()
		c := code
		mu.Unlock()
		if prev == "" {
			return Errorf(c, "first attempt fails")
		}
		return ss.SendMsg([]byte(strings.Join(got, "+")))
	})
	send := func() ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		defer cancel()
		s, err := e.cc.NewStream(ctx, clientStreamDesc, "/test.Echo/ClientStream")
		if err != nil {
			return nil, err
		}
		for _, m := range []string{"a", "b"} {
			if err := s.SendMsg([]byte(m)); err != nil {
				return nil, err
			}
		}
		s.CloseSend()
		var reply []byte
		err = s.RecvMsg(&reply)
		return reply, err
	}
	reply, err := send()
	if err != nil || string(reply) != "a+b" {
		t.Fatalf("after a non-fatal failure: %q, %v; want a+b from the next attempt", reply, err)
	}
	if n := h.attempts(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
	mu.Lock()
	code = Internal
	mu.Unlock()
	_, err = send()
	wantCode(t, err, Internal)
	if n := h.attempts(); n != 3 {
		t.Errorf("%d attempts in all, want 1 more after a fatal code", n)
	}
}
