package h2tls_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/hpack"
	"github.com/h2rpc/h2rpc/internal/leakcheck"
)

// TestMain fails the run if any goroutine of this module outlives the
// tests.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// loopback returns both ends of a loopback TCP connection.
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
			s = nil
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

func request(path string) []hpack.Field {
	return []hpack.Field{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "https"}, {Name: ":authority", Value: "test"}, {Name: ":path", Value: path}}
}

// hashEcho answers a stream with its request body.
func hashEcho(s *conn.Stream) {
	if err := s.WriteAll([]hpack.Field{{Name: ":status", Value: "200"}}, nil, nil); err != nil {
		return
	}
	b, err := io.ReadAll(s)
	if err != nil {
		return
	}
	s.WriteAll(nil, b, []hpack.Field{{Name: "grpc-status", Value: "0"}})
}

// body returns n deterministic bytes for stream i.
func body(i, n int) []byte {
	b := make([]byte, n)
	for k := range b {
		b[k] = byte(i*31 + k*7 + k>>8)
	}
	return b
}

// roundTrip sends size bytes on a new stream of c and checks that they
// come back.
func roundTrip(ctx context.Context, c *conn.Conn, i, size int) error {
	want := body(i, size)
	s, err := c.OpenStream(ctx, request(fmt.Sprintf("/s/%d", i)), nil, 0)
	if err != nil {
		return fmt.Errorf("stream %d: OpenStream: %w", i, err)
	}
	werr := make(chan error, 1)
	go func() { werr <- s.WriteData(nil, want, true) }()
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
	if string(got) != string(want) {
		return fmt.Errorf("stream %d: %d bytes back, not the %d sent", i, len(got), len(want))
	}
	return nil
}
