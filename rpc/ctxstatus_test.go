package rpc

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/conn"
)

// timerDialer fails the way net.Dialer does when the call's deadline
// passes: on a timer of its own, with an I/O timeout that is not ctx's
// error, possibly before ctx's own timer has fired. Cancelled, it fails with
// an error of its own too.
func timerDialer(ctx context.Context, _ string) (net.Conn, error) {
	var timeout <-chan time.Time
	if d, ok := ctx.Deadline(); ok {
		t := time.NewTimer(time.Until(d))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	case <-ctx.Done():
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("operation was canceled")}
	}
}

// A call whose deadline passes while its connection is being dialled
// fails with DEADLINE_EXCEEDED, never UNAVAILABLE: every time, on a fresh
// ClientConn each time, so that each call dials.
func TestDeadlineDuringDial(t *testing.T) {
	for i := range 200 {
		cc, err := Dial("slow:80", WithInsecure(), WithDialer(timerDialer))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		var reply []byte
		err = cc.Invoke(ctx, "/test.Echo/Unary", []byte("x"), &reply)
		cancel()
		cc.Close()
		if CodeOf(err) != DeadlineExceeded {
			t.Fatalf("call %d: %v, want DEADLINE_EXCEEDED", i, err)
		}
	}
	// And a stream, and with WaitForReady (which waits out backoff too).
	cc, err := Dial("slow:80", WithInsecure(), WithDialer(timerDialer))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for _, opts := range [][]CallOption{nil, {WaitForReady(true)}} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		_, err = cc.NewStream(ctx, bidiDesc, "/test.Echo/Bidi", opts...)
		cancel()
		wantCode(t, err, DeadlineExceeded)
	}
}

// A call cancelled while its connection is being dialled fails with
// CANCELLED; so does one waiting for the same dial. The dial is the
// ClientConn's, not the call's: it goes on, and later calls wait for it
// rather than dialling again.
func TestCancelDuringDial(t *testing.T) {
	started := make(chan struct{}, 2)
	cc, err := Dial("slow:80", WithInsecure(), WithDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		started <- struct{}{}
		return timerDialer(ctx, addr)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for i := range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 2)
		for range 2 {
			go func() {
				var reply []byte
				errc <- cc.Invoke(ctx, "/test.Echo/Unary", []byte("x"), &reply)
			}()
		}
		if i == 0 {
			<-started // one dial for both calls
		}
		cancel()
		for range 2 {
			wantCode(t, <-errc, Canceled)
		}
	}
	select {
	case <-started:
		t.Error("a second dial started while the first was in progress")
	default:
	}
}

// A call with a 1 ms deadline on a fresh ClientConn, against a real server
// over loopback TCP, fails with DEADLINE_EXCEEDED whichever stage the
// deadline finds it in: dialing, opening the stream or waiting for the
// handler (which sleeps).
func TestDeadlineOnFreshConnection(t *testing.T) {
	e := newEnv(t, &echoServer{
		unary: func(ctx context.Context, req []byte) ([]byte, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
		stream: func(ss ServerStream) error {
			<-ss.Context().Done()
			return ss.Context().Err()
		},
	}, nil)
	target := e.lis.Addr().String()
	for i := range 200 {
		cc, err := Dial(target, WithInsecure())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		if i%2 == 0 {
			var reply []byte
			err = cc.Invoke(ctx, "/test.Echo/Unary", []byte("x"), &reply)
		} else {
			var cs ClientStream
			cs, err = cc.NewStream(ctx, bidiDesc, "/test.Echo/Bidi")
			if err == nil {
				_ = cs.SendMsg([]byte("x"))
				err = cs.RecvMsg(new([]byte))
			}
		}
		cancel()
		cc.Close()
		if CodeOf(err) != DeadlineExceeded {
			t.Fatalf("call %d: %v, want DEADLINE_EXCEEDED", i, err)
		}
	}
}

// A call waiting for a stream slot under the server's
// MAX_CONCURRENT_STREAMS fails with DEADLINE_EXCEEDED or CANCELLED when its
// context ends there.
func TestContextEndsWaitingForStreamSlot(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	e := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		entered <- struct{}{}
		<-release
		return req, nil
	}}, []ServerOption{ServerConnConfig(&conn.Config{MaxConcurrentStreams: 1})})
	if err := e.cc.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	held := make(chan error, 1)
	go func() {
		var reply []byte
		held <- e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("holds the slot"), &reply)
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var reply []byte
	wantCode(t, e.cc.Invoke(ctx, "/test.Echo/Unary", []byte("waits"), &reply), DeadlineExceeded)
	cctx, ccancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, ccancel)
	_, err := e.cc.NewStream(cctx, bidiDesc, "/test.Echo/Bidi")
	wantCode(t, err, Canceled)
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
}
