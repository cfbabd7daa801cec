package conn_test

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/h2rpc/h2rpc/conn"
)

// TestStats runs a call between two connections and checks that each
// side's counters agree with the other's.
func TestStats(t *testing.T) {
	cn, sn := net.Pipe()
	started := make(chan *conn.Stream, 1)
	release := make(chan struct{})
	srv, err := conn.Server(sn, nil, func(s *conn.Stream) {
		started <- s
		io.ReadAll(s)
		<-release
		s.WriteAll(status200, []byte("hello back"), trailerOK)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := conn.Client(cn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	// The server's SETTINGS come before its PING ACK: the stream opens
	// under its windows.
	if err := cli.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := cli.OpenStream(ctx, request("/x"), make([]byte, 100), conn.EndStream)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if n := srv.Stats().StreamsOpen; n != 1 {
		t.Errorf("server StreamsOpen %d while the call runs, want 1", n)
	}
	if got := st.Stats().SendWindow; got != conn.DefaultInitialWindowSize-100 {
		t.Errorf("client stream SendWindow %d, want %d", got, conn.DefaultInitialWindowSize-100)
	}
	close(release)
	if _, err := io.ReadAll(st); err != nil {
		t.Fatal(err)
	}
	if err := cli.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	c, s := cli.Stats(), srv.Stats()
	// The PING's ACK means the server read everything the client sent up
	// to it, and the client sends nothing more unasked.
	if c.FramesSent != s.FramesReceived || c.BytesSent != s.BytesReceived {
		t.Errorf("client sent %d frames, %d octets; server received %d, %d", c.FramesSent, c.BytesSent, s.FramesReceived, s.BytesReceived)
	}
	if c.FramesSent < 5 || c.FramesReceived < 5 || c.RTT <= 0 {
		t.Errorf("client stats %+v", c)
	}
	// The connection windows start at BDPStartWindow; 110 bytes measure
	// no bandwidth-delay product.
	if c.SendWindow != conn.BDPStartWindow-100 || s.SendWindow != conn.BDPStartWindow-10 {
		t.Errorf("send windows: client %d, server %d", c.SendWindow, s.SendWindow)
	}
	if s.StreamsOpen != 0 || c.GoAwaysSent != 0 {
		t.Errorf("after the call: %+v", s)
	}
	cli.Close()
	<-cli.Done()
	if g := cli.Stats().GoAwaysSent; g != 1 {
		t.Errorf("GoAwaysSent after Close %d, want 1", g)
	}
	<-srv.Done()
	if g := srv.Stats().GoAwaysReceived; g != 1 {
		t.Errorf("server GoAwaysReceived %d, want 1", g)
	}
}
