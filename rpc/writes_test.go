package rpc

import (
	"context"
	"errors"
	"io"
	"testing"
)

// TestUnaryOneWriteEachWay: a unary call costs one write (one syscall) on
// each side: the request's HEADERS and DATA go out together, written by the
// calling goroutine, and so do the response's HEADERS, DATA and trailers,
// written by the handler's goroutine.
func TestUnaryOneWriteEachWay(t *testing.T) {
	cc, server, client := countingEcho(t, &echoServer{unary: echoBack})
	ctx := context.Background()
	var reply []byte
	call := func() {
		t.Helper()
		if err := cc.Invoke(ctx, "/test.Echo/Unary", []byte("hello"), &reply); err != nil {
			t.Fatal(err)
		}
	}
	call() // the connection's setup (preface, SETTINGS and their ACKs)
	server.reset()
	client.reset()
	const calls = 200
	for range calls {
		call()
	}
	// A few more writes are allowed for connection WINDOW_UPDATEs.
	for name, n := range map[string]int64{"client": client.writes.Load(), "server": server.writes.Load()} {
		if n < calls || n > calls+calls/20 {
			t.Errorf("%s: %d writes for %d unary calls, want one per call", name, n, calls)
		}
	}
}

// TestStreamWritesBatched: a server streaming small messages does not make
// a syscall per message (a flusher batches a run of writes), while a
// ping-pong exchange, where each side waits for the other, writes each
// message at once.
func TestStreamWritesBatched(t *testing.T) {
	const msgs = 2000
	cc, server, client := countingEcho(t, &echoServer{stream: func(ss ServerStream) error {
		var b []byte
		if err := ss.RecvMsg(&b); err != nil {
			return err
		}
		if string(b) == "stream" {
			for range msgs {
				if err := ss.SendMsg([]byte("0123456789abcdef")); err != nil {
					return err
				}
			}
			return nil
		}
		for { // ping-pong: echo each message
			if err := ss.SendMsg(b); err != nil {
				return err
			}
			if err := ss.RecvMsg(&b); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
	}})
	ctx := context.Background()

	server.reset()
	cs, err := cc.NewStream(ctx, serverStreamDesc, "/test.Echo/ServerStream")
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SendMsg([]byte("stream")); err != nil {
		t.Fatal(err)
	}
	var b []byte
	n := 0
	for ; cs.RecvMsg(&b) == nil; n++ {
	}
	if n != msgs {
		t.Fatalf("%d messages, want %d", n, msgs)
	}
	if w := server.writes.Load(); w > msgs/4 {
		t.Errorf("server: %d writes for %d streamed messages, want batches (at most %d)", w, msgs, msgs/4)
	}

	const rounds = 200
	cs, err = cc.NewStream(ctx, bidiDesc, "/test.Echo/Bidi")
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SendMsg([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if err := cs.RecvMsg(&b); err != nil {
		t.Fatal(err)
	}
	server.reset()
	client.reset()
	for range rounds {
		if err := cs.SendMsg([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if err := cs.RecvMsg(&b); err != nil {
			t.Fatal(err)
		}
	}
	cs.CloseSend()
	for name, n := range map[string]*ioCounts{"client": client, "server": server} {
		if w := n.writes.Load(); w < rounds || w > rounds+rounds/10 {
			t.Errorf("ping-pong, %s: %d writes for %d round trips, want about one each", name, w, rounds)
		}
	}
}
