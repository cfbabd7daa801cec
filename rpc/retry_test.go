package rpc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/internal/h2test"
)

// scriptedServers returns a ClientConn whose every dial reaches a new
// scripted server, handed to the test on the returned channel.
func scriptedServers(t *testing.T, opts ...DialOption) (*ClientConn, chan *h2test.Peer) {
	peers := make(chan *h2test.Peer, 4)
	cc, err := Dial("h2test:80", append(opts, WithInsecure(), WithDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		nc, p := h2test.NewClientPipe(t)
		select {
		case peers <- p:
			return nc, nil
		default:
			return nil, net.ErrClosed // more dials than the test expects
		}
	}))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc, peers
}

// nextPeer returns the next scripted server, once the client has dialed it,
// with its SETTINGS sent (readRequest and nextStream acknowledge the
// client's: its first request may come before).
func nextPeer(t *testing.T, peers chan *h2test.Peer) *h2test.Peer {
	t.Helper()
	select {
	case p := <-peers:
		p.WriteSettings()
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("the client dialed no new connection")
		return nil
	}
}

// readRequest reads frames until the request on stream id has ended, and
// returns its HEADERS' END_STREAM-free DATA payload. Frames of other
// streams are skipped (header blocks are decoded, to keep HPACK's state).
func readRequest(t *testing.T, p *h2test.Peer, id uint32, untilEnd bool) []byte {
	t.Helper()
	var data []byte
	gotHeaders := false
	for {
		f := p.ReadFrame()
		h := f.FrameHeader()
		switch f := f.(type) {
		case *frame.SettingsFrame:
			if !f.IsAck() {
				p.WriteSettingsAck()
			}
		case *frame.HeadersFrame:
			if _, err := p.Dec.DecodeFull(f.BlockFragment); err != nil {
				t.Fatalf("decoding a request header block: %v", err)
			}
			if h.StreamID == id {
				gotHeaders = true
			}
		case *frame.DataFrame:
			if h.StreamID == id {
				data = append(data, f.Data...)
			}
		}
		if h.StreamID == id && gotHeaders && (!untilEnd || h.Flags.Has(frame.FlagEndStream)) {
			return data
		}
	}
}

// respond answers stream id with response headers, msgs and OK trailers.
func respond(t *testing.T, p *h2test.Peer, id uint32, msgs ...[]byte) {
	p.WriteHeaders(id, false, hf(":status", "200", "content-type", "application/grpc")...)
	for _, m := range msgs {
		p.WriteData(id, false, mustEncode(t, m, nil))
	}
	p.WriteHeaders(id, true, hf("grpc-status", "0")...)
}

// shape is one of the four call shapes, played by a client that sends
// req and expects the response messages resp.
type shape struct {
	name string
	desc *StreamDesc
	req  [][]byte
	resp [][]byte
}

var shapes = []shape{
	{"unary", unaryDesc, [][]byte{[]byte("q")}, [][]byte{[]byte("r")}},
	// A request large enough to go out behind its prefix (rawMsg), kept
	// apart from it for the retry.
	{"unary-large", unaryDesc, [][]byte{bytes.Repeat([]byte("q"), minRawMsg)}, [][]byte{[]byte("r")}},
	{"server-streaming", serverStreamDesc, [][]byte{[]byte("q")}, [][]byte{[]byte("r1"), []byte("r2")}},
	{"client-streaming", clientStreamDesc, [][]byte{[]byte("q1"), []byte("q2"), []byte("q3")}, [][]byte{[]byte("r")}},
	{"bidi", bidiDesc, [][]byte{[]byte("q1"), []byte("q2")}, [][]byte{[]byte("r1"), []byte("r2")}},
}

// wire is what the server reads of the shape's request.
func (s shape) wire(t *testing.T) []byte {
	var b []byte
	for _, m := range s.req {
		b = append(b, mustEncode(t, m, nil)...)
	}
	return b
}

// call makes the call and checks its responses.
func (s shape) call(ctx context.Context, cc *ClientConn) error {
	if s.desc == unaryDesc {
		var reply []byte
		if err := cc.Invoke(ctx, "/test.Echo/Unary", s.req[0], &reply); err != nil {
			return err
		}
		if !bytes.Equal(reply, s.resp[0]) {
			return fmt.Errorf("reply %q, want %q", reply, s.resp[0])
		}
		return nil
	}
	cs, err := cc.NewStream(ctx, s.desc, "/test.Echo/"+s.desc.StreamName)
	if err != nil {
		return err
	}
	for _, m := range s.req {
		if err := cs.SendMsg(m); err != nil {
			return fmt.Errorf("SendMsg: %w", err)
		}
	}
	if s.desc.ClientStreams {
		cs.CloseSend()
	}
	for _, want := range s.resp {
		var m []byte
		if err := cs.RecvMsg(&m); err != nil {
			return err
		}
		if !bytes.Equal(m, want) {
			return fmt.Errorf("response %q, want %q", m, want)
		}
	}
	if s.desc.ServerStreams {
		if err := cs.RecvMsg(new([]byte)); err != io.EOF {
			return fmt.Errorf("end of the responses: %v, want io.EOF", err)
		}
	}
	return nil
}

// A stream the server never processed, refused with REFUSED_STREAM or
// above its GOAWAY's last stream id, is retried once, transparently,
// whatever the call's shape; what the call sent on the first stream is
// sent again on the second. The server refuses either as soon as the
// request headers come (the client may still be sending: its SendMsg meets
// the refusal) or once the whole request came (RecvMsg meets it).
func TestTransparentRetry(t *testing.T) {
	for _, s := range shapes {
		for _, how := range []string{"refused", "goaway"} {
			for _, late := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/late=%v", s.name, how, late), func(t *testing.T) {
					cc, peers := scriptedServers(t)
					errc := make(chan error, 1)
					go func() { errc <- s.call(context.Background(), cc) }()
					p := nextPeer(t, peers)
					if late {
						if got := readRequest(t, p, 1, true); !bytes.Equal(got, s.wire(t)) {
							t.Fatalf("first request %q, want %q", got, s.wire(t))
						}
					} else {
						readRequest(t, p, 1, false)
					}
					id := uint32(3)
					if how == "refused" {
						p.WriteRaw(frame.AppendRSTStream(nil, 1, frame.ErrCodeRefusedStream))
					} else {
						p.WriteRaw(frame.AppendGoAway(nil, 0, frame.ErrCodeNo, nil))
						p = nextPeer(t, peers) // a new connection
						id = 1
					}
					if got := readRequest(t, p, id, true); !bytes.Equal(got, s.wire(t)) {
						t.Fatalf("retried request %q, want %q", got, s.wire(t))
					}
					respond(t, p, id, s.resp...)
					if err := <-errc; err != nil {
						t.Fatalf("the retried call failed: %v", err)
					}
				})
			}
		}
	}
}

// A call is retried once only: refused twice, it fails with UNAVAILABLE.
func TestTransparentRetryOnce(t *testing.T) {
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			cc, peers := scriptedServers(t)
			errc := make(chan error, 1)
			go func() { errc <- s.call(context.Background(), cc) }()
			p := nextPeer(t, peers)
			for _, id := range []uint32{1, 3} {
				readRequest(t, p, id, true)
				p.WriteRaw(frame.AppendRSTStream(nil, id, frame.ErrCodeRefusedStream))
			}
			wantCode(t, <-errc, Unavailable)
			p.WantIdle("no third attempt")
		})
	}
}

// nextStream reads frames up to the next request header block and returns
// its stream id and :path.
func nextStream(t *testing.T, p *h2test.Peer) (uint32, string) {
	t.Helper()
	for {
		var f *frame.HeadersFrame
		switch g := p.ReadFrame().(type) {
		case *frame.SettingsFrame:
			if !g.IsAck() {
				p.WriteSettingsAck()
			}
			continue
		case *frame.HeadersFrame:
			f = g
		default:
			continue
		}
		fields, err := p.Dec.DecodeFull(f.BlockFragment)
		if err != nil {
			t.Fatalf("decoding a request header block: %v", err)
		}
		for _, hf := range fields {
			if hf.Name == ":path" {
				return f.StreamID, hf.Value
			}
		}
		t.Fatalf("request headers without :path: %v", fields)
	}
}

// wantNoRetry checks that the failed call made no second attempt: the next
// stream the client opens is a new call's.
func wantNoRetry(t *testing.T, cc *ClientConn, p *h2test.Peer) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		var reply []byte
		errc <- cc.Invoke(context.Background(), "/test.Echo/After", []byte("after"), &reply)
	}()
	if id, path := nextStream(t, p); id != 3 || path != "/test.Echo/After" {
		t.Fatalf("next stream %d is %s, want the next call's, 3", id, path)
	}
	p.WriteHeaders(3, true, hf(":status", "200", "content-type", "application/grpc", "grpc-status", "12")...)
	wantCode(t, <-errc, Unimplemented)
}

// A call that received response headers is not retried: the server saw
// it, whatever it says next.
func TestNoRetryAfterResponseHeaders(t *testing.T) {
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			cc, peers := scriptedServers(t)
			errc := make(chan error, 1)
			go func() { errc <- s.call(context.Background(), cc) }()
			p := nextPeer(t, peers)
			readRequest(t, p, 1, true)
			p.WriteHeaders(1, false, hf(":status", "200", "content-type", "application/grpc")...)
			p.WriteRaw(frame.AppendRSTStream(nil, 1, frame.ErrCodeRefusedStream))
			wantCode(t, <-errc, Unavailable)
			wantNoRetry(t, cc, p)
		})
	}
	// Nor is a streaming call whose sender meets the refusal after the
	// headers came.
	t.Run("sender", func(t *testing.T) {
		cc, peers := scriptedServers(t)
		cs, err := cc.NewStream(context.Background(), bidiDesc, "/test.Echo/Bidi")
		if err != nil {
			t.Fatal(err)
		}
		p := nextPeer(t, peers)
		readRequest(t, p, 1, false)
		p.WriteHeaders(1, false, hf(":status", "200", "content-type", "application/grpc")...)
		if _, err := cs.Header(); err != nil {
			t.Fatal(err)
		}
		p.WriteRaw(frame.AppendRSTStream(nil, 1, frame.ErrCodeRefusedStream))
		// SendMsg fails (io.EOF) once the reset is in; RecvMsg has the
		// status.
		for cs.SendMsg([]byte("m")) == nil {
			time.Sleep(time.Millisecond)
		}
		wantCode(t, cs.RecvMsg(new([]byte)), Unavailable)
		wantNoRetry(t, cc, p)
	})
}

// 1000 server-streaming calls at once on a fresh connection to a server
// that allows 10 streams at a time all succeed: conn waits for the
// server's SETTINGS before opening more than one stream, and a stream
// refused for exceeding the limit anyway would be retried.
func TestManyCallsOverStreamLimit(t *testing.T) {
	e := newEnv(t, &echoServer{stream: func(ss ServerStream) error {
		var m []byte
		if err := ss.RecvMsg(&m); err != nil {
			return err
		}
		for range 3 {
			if err := ss.SendMsg(m); err != nil {
				return err
			}
		}
		return nil
	}}, []ServerOption{ServerConnConfig(&conn.Config{MaxConcurrentStreams: 10})})
	const calls = 1000
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := map[string]int{}
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cs, err := e.cc.NewStream(ctx, serverStreamDesc, "/test.Echo/ServerStream")
				if err != nil {
					return err
				}
				want := []byte(fmt.Sprint(i))
				if err := cs.SendMsg(want); err != nil {
					return err
				}
				for range 3 {
					var m []byte
					if err := cs.RecvMsg(&m); err != nil {
						return err
					}
					if !bytes.Equal(m, want) {
						return fmt.Errorf("got %q, want %q", m, want)
					}
				}
				if err := cs.RecvMsg(new([]byte)); err != io.EOF {
					return fmt.Errorf("end: %v", err)
				}
				return nil
			}()
			if err != nil {
				mu.Lock()
				failures[err.Error()]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("failures: %v", failures)
	}
}

// A stream the server's GOAWAY covered was processed: when the connection
// then ends before its response, the call fails and is not retried, though
// the connection's error wraps the GOAWAY.
func TestNoRetryOfStreamGoAwayCovered(t *testing.T) {
	cc, peers := scriptedServers(t)
	errc := make(chan error, 1)
	go func() { errc <- shapes[0].call(context.Background(), cc) }()
	p := nextPeer(t, peers)
	readRequest(t, p, 1, true)
	p.WriteRaw(frame.AppendGoAway(nil, 1, frame.ErrCodeNo, nil))
	p.Close()
	wantCode(t, <-errc, Unavailable)
	select {
	case <-peers:
		t.Fatal("the call was retried on a new connection")
	default:
	}
}
