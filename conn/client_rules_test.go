package conn_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

func TestClientSettingsAdvertised(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nc, p := newClientPipe(t)
		c, _ := conn.Client(nc, nil)
		defer c.Close()
		s, _ := p.ServerHandshake()
		// We never accept push: SETTINGS_ENABLE_PUSH 0 (RFC 9113 §6.5.2).
		if v, ok := s.Value(frame.SettingEnablePush); !ok || v != 0 {
			t.Errorf("ENABLE_PUSH = %d, %v; want 0", v, ok)
		}
	})
}

func TestClientTrailersOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		s, err := c.OpenStream(context.Background(), request("/"), nil, conn.EndStream)
		if err != nil {
			t.Fatal(err)
		}
		p.WantHeaders("request", 1, true, request("/"))
		only := []hpack.Field{f(":status", "200"), f("grpc-status", "5")}
		p.WriteHeaders(1, true, only...)
		h, err := s.ReadHeaders()
		if err != nil || len(h) != 2 {
			t.Fatalf("ReadHeaders = %v, %v", h, err)
		}
		if !s.TrailersOnly() {
			t.Error("TrailersOnly = false")
		}
		if n, err := s.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Errorf("Read = %d, %v; want 0, EOF", n, err)
		}
		if tr := s.Trailers(); len(tr) != 2 || tr[1] != only[1] {
			t.Errorf("Trailers = %v, want the trailers-only block", tr)
		}
	})
}

func TestClientSkipsInformational(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		s, _ := c.OpenStream(context.Background(), request("/"), nil, conn.EndStream)
		p.WantHeaders("request", 1, true, request("/"))
		p.WriteHeaders(1, false, f(":status", "103"), f("link", "</x>"))
		p.WriteHeaders(1, true, f(":status", "204"))
		h, err := s.ReadHeaders()
		if err != nil || len(h) != 1 || h[0].Value != "204" {
			t.Fatalf("ReadHeaders = %v, %v; want the final 204", h, err)
		}
	})
}

func TestClientDataBeforeHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		s, _ := c.OpenStream(context.Background(), request("/"), nil, conn.EndStream)
		p.WantHeaders("request", 1, true, request("/"))
		p.WriteData(1, false, []byte("x"))
		// §8.1: a response starts with HEADERS; malformed → PROTOCOL_ERROR.
		p.WantRST("DATA before HEADERS", 1, frame.ErrCodeProtocol)
		var re *conn.ResetError
		if _, err := s.ReadHeaders(); !errors.As(err, &re) || re.Remote {
			t.Errorf("ReadHeaders = %v, want a local *ResetError", err)
		}
	})
}

func TestClientPushPromise(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		c.OpenStream(context.Background(), request("/"), nil, conn.EndStream)
		p.WantHeaders("request", 1, true, request("/"))
		p.WriteRaw(frame.AppendPushPromise(nil, 1, 2, true, p.EncodeHeaders(request("/pushed")...)))
		// We sent ENABLE_PUSH=0: RFC 9113 §6.6, PROTOCOL_ERROR.
		wantConnError(t, c, p, frame.ErrCodeProtocol)
	})
}

func TestClientRejectsEnablePush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		p.WriteSettings(frame.Setting{ID: frame.SettingEnablePush, Val: 1})
		wantConnError(t, c, p, frame.ErrCodeProtocol) // §6.5.2
	})
}

func TestClientServerInitiatedHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		p.WriteHeaders(2, true, f(":status", "200"))
		wantConnError(t, c, p, frame.ErrCodeProtocol) // §5.1.1
	})
}

func TestClientCancelResetsStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		s, _ := c.OpenStream(ctx, request("/"), nil, 0)
		p.WantHeaders("request", 1, false, request("/"))
		readErr := make(chan error, 1)
		go func() { _, err := s.ReadHeaders(); readErr <- err }()
		cancel()
		// The RPC layer relies on this: a done context resets the stream.
		p.WantRST("cancelled", 1, frame.ErrCodeCancel)
		var re *conn.ResetError
		if err := <-readErr; !errors.As(err, &re) || re.Code != frame.ErrCodeCancel || re.Remote {
			t.Errorf("ReadHeaders = %v, want a local *ResetError CANCEL", err)
		}
	})
}

func TestClientCancelAfterCompletionSendsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		s, _ := c.OpenStream(ctx, request("/"), nil, conn.EndStream)
		p.WantHeaders("request", 1, true, request("/"))
		p.WriteHeaders(1, false, status200...)
		p.WriteData(1, false, []byte("unread body"))
		p.WriteHeaders(1, true, trailerOK...)
		s.ReadHeaders()
		synctest.Wait()
		// The stream completed with its body unread; cancelling drops the
		// body and returns the connection credit, without RST_STREAM.
		cancel()
		p.WantIdle("no reset for a completed stream")
		// The dropped body must not read as a clean end of the stream.
		if n, err := s.Read(make([]byte, 64)); n != 0 || !errors.Is(err, context.Canceled) {
			t.Errorf("Read after the body was dropped = %d, %v; want 0, context.Canceled", n, err)
		}
	})
}

func TestClientWaitsForStreamSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil, frame.Setting{ID: frame.SettingMaxConcurrentStreams, Val: 1})
		ctx := context.Background()
		s1, err := c.OpenStream(ctx, request("/1"), nil, conn.EndStream)
		if err != nil {
			t.Fatal(err)
		}
		p.WantHeaders("first request", 1, true, request("/1"))
		// A second OpenStream waits for the slot; one with a short context
		// gives up.
		cctx, cancel := context.WithCancel(ctx)
		gaveUp := make(chan error, 1)
		go func() { _, err := c.OpenStream(cctx, request("/x"), nil, conn.EndStream); gaveUp <- err }()
		second := make(chan *conn.Stream, 1)
		go func() {
			s, err := c.OpenStream(ctx, request("/2"), nil, conn.EndStream)
			if err != nil {
				t.Error(err)
			}
			second <- s
		}()
		p.WantIdle("second stream waits under MAX_CONCURRENT_STREAMS")
		cancel()
		if err := <-gaveUp; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled OpenStream = %v", err)
		}
		p.WriteHeaders(1, true, status200...)
		s1.ReadHeaders()
		p.WantHeaders("second request after the first completed", 3, true, request("/2"))
		<-second
	})
}

func TestClientSettingsMaxConcurrentRaised(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil, frame.Setting{ID: frame.SettingMaxConcurrentStreams, Val: 0})
		opened := make(chan error, 2)
		for range 2 {
			go func() { _, err := c.OpenStream(context.Background(), request("/"), nil, conn.EndStream); opened <- err }()
		}
		p.WantIdle("no stream allowed")
		p.WriteSettings(frame.Setting{ID: frame.SettingMaxConcurrentStreams, Val: 5})
		p.WantType("SETTINGS ACK", frame.TypeSettings)
		for range 2 {
			if err := <-opened; err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestClientStreamIDExhaustion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		conn.SetStreamIDLimit(c, 3)
		ctx := context.Background()
		s1, _ := c.OpenStream(ctx, request("/"), nil, conn.EndStream)
		c.OpenStream(ctx, request("/"), nil, conn.EndStream)
		// RFC 9113 §5.1.1: no id left; the client drains and a new
		// connection takes new streams.
		if _, err := c.OpenStream(ctx, request("/"), nil, conn.EndStream); !errors.Is(err, conn.ErrNotAvailable) {
			t.Fatalf("OpenStream past the last id = %v, want ErrNotAvailable", err)
		}
		if c.Available() {
			t.Error("Available after id exhaustion")
		}
		p.WantHeaders("stream 1", 1, true, request("/"))
		p.WantHeaders("stream 3", 3, true, request("/"))
		p.WriteHeaders(1, true, status200...)
		p.WriteHeaders(3, true, status200...)
		s1.ReadHeaders()
		// Once the open streams finish, the drained connection closes.
		p.WantGoAway("drained", frame.ErrCodeNo)
		p.WantClosed("closed after draining")
		<-c.Done()
	})
}

func TestClientZeroWindowPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The peer never opens its window: writers block, their context
		// ends them, and nothing is buffered meanwhile.
		c, p := startClient(t, nil, frame.Setting{ID: frame.SettingInitialWindowSize, Val: 0})
		ctx, cancel := context.WithTimeout(context.Background(), 5e9)
		defer cancel()
		s, _ := c.OpenStream(ctx, request("/"), nil, 0)
		p.WantHeaders("request", 1, false, request("/"))
		err := s.WriteData(nil, make([]byte, 1<<20), true)
		var re *conn.ResetError
		if !errors.As(err, &re) || re.Code != frame.ErrCodeCancel {
			t.Fatalf("WriteData to a zero window = %v, want *ResetError CANCEL when the context ends", err)
		}
		p.WantRST("reset by the context", 1, frame.ErrCodeCancel)
		// No DATA was sent at all.
		p.WantIdle("nothing else")
	})
}

func TestClientCompleteResponseThenResetNoError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		s, _ := c.OpenStream(context.Background(), request("/"), nil, 0)
		p.WantHeaders("request", 1, false, request("/"))
		// RFC 9113 §8.1: the server answers before the request ended, then
		// asks the client to stop sending with RST_STREAM NO_ERROR.
		p.WriteHeaders(1, false, status200...)
		p.WriteData(1, false, []byte("early answer"))
		p.WriteHeaders(1, true, trailerOK...)
		p.WriteRaw(frame.AppendRSTStream(nil, 1, frame.ErrCodeNo))
		synctest.Wait()
		var re *conn.ResetError
		if err := s.WriteData(nil, []byte("more"), false); !errors.As(err, &re) || re.Code != frame.ErrCodeNo || !re.Remote {
			t.Errorf("WriteData after RST_STREAM NO_ERROR = %v, want a remote *ResetError NO_ERROR", err)
		}
		s.ReadHeaders()
		body, err := io.ReadAll(s)
		if err != nil || string(body) != "early answer" {
			t.Errorf("response body %q, %v; want the whole body and io.EOF", body, err)
		}
		if tr := s.Trailers(); len(tr) != 1 {
			t.Errorf("Trailers = %v", tr)
		}
	})
}

func TestClientServerNeverSendsSettings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nc, p := newClientPipe(t)
		c, _ := conn.Client(nc, &conn.Config{PrefaceTimeout: 4 * time.Second})
		defer c.Close()
		p.Drain()
		start := time.Now()
		<-c.Done()
		if d := time.Since(start); d != 4*time.Second {
			t.Errorf("gave up after %v, want the PrefaceTimeout 4s", d)
		}
		if _, err := c.OpenStream(context.Background(), request("/"), nil, conn.EndStream); !errors.Is(err, conn.ErrClosed) {
			t.Errorf("OpenStream on the dead connection = %v, want ErrClosed", err)
		}
	})
}

func TestClientPeerRefusalsAreNotRapidReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, &conn.Config{MaxPeerResets: 5})
		for i := range 10 {
			s, err := c.OpenStream(context.Background(), request("/"), nil, conn.EndStream)
			if err != nil {
				t.Fatal(err)
			}
			id := uint32(2*i + 1)
			p.WantHeaders("request", id, true, request("/"))
			p.WriteRaw(frame.AppendRSTStream(nil, id, frame.ErrCodeRefusedStream))
			var re *conn.ResetError
			if _, err := s.ReadHeaders(); !errors.As(err, &re) || re.Code != frame.ErrCodeRefusedStream {
				t.Fatalf("ReadHeaders = %v", err)
			}
		}
		if !c.Available() {
			t.Fatalf("the server's refusals ended the client connection: %v", c.Err())
		}
	})
}

// TestUnwatchedStreamCancel checks OpenStream with Unwatched: a context that ends
// while no call of the stream waits sends nothing; the next call that has to
// wait resets the stream with CANCEL and fails; one that ends during a wait
// (here a Write blocked on flow control) does the same at once.
func TestUnwatchedStreamCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		s, err := c.OpenStream(ctx, request("/"), nil, conn.Unwatched)
		if err != nil {
			t.Fatal(err)
		}
		p.WantHeaders("request", 1, false, request("/"))
		cancel()
		p.WantIdle("nothing watches the context between calls")
		var re *conn.ResetError
		if _, err := s.ReadHeaders(); !errors.As(err, &re) || re.Code != frame.ErrCodeCancel || re.Remote {
			t.Errorf("ReadHeaders = %v, want a local *ResetError CANCEL", err)
		}
		p.WantRST("cancelled", 1, frame.ErrCodeCancel)

		ctx, cancel = context.WithCancel(context.Background())
		defer cancel()
		s, err = c.OpenStream(ctx, request("/"), nil, conn.Unwatched)
		if err != nil {
			t.Fatal(err)
		}
		p.WantHeaders("second request", 3, false, request("/"))
		writeErr := make(chan error, 1)
		go func() { writeErr <- s.WriteData(nil, make([]byte, 100<<10), true) }()
		p.WantData("the window's worth", 3, false, make([]byte, 16384))
		synctest.Wait() // the rest of the window reaches the peer
		p.Drain()
		cancel()
		p.WantRST("cancelled during a blocked write", 3, frame.ErrCodeCancel)
		if err := <-writeErr; !errors.As(err, &re) || re.Code != frame.ErrCodeCancel {
			t.Errorf("WriteData = %v, want a local *ResetError CANCEL", err)
		}
	})
}

// A server may answer a stream the client reset long ago: its response
// was on the wire or queued when the RST_STREAM arrived (RFC 9113 §5.1,
// closed: "An endpoint MUST ignore frames that it receives on closed
// streams after it has sent a RST_STREAM frame"). Once more than
// closedMemory later streams closed, the client no longer remembers how
// stream 1 ended; its late HEADERS and DATA are still ignored (the DATA's
// connection credit returned), not taken for a new stream with an old id,
// which would end the connection under a storm of cancelled calls.
func TestClientIgnoresLateFramesOnForgottenStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		if _, err := c.OpenStream(ctx, request("/"), nil, conn.EndStream); err != nil {
			t.Fatal(err)
		}
		p.WantHeaders("request", 1, true, request("/"))
		cancel()
		p.WantRST("cancelled", 1, frame.ErrCodeCancel)
		// 1100 more streams complete: stream 1 is forgotten.
		for id := uint32(3); id < 3+2*1100; id += 2 {
			s, err := c.OpenStream(context.Background(), request("/"), nil, conn.EndStream)
			if err != nil {
				t.Fatal(err)
			}
			p.WantHeaders("request", id, true, request("/"))
			p.WriteHeaders(id, true, append(status200[:1:1], trailerOK...)...)
			if _, err := s.ReadHeaders(); err != nil {
				t.Fatal(err)
			}
		}
		// Stream 1's answer comes at last, with more DATA than the
		// connection window: only credit returned for it lets it all in.
		p.WriteHeaders(1, false, status200...)
		for range 20 {
			p.WriteData(1, false, make([]byte, 16000))
		}
		p.WriteHeaders(1, true, trailerOK...)
		synctest.Wait()
		if err := c.Err(); err != nil {
			t.Fatalf("the connection ended: %v", err)
		}
		if _, err := c.OpenStream(context.Background(), request("/"), nil, conn.EndStream); err != nil {
			t.Fatal(err)
		}
		for {
			fr := p.ReadFrame()
			if h, ok := fr.(*frame.HeadersFrame); ok {
				if h.StreamID != 3+2*1100 {
					t.Fatalf("HEADERS on stream %d, want %d", h.StreamID, 3+2*1100)
				}
				break
			}
			if g, ok := fr.(*frame.GoAwayFrame); ok {
				t.Fatalf("GOAWAY %v", g.Code)
			}
		}
	})
}
