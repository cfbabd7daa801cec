package conn_test

import (
	"io"
	"testing"
	"testing/synctest"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

// echo answers every request with 200, the request body and trailers.
func echo(s *conn.Stream) {
	if err := s.WriteAll(status200, nil, nil); err != nil {
		return
	}
	if _, err := io.Copy(dataWriter{s}, s); err != nil {
		return
	}
	s.WriteAll(nil, nil, trailerOK)
}

func TestServerEcho(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startServer(t, nil, echo)
		p.WriteHeaders(1, false, request("/echo")...)
		p.WriteData(1, true, []byte("hello"))
		p.WantHeaders("response headers", 1, false, status200)
		p.WantData("echoed body", 1, false, []byte("hello"))
		p.WantHeaders("trailers", 1, true, trailerOK)
		synctest.Wait()
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		p.WantGoAway("GOAWAY on Close", frame.ErrCodeNo)
		p.WantClosed("closed after GOAWAY")
	})
}

func TestServerRequestHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := make(chan []hpack.Field, 1)
		_, p := startServer(t, nil, func(s *conn.Stream) {
			got <- s.RequestHeaders()
			s.WriteAll(nil, nil, status200)
		})
		req := append(request("/x"), f("x-meta", "v"))
		p.WriteHeaders(1, true, req...)
		p.WantHeaders("headers-only response", 1, true, status200)
		h := <-got
		if len(h) != len(req) || h[4] != req[4] {
			t.Errorf("RequestHeaders = %v, want %v", h, req)
		}
	})
}
