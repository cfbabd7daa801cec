package conn_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/internal/h2test"
)

// ledExchange runs stream id, opened Unwatched under ctx, to its end with
// its caller leading for the response's DATA and END_STREAM, and checks
// that it led.
func ledExchange(t *testing.T, c *conn.Conn, p *h2test.Peer, ctx context.Context, id uint32) {
	t.Helper()
	s, err := c.OpenStream(ctx, request("/one"), nil, conn.EndStream|conn.Unwatched)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID() != id {
		t.Fatalf("opened stream %d, want %d", s.ID(), id)
	}
	p.WantType("HEADERS", frame.TypeHeaders)
	answerWhileWaiting(t, c, p, s)
	leadsBefore, _ := conn.Leads(c)
	got := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(s)
		got <- err
	}()
	waitLeading(t, c)
	p.WriteData(id, true, []byte("response"))
	if err := <-got; err != nil {
		t.Fatalf("stream %d: %v", id, err)
	}
	if leads, _ := conn.Leads(c); leads != leadsBefore+1 {
		t.Fatalf("stream %d: leads %d, want %d", id, leads, leadsBefore+1)
	}
}

type ctxKey struct{}

// Unwatched calls under one context (or contexts derived from it without a
// cancel of their own) keep one lead watcher between them, and the kept
// watcher still ends a leader whose context ends.
func TestLeadWatcherKeptForSharedContext(t *testing.T) {
	conn.SetLeadIdle(t, time.Minute)
	c, p := startClient(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	ledExchange(t, c, p, ctx, 1)
	if kept, _ := conn.KeptLeadWatch(c); kept {
		t.Fatal("a watcher kept after the first stream: the next may have a context of its own")
	}
	ledExchange(t, c, p, context.WithValue(ctx, ctxKey{}, 2), 3)
	if kept, _ := conn.KeptLeadWatch(c); !kept {
		t.Fatal("no watcher kept after two streams whose contexts end together")
	}

	// A third stream under ctx leads with the kept watcher and is ended
	// by it.
	s, err := c.OpenStream(context.WithValue(ctx, ctxKey{}, 3), request("/one"), nil, conn.EndStream|conn.Unwatched)
	if err != nil {
		t.Fatal(err)
	}
	p.WantType("HEADERS", frame.TypeHeaders)
	answerWhileWaiting(t, c, p, s)
	got := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 10))
		got <- err
	}()
	waitLeading(t, c)
	if kept, _ := conn.KeptLeadWatch(c); kept {
		t.Fatal("the leader did not take the kept watcher")
	}
	cancel()
	var re *conn.ResetError
	if err := <-got; !errors.As(err, &re) || re.Code != frame.ErrCodeCancel {
		t.Fatalf("Read after the context ended: %v, want a *ResetError CANCEL", err)
	}
	p.WantRST("stream 5 cancelled", 5, frame.ErrCodeCancel)
	if kept, _ := conn.KeptLeadWatch(c); kept {
		t.Fatal("a watcher kept for a context that ended")
	}
	if err := c.Err(); err != nil {
		t.Fatalf("connection failed: %v", err)
	}
}

// Calls with a context each keep no watcher: a kept one would fire when
// each call's context is cancelled after it returned.
func TestLeadWatcherNotKeptForContextPerCall(t *testing.T) {
	conn.SetLeadIdle(t, time.Minute)
	c, p := startClient(t, nil)
	for id := uint32(1); id <= 7; id += 2 {
		ctx, cancel := context.WithCancel(context.Background())
		ledExchange(t, c, p, ctx, id)
		cancel()
		if kept, _ := conn.KeptLeadWatch(c); kept {
			t.Fatalf("a watcher kept after stream %d, whose context was its own", id)
		}
	}
}

// The connection's end stops a kept watcher and forgets the contexts: a
// closed connection is not referenced from a caller's context.
func TestLeadWatcherDroppedAtClose(t *testing.T) {
	conn.SetLeadIdle(t, time.Minute)
	c, p := startClient(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ledExchange(t, c, p, ctx, 1)
	ledExchange(t, c, p, ctx, 3)
	if kept, _ := conn.KeptLeadWatch(c); !kept {
		t.Fatal("no watcher kept after two streams under one context")
	}
	c.Close()
	if _, remembers := conn.KeptLeadWatch(c); remembers {
		t.Fatal("the closed connection still keeps a watcher")
	}
}
