package conn_test

import (
	"context"
	"io"
	"testing"
	"testing/synctest"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
)

func TestClientUnary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		s, err := c.NewStream(context.Background(), request("/unary"), false)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.WriteData([]byte("ping"), true); err != nil {
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
