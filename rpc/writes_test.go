package rpc

import (
	"context"
	"testing"
)

// TestUnaryOneWriteEachWay: a unary call costs one write (one syscall) on
// each side: the request's HEADERS and DATA go out together, written by the
// calling goroutine, and so do the response's HEADERS, DATA and trailers,
// written by the handler's goroutine.
func TestUnaryOneWriteEachWay(t *testing.T) {
	cc, server, client := countingEcho(t)
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
