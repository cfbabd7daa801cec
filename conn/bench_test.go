package conn_test

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"

	"github.com/h2rpc/h2rpc/conn"
)

// countingConn counts the Write and Read calls made on a net.Conn: each is
// one syscall on a TCP connection.
type countingConn struct {
	net.Conn
	writes, reads *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) { c.writes.Add(1); return c.Conn.Write(p) }
func (c countingConn) Read(p []byte) (int, error)  { c.reads.Add(1); return c.Conn.Read(p) }

// unaryHandler reads the request to its end and answers with headers, one
// DATA frame and trailers: the shape of a unary RPC.
func unaryHandler(s *conn.Stream) {
	var buf [64]byte
	for {
		_, err := s.Read(buf[:])
		if err == io.EOF {
			break
		}
		if err != nil {
			return
		}
	}
	s.WriteAll(status200, buf[:16], trailerOK)
}

// BenchmarkUnaryExchange measures one unary-shaped exchange at a time
// (HEADERS+DATA with END_STREAM; HEADERS, DATA, trailers back) over
// loopback TCP and reports the syscalls per exchange on each side.
//
// Budget: about one write and one read per side per exchange, no goroutine
// wake-ups beyond the reader and the handler (requests and responses are
// written inline by the goroutine that makes them), a handful of
// allocations.
func BenchmarkUnaryExchange(b *testing.B) {
	cn, sn := loopback(b)
	var cw, cr, sw, sr atomic.Int64
	server, err := conn.Server(countingConn{sn, &sw, &sr}, nil, unaryHandler)
	if err != nil {
		b.Fatal(err)
	}
	client, err := conn.Client(countingConn{cn, &cw, &cr}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer server.Close()
	defer client.Close()
	ctx := context.Background()
	req := request("/bench.Service/Unary")
	payload := make([]byte, 16)
	var buf [64]byte
	exchange := func() {
		s, err := client.OpenStream(ctx, req, payload, conn.EndStream)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.ReadHeaders(); err != nil {
			b.Fatal(err)
		}
		for {
			_, err := s.Read(buf[:])
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	for range 10 {
		exchange() // settle the handshake and the HPACK tables
	}
	cw.Store(0)
	cr.Store(0)
	sw.Store(0)
	sr.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		exchange()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(cw.Load())/n, "client-writes/op")
	b.ReportMetric(float64(cr.Load())/n, "client-reads/op")
	b.ReportMetric(float64(sw.Load())/n, "server-writes/op")
	b.ReportMetric(float64(sr.Load())/n, "server-reads/op")
}

// BenchmarkBulkStream sends b.N × 32 KiB on one stream to a handler that
// discards it, over loopback TCP, and reports the writes per MiB on the
// sending side (the writer batches up to 128 KiB per write).
func BenchmarkBulkStream(b *testing.B) {
	cn, sn := loopback(b)
	var cw, cr, sw, sr atomic.Int64
	done := make(chan int64, 1)
	server, err := conn.Server(countingConn{sn, &sw, &sr}, nil, func(s *conn.Stream) {
		n, _ := io.Copy(io.Discard, s)
		s.WriteAll(nil, nil, status200)
		done <- n
	})
	if err != nil {
		b.Fatal(err)
	}
	client, err := conn.Client(countingConn{cn, &cw, &cr}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer server.Close()
	defer client.Close()
	s, err := client.OpenStream(context.Background(), request("/bulk"), nil, 0)
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 32<<10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := s.WriteData(nil, chunk, false); err != nil {
			b.Fatal(err)
		}
	}
	s.WriteData(nil, nil, true)
	n := <-done
	b.StopTimer()
	if n != int64(b.N)*int64(len(chunk)) {
		b.Fatalf("received %d bytes, want %d", n, b.N*len(chunk))
	}
	mib := float64(n) / (1 << 20)
	b.ReportMetric(float64(cw.Load())/mib, "client-writes/MiB")
	b.ReportMetric(float64(sr.Load())/mib, "server-reads/MiB")
}
