package conn_test

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

// TestWriterGoesIdle: once everything queued is written nobody holds the
// right to write, so an idle connection runs no writer goroutine (the bubble's
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
			t.Error("the right to write is still held on an idle connection")
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

// TestConcurrentWritesBatched: replies that handlers make at the same time
// share writes. An inline writer first yields (runtime.Gosched in
// writer.write), so the handlers a read woke queue their replies into its
// batch; without the yield each reply took its own write (0.96 writes per
// call against 0.13 in BenchmarkUnaryParallel, rpc). 16 goroutines make 50
// unary-shaped exchanges each; the server may take at most half a write per
// exchange.
func TestConcurrentWritesBatched(t *testing.T) {
	cn, sn := loopback(t)
	var cw, cr, sw, sr atomic.Int64
	server, err := conn.Server(countingConn{sn, &sw, &sr}, nil, unaryHandler)
	if err != nil {
		t.Fatal(err)
	}
	client, err := conn.Client(countingConn{cn, &cw, &cr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	defer client.Close()
	const workers, each = 16, 50
	req := request("/bench.Service/Unary")
	exchange := func() error {
		s, err := client.OpenStream(context.Background(), req, make([]byte, 16), conn.EndStream)
		if err != nil {
			return err
		}
		if _, err := s.ReadHeaders(); err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, s)
		return err
	}
	if err := exchange(); err != nil { // the handshake
		t.Fatal(err)
	}
	sw.Store(0)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := exchange(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, limit := sw.Load(), int64(workers*each/2); n > limit {
		t.Errorf("the server made %d writes for %d exchanges, want at most %d", n, workers*each, limit)
	} else {
		t.Logf("%d server writes for %d exchanges", n, workers*each)
	}
}
