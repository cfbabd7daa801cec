package conn_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
)

func TestClientReceivesGoAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		ctx := context.Background()
		s1, _ := c.OpenStream(ctx, request("/1"), nil, conn.EndStream)
		s3, _ := c.OpenStream(ctx, request("/3"), nil, conn.EndStream)
		p.WantHeaders("stream 1", 1, true, request("/1"))
		p.WantHeaders("stream 3", 3, true, request("/3"))
		// RFC 9113 §6.8: streams above the last id were not processed.
		p.WriteRaw(frame.AppendGoAway(nil, 1, frame.ErrCodeNo, []byte("restarting")))
		var ge *conn.GoAwayError
		if _, err := s3.ReadHeaders(); !errors.As(err, &ge) || ge.LastStreamID != 1 || ge.Debug != "restarting" {
			t.Fatalf("stream 3 after GOAWAY(1) = %v, want *GoAwayError", err)
		}
		if !errors.Is(ge, conn.ErrNotAvailable) {
			t.Error("GoAwayError does not match ErrNotAvailable")
		}
		if c.Available() {
			t.Error("Available after GOAWAY")
		}
		if _, err := c.OpenStream(ctx, request("/5"), nil, conn.EndStream); !errors.As(err, &ge) {
			t.Fatalf("OpenStream after GOAWAY = %v, want *GoAwayError", err)
		}
		// Stream 1 goes on to its end; then the connection closes.
		p.WriteHeaders(1, false, status200...)
		p.WriteData(1, true, []byte("done"))
		s1.ReadHeaders()
		if b, err := io.ReadAll(s1); err != nil || string(b) != "done" {
			t.Fatalf("stream 1 body %q, %v", b, err)
		}
		p.WantGoAway("our GOAWAY on the way out", frame.ErrCodeNo)
		p.WantClosed("closed once drained")
		<-c.Done()
		if err := c.Err(); !errors.Is(err, conn.ErrClosed) {
			t.Errorf("Err() = %v, want ErrClosed", err)
		}
	})
}

func TestClientReceivesGoAwayWithError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		p.WriteRaw(frame.AppendGoAway(nil, 0, frame.ErrCodeEnhanceYourCalm, []byte("calm down")))
		<-c.Done()
		var ge *conn.GoAwayError
		if err := c.Err(); !errors.As(err, &ge) || ge.Code != frame.ErrCodeEnhanceYourCalm {
			t.Fatalf("Err() = %v, want the peer's *GoAwayError", err)
		}
		p.Drain()
	})
}

// A GOAWAY with an error code reports a connection error, after which the
// sender "MUST close the TCP connection" (RFC 9113 §5.4.1): nothing more
// will come for the streams it covers. Node's HTTP/2 (grpc-js) sends GOAWAY
// COMPRESSION_ERROR for a header block its HPACK decoder refuses and keeps
// the socket open; a stream at or below the last id must fail then, not
// wait for frames that never come.
func TestClientReceivesGoAwayWithErrorCoveringStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		s, err := c.OpenStream(context.Background(), request("/big"), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		p.WantHeaders("request", 1, false, request("/big"))
		p.WriteRaw(frame.AppendGoAway(nil, 1, frame.ErrCodeCompression, nil))
		// The peer keeps the connection open: the stream fails all the same.
		var ge *conn.GoAwayError
		if _, err := s.ReadHeaders(); !errors.As(err, &ge) || ge.Code != frame.ErrCodeCompression || ge.LastStreamID != 1 {
			t.Fatalf("ReadHeaders after GOAWAY(1, COMPRESSION_ERROR) = %v, want the peer's *GoAwayError", err)
		}
		<-c.Done()
		if err := c.Err(); !errors.As(err, &ge) || ge.Code != frame.ErrCodeCompression {
			t.Errorf("Err() = %v, want the peer's *GoAwayError", err)
		}
		p.Drain()
	})
}

func TestServerShutdownDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c, p := startServer(t, nil, func(s *conn.Stream) {
			<-release
			s.WriteAll(nil, nil, status200)
		})
		p.WriteHeaders(1, true, request("/")...)
		synctest.Wait()
		shut := make(chan error, 1)
		go func() { shut <- c.Shutdown(context.Background()) }()
		g := p.WantGoAway("graceful GOAWAY", frame.ErrCodeNo)
		if g.LastStreamID != 1 {
			t.Errorf("GOAWAY last stream %d, want 1", g.LastStreamID)
		}
		if c.Available() {
			t.Error("Available while draining")
		}
		// A stream the client opened after our GOAWAY is ignored (§6.8).
		p.WriteHeaders(3, true, request("/late")...)
		p.WantIdle("stream 3 ignored")
		close(release)
		p.WantHeaders("stream 1 finishes", 1, true, status200)
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		p.WantClosed("closed after the last stream")
	})
}

func TestShutdownContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		h, started := blockingHandler(release)
		c, p := startServer(t, nil, h)
		p.WriteHeaders(1, true, request("/")...)
		s := <-started
		ctx, cancel := context.WithTimeout(context.Background(), 3e9)
		defer cancel()
		if err := c.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
		}
		if err := s.WriteAll(nil, nil, status200); !errors.Is(err, conn.ErrClosed) {
			t.Errorf("write after the forced close = %v, want ErrClosed", err)
		}
		p.Drain()
	})
}

func TestConnectionErrorFailsStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		s, _ := c.OpenStream(context.Background(), request("/"), nil, 0)
		p.WantHeaders("request", 1, false, request("/"))
		p.WriteRaw(frame.AppendWindowUpdate(nil, 0, frame.MaxWindowSize)) // overflows 65535+…
		wantConnError(t, c, p, frame.ErrCodeFlowControl)
		if _, err := s.ReadHeaders(); !errors.Is(err, conn.ErrClosed) {
			t.Errorf("ReadHeaders after a connection error = %v, want ErrClosed", err)
		}
		var ce *frame.ConnError
		if err := s.WriteData(nil, []byte("x"), false); !errors.As(err, &ce) {
			t.Errorf("Write error %v does not carry the cause", err)
		}
	})
}
