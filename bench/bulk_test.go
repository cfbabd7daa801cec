//go:build unix

// x/net/http2's Transport and Server are deprecated in favour of net/http's
// own HTTP/2, but they are still the reference implementation we measure.
//
//lint:file-ignore SA1019 x/net/http2's Transport and Server are the baseline by design
package main

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"

	"golang.org/x/net/http2"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

const (
	// bulkSize is what one iteration of BenchmarkBulk carries on one stream.
	bulkSize = 256 << 20
	// bulkChunk is the size of each write by the sender and each read by
	// the receiver, the same for every implementation.
	bulkChunk = 64 << 10
)

// BenchmarkBulk measures one stream carrying 256 MiB per iteration from
// client to server over loopback TCP, then a short response: h2rpc's conn,
// x/net/http2 (h2c), and raw, the same bytes over a plain TCP connection
// (the ceiling). Each side writes and reads 64 KiB at a time, and both
// HTTP/2 implementations use their default windows. Besides MB/s it reports
// MB/cpu-s, bytes per second of CPU time (user+system, both sides), steadier
// than MB/s on a loaded machine. Target: h2rpc at least 80% of
// raw's bytes per second.
func BenchmarkBulk(b *testing.B) {
	for _, impl := range bulkImpls {
		b.Run(impl.name, func(b *testing.B) {
			send := impl.start(b)
			chunk := bulkPattern()
			b.SetBytes(bulkSize)
			b.ReportAllocs()
			b.ResetTimer()
			startCPU := processCPU()
			for range b.N {
				if err := send(chunk, bulkSize); err != nil {
					b.Fatal(err)
				}
			}
			cpu := processCPU() - startCPU
			b.StopTimer()
			b.ReportMetric(float64(bulkSize)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
		})
	}
}

var bulkImpls = []struct {
	name  string
	start func(tb testing.TB) bulkFunc
}{
	{"h2rpc", startConnBulk},
	{"xnet", startXNetBulk},
	{"raw", startRawBulk},
}

// TestBulk checks every implementation of BenchmarkBulk on a smaller
// transfer (still many times every window), since benchmarks do not run in
// `make test`.
func TestBulk(t *testing.T) {
	for _, impl := range bulkImpls {
		t.Run(impl.name, func(t *testing.T) {
			send := impl.start(t)
			for range 2 {
				if err := send(bulkPattern(), 4<<20); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func bulkPattern() []byte {
	chunk := make([]byte, bulkChunk)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	return chunk
}

// A bulkFunc sends size bytes (a multiple of len(chunk)), chunk by chunk,
// and waits for the receiver to confirm it read them all.
type bulkFunc func(chunk []byte, size int) error

// bulkConfirm checks the receiver's count of bytes.
func bulkConfirm(got string, size int) error {
	if got != strconv.Itoa(size) {
		return fmt.Errorf("receiver read %s bytes, want %d", got, size)
	}
	return nil
}

// drain reads r to io.EOF in bulkChunk reads and returns the count.
func drain(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func startConnBulk(tb testing.TB) bulkFunc {
	cnc, snc := loopbackPair(tb)
	srv, err := conn.Server(snc, nil, func(st *conn.Stream) {
		buf := make([]byte, bulkChunk)
		n, err := drain(st, buf)
		if err != nil {
			st.Reset(frame.ErrCodeInternal)
			return
		}
		_ = st.WriteAll(nil, nil, []hpack.Field{
			{Name: ":status", Value: "200"},
			{Name: "x-bytes", Value: strconv.FormatInt(n, 10)},
		})

	})
	if err != nil {
		tb.Fatal(err)
	}
	cl, err := conn.Client(cnc, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cl.Close()
		srv.Close()
		<-cl.Done()
		<-srv.Done()
	})
	fields := []hpack.Field{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/bulk"},
		{Name: ":authority", Value: "bench"},
	}
	return func(chunk []byte, size int) error {
		st, err := cl.OpenStream(context.Background(), fields, nil, 0)
		if err != nil {
			return err
		}
		for sent := 0; sent < size; sent += len(chunk) {
			if err := st.WriteData(nil, chunk, false); err != nil {
				return err
			}
		}
		if err := st.WriteData(nil, nil, true); err != nil {
			return err
		}
		hdr, err := st.ReadHeaders()
		if err != nil {
			return err
		}
		for _, f := range hdr {
			if f.Name == "x-bytes" {
				return bulkConfirm(f.Value, size)
			}
		}
		return fmt.Errorf("response %v lacks x-bytes", hdr)
	}
}

// chunkReader yields chunk over and over, n bytes in all, without copying
// more than a caller asks for.
type chunkReader struct {
	chunk []byte
	left  int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.left)], r.chunk)
	r.left -= n
	return n, nil
}

func startXNetBulk(tb testing.TB) bulkFunc {
	cnc, snc := loopbackPair(tb)
	srv := &http2.Server{}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.ServeConn(snc, &http2.ServeConnOpts{BaseConfig: &http.Server{}, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, bulkChunk)
			n, err := drain(r.Body, buf)
			if err != nil {
				panic(http.ErrAbortHandler)
			}
			w.Header().Set("X-Bytes", strconv.FormatInt(n, 10))
			w.WriteHeader(200)
		})})
	}()
	tr := &http2.Transport{
		AllowHTTP: true,
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
	return func(chunk []byte, size int) error {
		req, err := http.NewRequest("POST", "http://bench/bulk", &chunkReader{chunk: chunk, left: size})
		if err != nil {
			return err
		}
		req.ContentLength = int64(size)
		resp, err := cc.RoundTrip(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return bulkConfirm(resp.Header.Get("X-Bytes"), size)
	}
}

// startRawBulk sends each run of bulkSize bytes behind an 8-byte length on
// a plain TCP connection; the receiver answers with its count, 8 bytes.
func startRawBulk(tb testing.TB) bulkFunc {
	cnc, snc := loopbackPair(tb)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer snc.Close()
		buf := make([]byte, bulkChunk)
		var hdr [8]byte
		for {
			if _, err := io.ReadFull(snc, hdr[:]); err != nil {
				return
			}
			n, err := drain(io.LimitReader(snc, int64(binary.BigEndian.Uint64(hdr[:]))), buf)
			if err != nil {
				return
			}
			binary.BigEndian.PutUint64(hdr[:], uint64(n))
			if _, err := snc.Write(hdr[:]); err != nil {
				return
			}
		}
	}()
	tb.Cleanup(func() {
		cnc.Close()
		<-done
	})
	return func(chunk []byte, size int) error {
		var hdr [8]byte
		binary.BigEndian.PutUint64(hdr[:], uint64(size))
		if _, err := cnc.Write(hdr[:]); err != nil {
			return err
		}
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := cnc.Write(chunk); err != nil {
				return err
			}
		}
		if _, err := io.ReadFull(cnc, hdr[:]); err != nil {
			return err
		}
		return bulkConfirm(strconv.FormatUint(binary.BigEndian.Uint64(hdr[:]), 10), size)
	}
}
