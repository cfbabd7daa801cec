package conn_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

// TestWriterGoesIdle: once everything queued is written nobody holds the
// writer role, so an idle connection runs no writer goroutine (the bubble's
// leak check at the end of synctest.Test would also catch one).
func TestWriterGoesIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		s, err := c.OpenStream(context.Background(), request("/"), []byte("body"), conn.EndStream)
		if err != nil {
			t.Fatal(err)
		}
		p.WantHeaders("request", 1, false, request("/"))
		p.WantData("request body with the headers", 1, true, []byte("body"))
		synctest.Wait()
		if conn.Writing(c) {
			t.Error("the writer role is still held on an idle connection")
		}
		p.WriteHeaders(1, true, status200...)
		if _, err := s.ReadHeaders(); err != nil {
			t.Fatal(err)
		}
		// The reader goroutine's answer (PING ACK) is written by a flusher
		// that ends once the queue is empty.
		p.WriteRaw(frame.AppendPing(nil, false, [8]byte{1}))
		p.WantFrame("ping ack", &frame.PingFrame{Header: frame.Header{Type: frame.TypePing, Flags: frame.FlagAck}, Data: [8]byte{1}})
		synctest.Wait()
		if conn.Writing(c) {
			t.Error("the flusher did not end after the PING ACK")
		}
	})
}

// TestWriteAllChecksFirst: a WriteAll whose trailers are over the peer's
// header list limit sends nothing, not the headers and data before them,
// so the caller can still end the stream in good form.
func TestWriteAllChecksFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errc := make(chan error, 1)
		_, p := startServer(t, nil, func(s *conn.Stream) {
			big := []hpack.Field{f("grpc-status", "0"), f("x-big", string(make([]byte, 200)))}
			if err := s.WriteAll(status200, []byte("data"), big); err == nil {
				errc <- nil
				return
			}
			errc <- s.WriteAll(nil, nil, append(status200[:len(status200):len(status200)], f("grpc-status", "13")))
		}, frame.Setting{ID: frame.SettingMaxHeaderListSize, Val: 100})
		p.WriteHeaders(1, true, request("/")...)
		if err := <-errc; err != nil {
			t.Fatalf("the fallback WriteAll: %v", err)
		}
		p.WantHeaders("only the fallback block", 1, true, append(status200[:len(status200):len(status200)], f("grpc-status", "13")))
	})
}
