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

func TestClientUnary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		s, err := c.OpenStream(context.Background(), request("/unary"), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.WriteData(nil, []byte("ping"), true); err != nil {
			t.Fatal(err)
		}
		p.WantHeaders("request headers", 1, false, request("/unary"))
		p.WantData("request body", 1, true, []byte("ping"))
		p.WriteHeaders(1, false, status200...)
		p.WriteData(1, false, []byte("pong"))
		p.WriteHeaders(1, true, trailerOK...)
		h, err := s.ReadHeaders()
		if err != nil || len(h) != 1 || h[0] != status200[0] {
			t.Fatalf("ReadHeaders = %v, %v", h, err)
		}
		body, err := io.ReadAll(s)
		if err != nil || string(body) != "pong" {
			t.Fatalf("body = %q, %v", body, err)
		}
		if tr := s.Trailers(); len(tr) != 1 || tr[0] != trailerOK[0] {
			t.Fatalf("Trailers = %v", tr)
		}
		if s.TrailersOnly() {
			t.Error("TrailersOnly = true for a response with headers")
		}
		c.Close()
		p.WantGoAway("GOAWAY on Close", frame.ErrCodeNo)
		p.WantClosed("closed")
	})
}

// Context ends with the connection, in both roles, and when asked for
// after the end.
func TestConnContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		ctx := c.Context()
		ran := make(chan struct{})
		context.AfterFunc(ctx, func() { close(ran) })
		if ctx.Err() != nil || c.Context() != ctx {
			t.Fatalf("open connection: Context() = %v, err %v", c.Context(), ctx.Err())
		}
		p.WriteRaw(frame.AppendGoAway(nil, 0, frame.ErrCodeProtocol, []byte("bye")))
		<-ran
		<-c.Done()
		if ctx.Err() == nil {
			t.Error("Context not cancelled with the connection")
		}

		c2, _ := startClient(t, nil)
		c2.Close()
		if c2.Context().Err() == nil {
			t.Error("Context asked for after Close is not cancelled")
		}

		srv, p3 := startServer(t, nil, func(*conn.Stream) {})
		sctx := srv.Context()
		p3.Close()
		<-srv.Done()
		if sctx.Err() == nil {
			t.Error("server Context not cancelled with the connection")
		}
	})
}

// Err tells a stream's fate without a write: nil while the stream runs, and
// the peer's reset after a complete response (while the request was still
// open, RFC 9113 §8.1), which Read does not report: the data stays readable
// to io.EOF.
func TestStreamErr(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		s, err := c.OpenStream(context.Background(), request("/"), []byte("req"), 0)
		if err != nil {
			t.Fatal(err)
		}
		p.WantHeaders("request headers", 1, false, request("/"))
		p.WantData("request body", 1, false, []byte("req"))
		if err := s.Err(); err != nil {
			t.Fatalf("Err of a running stream = %v", err)
		}
		p.WriteHeaders(1, false, status200...)
		p.WriteData(1, true, []byte("resp"))
		p.WriteRaw(frame.AppendRSTStream(nil, 1, frame.ErrCodeNo))
		synctest.Wait()
		if _, err := s.ReadHeaders(); err != nil {
			t.Fatal(err)
		}
		if body, err := io.ReadAll(s); err != nil || string(body) != "resp" {
			t.Fatalf("body = %q, %v; want the complete response", body, err)
		}
		var re *conn.ResetError
		if err := s.Err(); !errors.As(err, &re) || re.Code != frame.ErrCodeNo || !re.Remote {
			t.Fatalf("Err = %v, want the peer's RST_STREAM NO_ERROR", err)
		}
	})
}
