package conn_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/hpack"
)

// loopback returns the two ends of a loopback TCP connection.
func loopback(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- s
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	return client, server
}

// pair connects a client and a server Conn over loopback TCP.
func pair(t testing.TB, clientCfg, serverCfg *conn.Config, h conn.Handler) (client, server *conn.Conn) {
	t.Helper()
	cn, sn := loopback(t)
	server, err := conn.Server(sn, serverCfg, h)
	if err != nil {
		t.Fatal(err)
	}
	client, err = conn.Client(cn, clientCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}

// hashEcho answers with the request body followed by its SHA-256, in
// trailers too.
func hashEcho(s *conn.Stream) {
	if err := s.WriteAll(status200, nil, nil); err != nil {
		return
	}
	h := sha256.New()
	buf := make([]byte, 8<<10)
	for {
		n, err := s.Read(buf)
		h.Write(buf[:n])
		if n > 0 {
			if werr := s.WriteData(nil, buf[:n], false); werr != nil {
				return
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return
		}
	}
	s.WriteAll(nil, nil, []hpack.Field{f("x-sha256", fmt.Sprintf("%x", h.Sum(nil)))})
}

// body returns n deterministic bytes for stream i.
func body(i, n int) []byte {
	b := make([]byte, n)
	for k := 0; k < n; k += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], uint64(i)*0x9e3779b97f4a7c15+uint64(k))
		copy(b[k:], w[:])
	}
	return b
}

func roundTrip(ctx context.Context, c *conn.Conn, i, size int) error {
	want := body(i, size)
	s, err := c.OpenStream(ctx, request(fmt.Sprintf("/s/%d", i)), nil, 0)
	if err != nil {
		return fmt.Errorf("stream %d: OpenStream: %w", i, err)
	}
	werr := make(chan error, 1)
	go func() {
		// Write in uneven pieces to exercise framing.
		p := want
		for len(p) > 0 {
			k := min(len(p), 1+(i*7919+len(p))%20000)
			if err := s.WriteData(nil, p[:k], false); err != nil {
				werr <- err
				return
			}
			p = p[k:]
		}
		werr <- s.WriteData(nil, nil, true)
	}()
	if _, err := s.ReadHeaders(); err != nil {
		return fmt.Errorf("stream %d: ReadHeaders: %w", i, err)
	}
	got, err := io.ReadAll(s)
	if err != nil {
		return fmt.Errorf("stream %d: read: %w", i, err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("stream %d: write: %w", i, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("stream %d: echoed %d bytes, want %d, equal prefix %d", i, len(got), len(want), commonPrefix(got, want))
	}
	sum := sha256.Sum256(want)
	tr := s.Trailers()
	if len(tr) != 1 || tr[0].Value != fmt.Sprintf("%x", sum) {
		return fmt.Errorf("stream %d: trailers %v, want sha256 %x", i, tr, sum)
	}
	return nil
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func TestEndToEndManyStreams(t *testing.T) {
	streams := 10000
	if testing.Short() {
		streams = 1000
	}
	client, server := pair(t, nil, &conn.Config{MaxConcurrentStreams: 100}, hashEcho)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i := range streams {
		wg.Go(func() {
			size := (i * 131) % 3000 // mostly small; every 100th is large
			if i%100 == 0 {
				size = 200<<10 + i
			}
			if err := roundTrip(ctx, client, i, size); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n < 10 {
			t.Error(err)
		}
		n++
	}
	if n > 0 {
		t.Fatalf("%d of %d streams failed", n, streams)
	}
	if err := client.Shutdown(ctx); err != nil {
		t.Fatalf("client Shutdown: %v", err)
	}
	<-server.Done()
}

// TestWriteDataPrefix checks that a prefix and a payload arrive as one
// byte sequence, on the fast path (within the windows and fastWriteLimit)
// and through the writer's round-robin (larger than both the limit and a
// frame), with END_STREAM after the last byte.
func TestWriteDataPrefix(t *testing.T) {
	client, _ := pair(t, nil, nil, hashEcho)
	for i, size := range []int{0, 100, 40000, 300000} {
		prefix := []byte{1, 2, 3, 4, 5}
		payload := body(i, size)
		s, err := client.OpenStream(context.Background(), request("/prefixed"), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Read concurrently: the echo of a large payload needs the reader
		// to return flow-control credit.
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(s)
			got <- b
		}()
		if err := s.WriteData(prefix, payload, true); err != nil {
			t.Fatalf("size %d: WriteData with a prefix: %v", size, err)
		}
		want := append(append([]byte(nil), prefix...), payload...)
		if b := <-got; !bytes.Equal(b, want) {
			t.Fatalf("size %d: echoed %d bytes, want %d, equal prefix %d", size, len(b), len(want), commonPrefix(b, want))
		}
	}
}

// TestLargeWritesReuseBuffer checks writes that the writer sends straight
// from the caller's slice (larger than a frame, over TCP): each WriteData
// returns only once the kernel is done with the slice, so a caller that
// refills its one buffer for the next message corrupts nothing, on many
// streams at once. The frame and byte counters, which walk batches with
// such payloads in them, agree between the two ends.
func TestLargeWritesReuseBuffer(t *testing.T) {
	client, server := pair(t, nil, nil, hashEcho)
	const streams, msgs, size = 6, 8, 100 << 10
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i := range streams {
		wg.Go(func() {
			s, err := client.OpenStream(context.Background(), request("/reuse"), nil, 0)
			if err != nil {
				errs <- err
				return
			}
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(s)
				got <- b
			}()
			var want []byte
			buf := make([]byte, size)
			prefix := []byte{0, 1, 2, 3, 4}
			for m := range msgs {
				copy(buf, body(i*msgs+m, size))
				want = append(append(want, prefix...), buf...)
				if err := s.WriteData(prefix, buf, m == msgs-1); err != nil {
					errs <- err
					return
				}
				// The next message's bytes, as far as the writer knows,
				// from the end, which goes out last.
				for k := len(buf) - 1; k >= 0; k-- {
					buf[k] = 0xff
				}
			}
			if b := <-got; !bytes.Equal(b, want) {
				errs <- fmt.Errorf("stream %d: echoed %d bytes, want %d, equal prefix %d", i, len(b), len(want), commonPrefix(b, want))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Once quiet, what one end counted sending the other counted receiving.
	deadline := time.Now().Add(10 * time.Second)
	for {
		cs, ss := client.Stats(), server.Stats()
		if cs.BytesSent == ss.BytesReceived && cs.FramesSent == ss.FramesReceived &&
			ss.BytesSent == cs.BytesReceived && ss.FramesSent == cs.FramesReceived {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client sent %d bytes in %d frames, server received %d in %d; server sent %d in %d, client received %d in %d",
				cs.BytesSent, cs.FramesSent, ss.BytesReceived, ss.FramesReceived, ss.BytesSent, ss.FramesSent, cs.BytesReceived, cs.FramesReceived)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
