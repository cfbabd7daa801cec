package rpc

import (
	"context"
	"errors"
	"net"
	"testing"
)

// An idle ClientConn keeps nothing of its dials: once the dial is done the
// map of dials in flight is dropped.
func TestIdleClientConnKeepsNoDial(t *testing.T) {
	e := newEnv(t, &echoServer{unary: echoBack}, nil)
	var reply []byte
	if err := e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply); err != nil {
		t.Fatal(err)
	}
	e.cc.mu.Lock()
	dials := e.cc.dials
	e.cc.mu.Unlock()
	if dials != nil {
		t.Errorf("the map of dials in flight kept after the dial (%d in it), want nil", len(dials))
	}
}

// Close cancels a dial in flight, though the dial's context does not
// derive from the ClientConn's.
func TestCloseCancelsDial(t *testing.T) {
	started := make(chan struct{})
	ended := make(chan error, 1)
	cc, err := Dial("slow:80", WithInsecure(), WithDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
		return nil, ctx.Err()
	}))
	if err != nil {
		t.Fatal(err)
	}
	connectErr := make(chan error, 1)
	go func() { connectErr <- cc.Connect(context.Background()) }()
	<-started
	cc.Close()
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("the dial's context ended with %v, want context.Canceled", err)
	}
	if err := <-connectErr; err == nil {
		t.Error("Connect succeeded on a closed ClientConn")
	}
	cc.goroutines.Wait()
	if cc.dials != nil {
		t.Errorf("%d dials in flight after Close, want none", len(cc.dials))
	}
}
