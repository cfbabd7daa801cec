package conn_test

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

// Each defence: the attack ends with the right error while another
// connection (or stream) keeps working, and memory stays bounded.

// stillServing checks that a second, well-behaved connection to a server
// with the same handler works.
func stillServing(t *testing.T, h conn.Handler) {
	t.Helper()
	_, p := startServer(t, nil, h)
	p.WriteHeaders(1, true, request("/ok")...)
	p.WantHeaders("another connection is served", 1, false, status200)
}

func TestRapidResetSlowHandlers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Handlers that ignore the reset and keep running: the peer's
		// cheap open+reset would make us start goroutines faster than they
		// end. MaxHandlers (10 + 10/4 = 12) bounds them; the streams opened
		// past it wait, are reset, and never get a handler.
		release := make(chan struct{})
		var started atomic.Int32
		c, p := startServer(t, &conn.Config{MaxConcurrentStreams: 10}, func(s *conn.Stream) {
			started.Add(1)
			<-release
			s.WriteAll(nil, nil, status200)
		})
		const attacks = 5000
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		id := uint32(1)
		for ; id < 2*attacks; id += 2 {
			b := frame.AppendHeaders(nil, id, false, true, p.EncodeHeaders(request("/")...))
			p.WriteRaw(frame.AppendRSTStream(b, id, frame.ErrCodeCancel))
		}
		synctest.Wait()
		runtime.ReadMemStats(&after)
		if n := started.Load(); n != 12 {
			t.Errorf("%d handlers started, want the bound 12", n)
		}
		// Each stream reset before its handler started cost the reader its
		// frames, a Stream and the decoded fields: no goroutine, nothing kept.
		perAttack := (after.TotalAlloc - before.TotalAlloc) / attacks
		t.Logf("%d open+reset pairs: %d handlers started, %d bytes allocated per pair", attacks, started.Load(), perAttack)
		if perAttack > 4<<10 {
			t.Errorf("%d bytes allocated per open+reset pair, want under 4 KiB", perAttack)
		}
		// The reader went on all along: the connection answers PING and,
		// once the handlers return, serves new streams.
		p.WriteRaw(frame.AppendPing(nil, false, [8]byte{7}))
		p.WantFrame("PING answered", &frame.PingFrame{Header: frame.Header{Type: frame.TypePing, Flags: frame.FlagAck, Length: 8}, Data: [8]byte{7}})
		close(release)
		synctest.Wait()
		if n := started.Load(); n != 12 {
			t.Errorf("%d handlers started after the release, want still 12: the reset streams never get one", n)
		}
		p.WriteHeaders(id, true, request("/after")...)
		p.WantHeaders("a new stream is served", id, true, status200)
		if err := c.Err(); err != nil {
			t.Fatalf("the connection ended: %v", err)
		}
	})
}

// TestMadeYouReset: the peer makes us reset its streams by breaking a
// stream-level rule (here a WINDOW_UPDATE that overflows the stream's send
// window, RFC 9113 §6.9.1) instead of resetting them itself. The handlers
// of streams we reset count against MaxHandlers like any other.
func TestMadeYouReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		var started atomic.Int32
		c, p := startServer(t, &conn.Config{MaxConcurrentStreams: 10}, func(s *conn.Stream) {
			started.Add(1)
			<-release
		})
		const attacks = 2000
		for id := uint32(1); id < 2*attacks; id += 2 {
			b := frame.AppendHeaders(nil, id, true, true, p.EncodeHeaders(request("/")...))
			p.WriteRaw(frame.AppendWindowUpdate(b, id, 1<<31-1))
		}
		synctest.Wait()
		if n := started.Load(); n != 12 {
			t.Errorf("%d handlers started, want the bound 12", n)
		}
		resets := 0
		for _, fr := range p.Drain() {
			if rst, ok := fr.(*frame.RSTStreamFrame); ok && rst.Code == frame.ErrCodeFlowControl {
				resets++
			}
		}
		if resets != attacks {
			t.Errorf("%d RST_STREAM FLOW_CONTROL_ERROR sent, want %d", resets, attacks)
		}
		if err := c.Err(); err != nil {
			t.Fatalf("the connection ended: %v", err)
		}
	})
}

// TestWaitingStreamsDoNotStallTheConnection: while MaxHandlers handlers run
// (here the handlers of reset streams that ignore the reset), a new stream
// waits without stopping the reader: a running handler still gets its
// stream's DATA, a waiting stream that is reset gives its connection credit
// back at once and never runs, and the next waiting stream runs as soon as
// a handler returns, on that handler's goroutine.
func TestWaitingStreamsDoNotStallTheConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		var ran sync.Map
		h := func(s *conn.Stream) {
			ran.Store(s.ID(), true)
			for _, f := range s.RequestHeaders() {
				if f.Name == ":path" && f.Value == "/hold" {
					<-release // ignores the reset
					return
				}
			}
			echo(s)
		}
		// MaxHandlers 4 + 4/4 = 5.
		_, p := startServer(t, &conn.Config{MaxConcurrentStreams: 4, ConnWindowSize: 65535}, h)
		p.WriteHeaders(1, false, request("/echo")...)
		p.WantHeaders("stream 1 runs", 1, false, status200)
		for id := uint32(3); id <= 9; id += 2 {
			p.WriteHeaders(id, true, request("/hold")...)
			p.WriteRaw(frame.AppendRSTStream(nil, id, frame.ErrCodeCancel))
		}
		// Five handlers run (1, and 3..9 unwinding): 11 and 13 wait.
		p.WriteHeaders(11, false, request("/echo")...)
		p.WriteHeaders(13, false, request("/echo")...)
		p.WriteData(13, false, make([]byte, 16000))
		p.WriteData(13, true, make([]byte, 4000))
		synctest.Wait()
		if _, ok := ran.Load(uint32(11)); ok {
			t.Fatal("stream 11 got a handler past MaxHandlers")
		}
		// Reset while waiting: its 20000 bytes of connection credit come
		// back (more than a quarter of the 65535 window), with the next
		// batch written, since the peer still has more than half the
		// window.
		p.WriteRaw(frame.AppendRSTStream(nil, 13, frame.ErrCodeCancel))
		// The running handler of stream 1 still gets its DATA.
		p.WriteData(1, true, []byte("through"))
		p.WantFrame("credit of the dropped stream", &frame.WindowUpdateFrame{Header: frame.Header{Type: frame.TypeWindowUpdate, Length: 4}, Increment: 20000})
		p.WantData("stream 1's echo", 1, false, []byte("through"))
		p.WantHeaders("stream 1's trailers", 1, true, trailerOK)
		// Its goroutine took stream 11.
		p.WantHeaders("stream 11 runs once stream 1's handler returned", 11, false, status200)
		p.WriteData(11, true, []byte("late"))
		p.WantData("stream 11's echo", 11, false, []byte("late"))
		p.WantHeaders("stream 11's trailers", 11, true, trailerOK)
		synctest.Wait()
		if _, ok := ran.Load(uint32(13)); ok {
			t.Error("stream 13, reset while waiting, got a handler")
		}
	})
}

func TestRapidResetRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Handlers end as soon as their stream is reset; the reset rate is
		// what gives the attack away. Fake time does not move here, so all
		// resets fall in one interval.
		cfg := &conn.Config{MaxPeerResets: 100, ResetInterval: time.Second}
		c, p := startServer(t, cfg, func(s *conn.Stream) { <-s.Context().Done() })
		for id := uint32(1); id < 1000; id += 2 {
			b := frame.AppendHeaders(nil, id, false, true, p.EncodeHeaders(request("/")...))
			b = frame.AppendRSTStream(b, id, frame.ErrCodeCancel)
			if p.TryWriteRaw(b) != nil {
				break
			}
		}
		wantConnError(t, c, p, frame.ErrCodeEnhanceYourCalm)
		stillServing(t, echo)
	})
}

func TestResetsWithinRateAllowed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := &conn.Config{MaxPeerResets: 10, ResetInterval: time.Second}
		_, p := startServer(t, cfg, func(s *conn.Stream) { <-s.Context().Done() })
		// 10 resets a second, for 5 seconds: a busy but legitimate client.
		var id uint32 = 1
		for range 5 {
			for range 10 {
				p.WriteHeaders(id, false, request("/")...)
				p.WriteRaw(frame.AppendRSTStream(nil, id, frame.ErrCodeCancel))
				id += 2
			}
			time.Sleep(1100 * time.Millisecond)
		}
		p.WriteHeaders(id, true, request("/")...)
		p.WantIdle("connection still up")
	})
}

func TestContinuationFlood(t *testing.T) {
	t.Run("many frames", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c, p := startServer(t, nil, echo)
			// CVE-2023-45288: a header block that never ends. Empty
			// CONTINUATION frames cost the peer 9 bytes each.
			p.WriteRaw(frame.AppendHeaders(nil, 1, false, false, p.EncodeHeaders(request("/")...)))
			for range 1000 {
				if p.TryWriteRaw(frame.AppendContinuation(nil, 1, false, nil)) != nil {
					break
				}
			}
			// More than MaxContinuations (32) frames: ENHANCE_YOUR_CALM.
			wantConnError(t, c, p, frame.ErrCodeEnhanceYourCalm)
			stillServing(t, echo)
		})
	})
	t.Run("large block", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c, p := startServer(t, nil, echo)
			p.WriteRaw(frame.AppendHeaders(nil, 1, false, false, p.EncodeHeaders(request("/")...)))
			junk := make([]byte, 16000)
			for range 30 {
				if p.TryWriteRaw(frame.AppendContinuation(nil, 1, false, junk)) != nil {
					break
				}
			}
			// Past MaxHeaderBlockSize (64 KiB) buffered: ENHANCE_YOUR_CALM.
			wantConnError(t, c, p, frame.ErrCodeEnhanceYourCalm)
		})
	})
}

func TestHPACKBomb(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, p := startServer(t, nil, echo)
		// A 4000-byte value enters the peer's dynamic table (index 62)...
		big := strings.Repeat("a", 4000)
		p.WriteHeaders(1, true, append(request("/"), f("x-bomb", big))...)
		p.WantHeaders("first request within limits", 1, false, status200)
		p.WantHeaders("first request trailers", 1, true, trailerOK)
		// ...and a 203-byte block references it 200 times: 800 KB of
		// header list from a tiny frame. :method POST, :scheme http, :path /
		// from the static table, then 200 × indexed field 62.
		bomb := []byte{0x83, 0x86, 0x84}
		for range 200 {
			bomb = append(bomb, 0x80|62)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const bombs = 20
		for i := range bombs {
			id := uint32(3 + 2*i)
			p.WriteRaw(frame.AppendHeaders(nil, id, true, true, bomb))
			// Over SETTINGS_MAX_HEADER_LIST_SIZE (16 KiB): 431, the
			// connection lives (RFC 9113 §10.5.1).
			p.WantHeaders("431 for the bomb", id, true, h431)
		}
		runtime.ReadMemStats(&after)
		// Decoding stops storing fields at the limit: far less than the
		// 16 MB the bombs expand to.
		grew := after.TotalAlloc - before.TotalAlloc
		t.Logf("%d bombs expanding to 800 KB each allocated %d bytes in all", bombs, grew)
		if grew > bombs*200<<10 {
			t.Errorf("the bombs allocated %d bytes, want under %d", grew, bombs*200<<10)
		}
		p.WriteHeaders(99, true, request("/after")...)
		p.WantHeaders("the connection still serves", 99, false, status200)
	})
}

var h431 = []hpack.Field{f(":status", "431")}

func TestControlFrameFloodNonReadingPeer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"SETTINGS", frame.AppendSettings(nil, frame.Setting{ID: frame.SettingMaxConcurrentStreams, Val: 100})},
		{"PING", frame.AppendPing(nil, false, [8]byte{1})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const limit = 4096
				c, p := startServer(t, &conn.Config{MaxControlBytes: limit}, echo)
				// The peer floods and never reads the acknowledgements.
				p.StopReading()
				sent := 0
				for sent < 100000 && p.TryWriteRaw(tc.frame) == nil {
					sent++
				}
				<-c.Done()
				t.Logf("gave up after %d %s frames", sent, tc.name)
				var ce *frame.ConnError
				if err := c.Err(); !asConnError(err, &ce) || ce.Code != frame.ErrCodeEnhanceYourCalm {
					t.Fatalf("Err() = %v, want ENHANCE_YOUR_CALM", err)
				}
				// The queue of unread acknowledgements was bounded: the
				// connection gave up after about limit/17 of them (plus what
				// the pipe and the writer held), not after all 100000.
				if sent > 2*limit/9+1000 {
					t.Errorf("the connection took %d frames before giving up", sent)
				}
				p.ResumeReading()
				stillServing(t, echo)
			})
		})
	}
}

func TestEmptyDataFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startServer(t, nil, func(s *conn.Stream) { <-s.Context().Done() })
		p.WriteHeaders(1, false, request("/")...)
		for range 1000 {
			if p.TryWriteRaw(frame.AppendData(nil, 1, false, nil)) != nil {
				break
			}
		}
		// More than MaxEmptyDataFrames (100) in a row: ENHANCE_YOUR_CALM.
		wantConnError(t, c, p, frame.ErrCodeEnhanceYourCalm)
		stillServing(t, echo)
	})
}

// TestWaitingStreamsRunInOrder: with one handler allowed, streams run one at
// a time, oldest first; a waiting stream's request DATA is buffered (within
// its window) until its handler reads it.
func TestWaitingStreamsRunInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, p := startServer(t, &conn.Config{MaxConcurrentStreams: 4, MaxHandlers: 1}, echo)
		for id := uint32(1); id <= 5; id += 2 {
			p.WriteHeaders(id, false, request("/echo")...)
		}
		p.WantHeaders("stream 1 runs", 1, false, status200)
		p.WriteData(5, true, []byte("five"))
		p.WriteData(3, true, []byte("three"))
		p.WantIdle("streams 3 and 5 wait for stream 1's handler")
		p.WriteData(1, true, []byte("one"))
		for _, want := range []struct {
			id   uint32
			body string
		}{{1, "one"}, {3, "three"}, {5, "five"}} {
			if want.id != 1 {
				p.WantHeaders("the next waiting stream runs", want.id, false, status200)
			}
			p.WantData("its echo", want.id, false, []byte(want.body))
			p.WantHeaders("its trailers", want.id, true, trailerOK)
		}
	})
}
