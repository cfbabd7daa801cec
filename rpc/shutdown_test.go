package rpc

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

// smallBuffers shrinks the send buffer of every connection it accepts, so
// that a peer that does not read blocks the server's writes soon.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetWriteBuffer(8 << 10)
	}
	return nc, err
}

// stuckPeer opens a connection that starts a server-streaming call with
// all the flow-control credit HTTP/2 allows, and then never reads.
func stuckPeer(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.(*net.TCPConn).SetReadBuffer(8 << 10)
	// Acknowledge the server's SETTINGS, as a live client would, so the
	// server does not end the connection for that.
	fr := frame.NewReader(nc)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading the server's SETTINGS: %v", err)
		}
		if s, ok := f.(*frame.SettingsFrame); ok && !s.IsAck() {
			break
		}
	}
	b := []byte(frame.ClientPreface)
	b = frame.AppendSettings(b, frame.Setting{ID: frame.SettingInitialWindowSize, Val: 1<<31 - 1})
	b = frame.AppendSettingsAck(b)
	b = frame.AppendWindowUpdate(b, 0, 1<<31-1-65535)
	block := hpack.NewEncoder().AppendBlock(nil, hf(":method", "POST", ":scheme", "http", ":path", "/test.Echo/ServerStream",
		":authority", "x", "content-type", "application/grpc", "te", "trailers")...)
	b = frame.AppendHeaders(b, 1, false, true, block)
	b = frame.AppendData(b, 1, true, mustEncode(t, []byte("go"), nil))
	if _, err := nc.Write(b); err != nil {
		t.Fatal(err)
	}
	return nc
}

// Stop ends every connection at once: with ten peers that stopped reading
// while the server writes to them, a graceful stop with a one-second grace
// followed by Stop takes about the grace plus one close timeout (1 s), not
// the grace plus one close timeout per peer (10 s). The limit sits halfway
// between, at half the peers' close timeouts: slack for a loaded machine
// that still fails if the closes add up.
func TestStopWithStuckPeersIsBounded(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const peers = 10
	var entered sync.WaitGroup
	entered.Add(peers)
	big := bytes.Repeat([]byte("x"), 1<<20)
	srv, served := startServer(t, smallBuffers{lis}, &echoServer{stream: func(ss ServerStream) error {
		var m []byte
		if err := ss.RecvMsg(&m); err != nil {
			return err
		}
		entered.Done()
		for {
			if err := ss.SendMsg(big); err != nil {
				return err
			}
		}
	}})
	for range peers {
		nc := stuckPeer(t, lis.Addr().String())
		defer nc.Close()
	}
	entered.Wait()
	time.Sleep(200 * time.Millisecond) // let the writes fill the socket buffers

	const grace = time.Second
	start := time.Now()
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("GracefulStop returned while the calls were still running")
	case <-time.After(grace):
	}
	srv.Stop()
	<-stopped
	took := time.Since(start)
	t.Logf("graceful stop (grace %v) then Stop with %d peers not reading: %v", grace, peers, took)
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if limit := grace + peers/2*conn.DefaultCloseTimeout; took > limit {
		t.Fatalf("stopping took %v, more than %v: the connections' close timeouts add up", took, limit)
	}
}
