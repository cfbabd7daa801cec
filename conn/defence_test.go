package conn_test

import (
	"runtime"
	"strings"
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
		// cheap open+reset makes us start goroutines faster than they end.
		release := make(chan struct{})
		started := 0
		var h conn.Handler = func(s *conn.Stream) {
			started++ // handlers start one at a time in this test: no race with the reads below
			<-release
		}
		c, p := startServer(t, &conn.Config{MaxConcurrentStreams: 10}, h)
		var id uint32 = 1
		for ; id < 200 && p.TryWriteRaw(frame.AppendHeaders(nil, id, false, true, p.EncodeHeaders(request("/")...))) == nil; id += 2 {
			synctest.Wait()
			if p.TryWriteRaw(frame.AppendRSTStream(nil, id, frame.ErrCodeCancel)) != nil {
				break
			}
		}
		// MaxHandlers defaults to 2 × MaxConcurrentStreams = 20 running
		// handlers: the 21st stream ends the connection.
		wantConnError(t, c, p, frame.ErrCodeEnhanceYourCalm)
		if started != 20 {
			t.Errorf("%d handlers started, want the bound 20", started)
		}
		close(release)
		stillServing(t, echo)
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
