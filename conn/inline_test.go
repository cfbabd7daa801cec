package conn_test

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/internal/h2test"
)

// pathOf returns a server stream's :path.
func pathOf(s *conn.Stream) string {
	for _, f := range s.RequestHeaders() {
		if f.Name == ":path" {
			return f.Value
		}
	}
	return ""
}

// finishFastThenSlow expects the rest of stream 3's "/fast" answer, then
// releases stream 1's blocked Handler and expects its whole answer.
func finishFastThenSlow(p *h2test.Peer, release chan struct{}) {
	p.WantData("stream 3's body", 3, false, []byte("/fast"))
	p.WantHeaders("stream 3's trailers", 3, true, trailerOK)
	close(release)
	p.WantHeaders("stream 1's response", 1, false, status200)
	p.WantData("stream 1's body", 1, false, []byte("/slow"))
	p.WantHeaders("stream 1's trailers", 1, true, trailerOK)
}

// startSlowInline starts a server whose Handlers answer with their path,
// the one of "/slow" only once release is closed, and sends it stream 1's
// "/slow" request, whose Handler it checks runs inline and blocks.
func startSlowInline(t *testing.T) (p *h2test.Peer, release chan struct{}) {
	t.Helper()
	release = make(chan struct{})
	started := make(chan struct{}, 1)
	c, p := startServer(t, nil, func(s *conn.Stream) {
		if pathOf(s) == "/slow" {
			started <- struct{}{}
			<-release
		}
		s.WriteAll(status200, []byte(pathOf(s)), trailerOK)
	})
	p.WriteHeaders(1, true, request("/slow")...)
	<-started
	if n := conn.InlineRuns(c); n != 1 {
		t.Fatalf("%d handlers ran inline, want 1: the test needs the slow one to", n)
	}
	return p, release
}

// A whole request's Handler runs on the reading goroutine; one that blocks
// outside the connection (here on a channel) does not stall reading for
// long: a PING is answered and another stream's request is served while it
// blocks, and it answers once released.
func TestInlineSlowHandlerDoesNotStallReading(t *testing.T) {
	p, release := startSlowInline(t)
	ping := [8]byte{8, 7, 6, 5, 4, 3, 2, 1}
	p.WriteFrames(&frame.PingFrame{Header: frame.Header{Type: frame.TypePing, Length: 8}, Data: ping})
	p.WantFrame("PING ACK while a handler blocks", &frame.PingFrame{Header: frame.Header{Type: frame.TypePing, Flags: frame.FlagAck, Length: 8}, Data: ping})
	p.WriteHeaders(3, true, request("/fast")...)
	p.WantHeaders("stream 3's response while stream 1's handler blocks", 3, false, status200)
	finishFastThenSlow(p, release)
}

// A Handler run inline whose write waits for credit gets a reader beside
// it at once (the watchdog is held off for a minute here): the peer's
// WINDOW_UPDATE is read and the write completes. Then the connection goes
// on serving requests, inline again.
func TestInlineHandlerWaitingForCreditGetsAReader(t *testing.T) {
	conn.SetLeadIdle(t, time.Minute)
	conn.SetInlineIdle(t, time.Minute)
	body := []byte("0123456789abcdefghij")
	var done atomic.Int32
	c, p := startServer(t, nil, func(s *conn.Stream) {
		if err := s.WriteAll(status200, body, trailerOK); err != nil {
			t.Errorf("WriteAll: %v", err)
		}
		done.Add(1)
	}, frame.Setting{ID: frame.SettingInitialWindowSize, Val: 10})
	p.WriteHeaders(1, true, request("/big")...)
	p.WantHeaders("response headers", 1, false, status200)
	p.WantData("the first 10 bytes", 1, false, body[:10])
	p.WriteFrames(&frame.WindowUpdateFrame{Header: frame.Header{Type: frame.TypeWindowUpdate, StreamID: 1, Length: 4}, Increment: 100})
	p.WantData("the rest", 1, false, body[10:])
	p.WantHeaders("trailers", 1, true, trailerOK)
	waitFor(t, "the handler to return", func() bool { return done.Load() == 1 })
	before := conn.InlineRuns(c)
	p.WriteFrames(&frame.WindowUpdateFrame{Header: frame.Header{Type: frame.TypeWindowUpdate, StreamID: 0, Length: 4}, Increment: 1000})
	for id := uint32(3); id < 9; id += 2 {
		p.WriteFrames(&frame.WindowUpdateFrame{Header: frame.Header{Type: frame.TypeWindowUpdate, StreamID: 0, Length: 4}, Increment: 1})
		p.WriteHeaders(id, true, request("/small")...)
		p.WantHeaders("response headers", id, false, status200)
		p.WantData("10 bytes", id, false, body[:10])
		p.WriteFrames(&frame.WindowUpdateFrame{Header: frame.Header{Type: frame.TypeWindowUpdate, StreamID: id, Length: 4}, Increment: 100})
		p.WantData("the rest", id, false, body[10:])
		p.WantHeaders("trailers", id, true, trailerOK)
	}
	if n := conn.InlineRuns(c) - before; n == 0 {
		t.Fatal("no handler ran inline after the first")
	}
}

// A request that arrives while another's Handler blocks inline waits for
// the watchdog, which bounds that wait to twice its period (in fake time:
// here nothing but the watchdog can make the server read).
func TestInlineWatchdogBoundsTheStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, release := startSlowInline(t)
		start := time.Now()
		p.WriteHeaders(3, true, request("/fast")...)
		p.WantHeaders("stream 3's response while stream 1's handler blocks", 3, false, status200)
		if d, max := time.Since(start), 2*conn.InlineIdle(); d > max {
			t.Errorf("stream 3 was answered %v after it was sent while a handler blocked inline, want at most %v", d, max)
		}
		finishFastThenSlow(p, release)
	})
}
