//go:build unix

// x/net/http2's Transport and Server are deprecated in favour of net/http's
// own HTTP/2, but they are still the reference implementation we measure.
//
//lint:file-ignore SA1019 x/net/http2's Transport and Server are the baseline by design
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

// The shape of a unary gRPC call: the request is HEADERS + a 16-byte DATA
// with END_STREAM; the response is HEADERS + a 16-byte DATA + trailing
// HEADERS with END_STREAM.
var (
	exchangeRequest  = []byte("request-16-bytes")
	exchangeResponse = []byte("response16-bytes")

	exchangeRequestFields = []hpack.Field{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/bench.Exchange/Unary"},
		{Name: ":authority", Value: "bench"},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
	}
	exchangeResponseFields = []hpack.Field{
		{Name: ":status", Value: "200"},
		{Name: "content-type", Value: "application/grpc"},
	}
	exchangeTrailerFields = []hpack.Field{
		{Name: "grpc-status", Value: "0"},
	}
)

// exchangeStreams are the numbers of concurrent streams measured.
var exchangeStreams = []int{1, 16, 256}

// exchangeMaxStreams is both servers' SETTINGS_MAX_CONCURRENT_STREAMS: above
// the largest concurrency, so every stream shares the one connection.
const exchangeMaxStreams = 1000

// BenchmarkExchange measures request/response exchanges shaped like unary
// gRPC calls on one client connection over loopback TCP, with N concurrent
// streams (cN), for h2rpc's conn (client and server) and for x/net/http2's
// Transport and Server (h2c). Both ends run in this process, so -benchmem
// counts the allocations of both sides per exchange. It reports
// exchanges/s and the CPU time (user+system, both sides) per exchange,
// which load from other processes on the machine disturbs far less.
//
// The budget for h2rpc at c1, per side and exchange: one write syscall (the
// frames of a message batched into one buffer), one read syscall, no
// goroutine wake-up beyond the reader handing a frame to the waiting stream
// and the server's handler goroutine, and a handful of allocations (the
// stream, its header slices). At c16 and c256 the writers batch frames of
// many streams per syscall. Targets: ≥ 2× x/net's exchanges/s at
// every N and ≤ 1/4 of its allocations per exchange.
func BenchmarkExchange(b *testing.B) {
	for _, impl := range exchangeImpls {
		b.Run(impl.name, func(b *testing.B) {
			for _, n := range exchangeStreams {
				b.Run(fmt.Sprintf("c%d", n), func(b *testing.B) {
					runExchanges(b, impl.start(b), n)
				})
			}
		})
	}
}

var exchangeImpls = []struct {
	name  string
	start func(tb testing.TB) exchangeFunc
}{
	{"h2rpc", startConnExchange},
	{"xnet", startXNetExchange},
}

// An exchangeFunc performs one exchange; buf is the caller's scratch space
// of at least 64 bytes.
type exchangeFunc func(ctx context.Context, buf []byte) error

// runExchanges runs b.N exchanges on n goroutines at once.
func runExchanges(b *testing.B, exchange exchangeFunc, n int) {
	// Warm up: the connection, the server's goroutines, pools and windows.
	if err := exchangeConcurrently(exchange, 10, 1); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, startCPU := time.Now(), processCPU()
	err := exchangeConcurrently(exchange, b.N, n)
	elapsed, cpu := time.Since(start), processCPU()-startCPU
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "exchanges/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/exchange")
}

// processCPU returns the CPU time (user and system) this process has used.
// On a shared machine it is a steadier measure of cost than elapsed time:
// other processes' load stretches the wall clock, not our CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// exchangeConcurrently performs total exchanges on workers goroutines and
// returns the first error.
func exchangeConcurrently(exchange exchangeFunc, total, workers int) error {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		firstErr atomic.Pointer[error]
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64)
			for next.Add(1) <= int64(total) && firstErr.Load() == nil {
				if err := exchange(context.Background(), buf); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := firstErr.Load(); err != nil {
		return *err
	}
	return nil
}

// TestExchange checks that every implementation's exchange works and
// answers as it should, since benchmarks do not run in `make test`.
func TestExchange(t *testing.T) {
	for _, impl := range exchangeImpls {
		t.Run(impl.name, func(t *testing.T) {
			if err := exchangeConcurrently(impl.start(t), 500, 16); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// loopbackPair returns both ends of a loopback TCP connection.
func loopbackPair(tb testing.TB) (client, server net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- nc
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	server, ok := <-accepted
	if !ok {
		tb.Fatal("accept failed")
	}
	return client, server
}

// startConnExchange starts a conn.Server and a conn.Client on one loopback
// connection; cleanup closes both.
func startConnExchange(tb testing.TB) exchangeFunc {
	return startConnExchangeWith(tb, &conn.Config{MaxConcurrentStreams: exchangeMaxStreams})
}

// startConnExchangeWith is startConnExchange with cfg for both ends.
func startConnExchangeWith(tb testing.TB, cfg *conn.Config) exchangeFunc {
	cnc, snc := loopbackPair(tb)
	srv, err := conn.Server(snc, cfg, serveConnExchange)
	if err != nil {
		tb.Fatal(err)
	}
	cl, err := conn.Client(cnc, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cl.Close()
		srv.Close()
		<-cl.Done()
		<-srv.Done()
	})
	return func(ctx context.Context, buf []byte) error {
		// The request's HEADERS and DATA in one batch, as the RPC layer
		// sends a unary request.
		st, err := cl.OpenStream(ctx, exchangeRequestFields, exchangeRequest, conn.EndStream)
		if err != nil {
			return err
		}
		if _, err := st.ReadHeaders(); err != nil {
			return err
		}
		n, err := readAll(st, buf)
		if err != nil {
			return err
		}
		if !bytes.Equal(buf[:n], exchangeResponse) {
			return fmt.Errorf("response %q, want %q", buf[:n], exchangeResponse)
		}
		if len(st.Trailers()) != 1 {
			return fmt.Errorf("trailers %v, want grpc-status", st.Trailers())
		}
		return nil
	}
}

// serveConnExchange is the h2rpc server's side of one exchange.
func serveConnExchange(st *conn.Stream) {
	var buf [64]byte
	n, err := readAll(st, buf[:])
	if err != nil || !bytes.Equal(buf[:n], exchangeRequest) {
		st.Reset(frame.ErrCodeInternal) // the client reports it
		return
	}
	// Headers, DATA and trailers in one batch, as the RPC layer answers a
	// unary call.
	_ = st.WriteAll(exchangeResponseFields, exchangeResponse, exchangeTrailerFields)
}

// readAll reads r to io.EOF into buf, failing if buf is too small.
func readAll(r io.Reader, buf []byte) (int, error) {
	n := 0
	for {
		if n == len(buf) {
			return n, fmt.Errorf("message longer than %d bytes", len(buf))
		}
		k, err := r.Read(buf[n:])
		n += k
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// startXNetExchange starts x/net/http2's Server and one x/net ClientConn
// (h2c) on a loopback connection; cleanup closes both.
func startXNetExchange(tb testing.TB) exchangeFunc {
	cnc, snc := loopbackPair(tb)
	srv := &http2.Server{MaxConcurrentStreams: exchangeMaxStreams}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.ServeConn(snc, &http2.ServeConnOpts{Handler: http.HandlerFunc(serveXNetExchange), BaseConfig: &http.Server{}})
	}()
	tr := &http2.Transport{
		AllowHTTP:                  true,
		StrictMaxConcurrentStreams: true,
		DialTLSContext: func(context.Context, string, string, *tls.Config) (net.Conn, error) {
			return nil, fmt.Errorf("the benchmark uses one connection only")
		},
	}
	cc, err := tr.NewClientConn(cnc)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cc.Close()
		snc.Close()
		<-served
	})
	return func(ctx context.Context, buf []byte) error {
		req, err := http.NewRequestWithContext(ctx, "POST", "http://bench/bench.Exchange/Unary", bytes.NewReader(exchangeRequest))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Te", "trailers")
		resp, err := cc.RoundTrip(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		n, err := readAll(resp.Body, buf)
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || !bytes.Equal(buf[:n], exchangeResponse) {
			return fmt.Errorf("response %d %q, want 200 %q", resp.StatusCode, buf[:n], exchangeResponse)
		}
		if resp.Trailer.Get("Grpc-Status") != "0" {
			return fmt.Errorf("trailers %v, want grpc-status", resp.Trailer)
		}
		return nil
	}
}

// serveXNetExchange is x/net's server side of one exchange.
func serveXNetExchange(w http.ResponseWriter, r *http.Request) {
	var buf [64]byte
	n, err := readAll(r.Body, buf[:])
	if err != nil || !bytes.Equal(buf[:n], exchangeRequest) {
		panic(http.ErrAbortHandler) // RST_STREAM: the client reports it
	}
	w.Header().Set("Content-Type", "application/grpc")
	w.WriteHeader(200)
	w.Write(exchangeResponse)
	w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
}
