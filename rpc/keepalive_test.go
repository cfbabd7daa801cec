package rpc

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
)

// blackholeProxy forwards TCP connections to addr until drop is called;
// from then on it reads and discards everything both ways, keeping the
// sockets open: a peer gone behind a NAT that never says so.
type blackholeProxy struct {
	lis     net.Listener
	dropped atomic.Bool
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
}

func newBlackholeProxy(t *testing.T, addr string) *blackholeProxy {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &blackholeProxy{lis: lis}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			in, err := lis.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			p.wg.Add(2)
			go p.pipe(out, in)
			go p.pipe(in, out)
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *blackholeProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.dropped.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *blackholeProxy) addr() string { return p.lis.Addr().String() }

// firstConn returns the connection of cc's first backend (nil if none).
func firstConn(cc *ClientConn) *conn.Conn {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if len(cc.backends) == 0 || len(cc.backends[0].conns) == 0 {
		return nil
	}
	return cc.backends[0].conns[0]
}

// A peer that stops answering (a proxy that drops every frame) is found
// within Time + Timeout: the connection closes, and the ClientConn leaves
// READY, without any call having to fail first.
func TestKeepaliveDetectsDeadPeer(t *testing.T) {
	addr, _ := listenEcho(t)
	p := newBlackholeProxy(t, addr)
	ka := KeepaliveParams{Time: 100 * time.Millisecond, Timeout: 100 * time.Millisecond, PermitWithoutStream: true}
	cc, err := Dial(p.addr(), WithInsecure(), WithKeepalive(ka))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := cc.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := firstConn(cc)
	p.dropped.Store(true)
	start := time.Now()
	<-c.Done()
	took := time.Since(start)
	t.Logf("dead peer found after %v (Time %v + Timeout %v)", took, ka.Time, ka.Timeout)
	if took < ka.Timeout {
		t.Errorf("the connection closed after %v, before the ping's timeout %v", took, ka.Timeout)
	}
	// Time + Timeout, and a second of slack for a loaded machine.
	if limit := ka.Time + ka.Timeout + time.Second; took > limit {
		t.Errorf("the dead peer was found after %v, want within %v", took, limit)
	}
}

// A client that pings more often than the server's MinPingInterval gets
// GOAWAY ENHANCE_YOUR_CALM "too_many_pings", and doubles its interval each
// time until the server is content: then its connection stays.
func TestTooManyPings(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const minInterval = 200 * time.Millisecond
	srv, served := startServer(t, lis, &echoServer{unary: echoBack},
		ServerConnConfig(&conn.Config{MinPingInterval: minInterval, PermitPingsWithoutStreams: true}))
	defer func() {
		srv.Stop()
		<-served
	}()
	cc, err := Dial(lis.Addr().String(), WithInsecure(), WithBalancer(RoundRobin()),
		WithKeepalive(KeepaliveParams{Time: 30 * time.Millisecond, PermitWithoutStream: true}),
		WithBackoff(BackoffConfig{BaseDelay: 10 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := cc.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := firstConn(cc)
	<-c.Done()
	var ge *conn.GoAwayError
	if err := c.Err(); !errors.As(err, &ge) || ge.Code != frame.ErrCodeEnhanceYourCalm || ge.Debug != "too_many_pings" {
		t.Fatalf("the connection ended with %v, want GOAWAY ENHANCE_YOUR_CALM too_many_pings", err)
	}
	// The client doubles its interval (30, 60, 120, 240 ms) until it is
	// at least the server's minimum.
	for {
		cc.mu.Lock()
		interval := cc.keepaliveTime
		cc.mu.Unlock()
		if interval >= minInterval {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var reply []byte
	if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply, WaitForReady(true)); err != nil {
		t.Fatal(err)
	}
	c = firstConn(cc)
	// Five pings' worth: the connection stays.
	select {
	case <-c.Done():
		t.Fatalf("the connection ended after the client slowed down: %v", c.Err())
	case <-time.After(5 * minInterval):
	}
}

// MaxConnectionAge rotates connections under a steady load of calls and no
// call fails: the GOAWAY is graceful and calls the server had not seen are
// retried on the new connection. (A call the server did not see is retried
// once, as grpc-go does: if the new connection aged out before the retry
// reached it, the call would fail. On a loaded machine a 200 ms age did
// that about once in 200 runs, the retry starved for as long; 1 s is far
// from it.)
func TestMaxConnectionAgeRotates(t *testing.T) {
	cc, dials := echoCountingDials(t, ServerKeepalive(ServerKeepaliveParams{MaxConnectionAge: time.Second, MaxConnectionAgeGrace: 5 * time.Second}))
	var wg sync.WaitGroup
	var failed atomic.Int32
	var firstErr atomic.Value
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for dials.Load() < 3 {
				var reply []byte
				if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d calls failed across connection rotations, first: %v", n, firstErr.Load())
	}
}

// MaxConnectionIdle closes a connection with no call; the next call
// reconnects.
func TestMaxConnectionIdle(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, served := startServer(t, lis, &echoServer{unary: echoBack},
		ServerKeepalive(ServerKeepaliveParams{MaxConnectionIdle: 50 * time.Millisecond}))
	defer func() {
		srv.Stop()
		<-served
	}()
	cc, err := Dial(lis.Addr().String(), WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var reply []byte
	if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply); err != nil {
		t.Fatal(err)
	}
	c := firstConn(cc)
	<-c.Done() // the test's timeout bounds a failure
	if err := c.Err(); err != nil && !errors.Is(err, conn.ErrClosed) && !errors.Is(err, io.EOF) {
		var ge *conn.GoAwayError
		if !errors.As(err, &ge) || ge.Code != frame.ErrCodeNo {
			t.Fatalf("the idle connection ended with %v, want a graceful GOAWAY", err)
		}
	}
	if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply); err != nil {
		t.Fatalf("the call after the idle close: %v", err)
	}
}

// A connection that keeps reading is not pinged: a client with a 100 ms
// keepalive making calls back to back for 600 ms never trips a server that
// allows one ping a second (three early pings would end the connection;
// it would take three stalls of 100 ms inside calls).
func TestKeepaliveSparesBusyConnection(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, served := startServer(t, lis, &echoServer{unary: echoBack},
		ServerConnConfig(&conn.Config{MinPingInterval: time.Second}))
	defer func() {
		srv.Stop()
		<-served
	}()
	cc, err := Dial(lis.Addr().String(), WithInsecure(), WithKeepalive(KeepaliveParams{Time: 100 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := cc.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := firstConn(cc)
	for end := time.Now().Add(600 * time.Millisecond); time.Now().Before(end); {
		var reply []byte
		if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-c.Done():
		t.Fatalf("the busy connection ended: %v", c.Err())
	default:
	}
}

// A connection that ends between a call's pick and the opening of its
// stream (a GOAWAY drained it with no stream left) never sent the call:
// the call goes on a new connection instead of failing.
func TestConnEndsAfterPick(t *testing.T) {
	cc, dials := echoCountingDials(t)
	var reply []byte
	if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("warm"), &reply); err != nil {
		t.Fatal(err)
	}
	var closed atomic.Int32
	testHookPicked = func(c *conn.Conn) {
		if closed.Add(1) == 1 {
			c.Close()
		}
	}
	defer func() { testHookPicked = nil }()
	if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply); err != nil {
		t.Fatalf("call on a connection closed after the pick: %v", err)
	}
	if string(reply) != "x" || closed.Load() != 2 || dials.Load() != 2 {
		t.Errorf("reply %q after %d picks and %d dials, want \"x\" after 2 picks and 2 dials", reply, closed.Load(), dials.Load())
	}
}

// echoCountingDials starts an echo server with opts and returns a client of
// it that counts the connections it dials; both end with the test.
func echoCountingDials(t *testing.T, opts ...ServerOption) (*ClientConn, *atomic.Int32) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, served := startServer(t, lis, &echoServer{unary: echoBack}, opts...)
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	dials := new(atomic.Int32)
	cc, err := Dial(lis.Addr().String(), WithInsecure(), WithDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc, dials
}
