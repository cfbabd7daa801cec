package rpc

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// A deadline set two hops up reaches the third hop: hop 1 calls hop 2 with
// its handler's context, hop 2 calls hop 3 the same way, and hop 3's handler
// is cancelled when the client's deadline passes, though no hop set a
// timeout of its own.
func TestDeadlinePropagatesTwoHops(t *testing.T) {
	type seen struct {
		deadline time.Time
		hasDL    bool
		err      error
	}
	hop3Seen := make(chan seen, 1)
	hop3Entered := make(chan struct{})
	hop3 := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		close(hop3Entered)
		d, ok := ctx.Deadline()
		<-ctx.Done()
		hop3Seen <- seen{d, ok, ctx.Err()}
		return nil, ctx.Err()
	}}, nil)
	forward := func(next *ClientConn) func(ctx context.Context, req []byte) ([]byte, error) {
		return func(ctx context.Context, req []byte) ([]byte, error) {
			var reply []byte
			err := next.Invoke(ctx, "/test.Echo/Unary", req, &reply)
			return reply, err
		}
	}
	hop2 := newEnv(t, &echoServer{unary: forward(hop3.cc)}, nil)
	hop1 := newEnv(t, &echoServer{unary: forward(hop2.cc)}, nil)
	// Connect every hop first, so the deadline is spent in the handlers,
	// not in dialing.
	for _, e := range []*env{hop1, hop2, hop3} {
		if err := e.cc.Connect(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	clientDeadline, _ := ctx.Deadline()
	var reply []byte
	err := hop1.cc.Invoke(ctx, "/test.Echo/Unary", []byte("m"), &reply)
	wantCode(t, err, DeadlineExceeded)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(%v, context.DeadlineExceeded) is false", err)
	}
	select {
	case <-hop3Entered:
	default:
		t.Fatal("the call never reached hop 3 within its one-second deadline")
	}
	s := <-hop3Seen
	if !s.hasDL {
		t.Fatal("hop 3's context has no deadline")
	}
	if s.err == nil {
		t.Fatal("hop 3's context did not end")
	}
	// Each hop computes its deadline from its arrival time and a timeout
	// truncated from the time left, so the deadline can only drift by the
	// transit time; a full second is far beyond it.
	if s.deadline.After(clientDeadline.Add(time.Second)) {
		t.Fatalf("hop 3's deadline %v is far after the client's %v", s.deadline, clientDeadline)
	}
}

func TestDeadlineExceededStopsHandler(t *testing.T) {
	handlerErr := make(chan error, 1)
	entered := make(chan struct{})
	e := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		close(entered)
		<-ctx.Done()
		handlerErr <- ctx.Err()
		return nil, ctx.Err()
	}}, nil)
	if err := e.cc.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var reply []byte
	wantCode(t, e.cc.Invoke(ctx, "/test.Echo/Unary", []byte("m"), &reply), DeadlineExceeded)
	select {
	case <-entered:
	default:
		t.Fatal("the call never reached the handler within its deadline")
	}
	if err := <-handlerErr; err == nil {
		t.Fatal("handler context not ended")
	}
	// An expired context fails at once, without a call.
	wantCode(t, e.cc.Invoke(ctx, "/test.Echo/Unary", []byte("m"), &reply), DeadlineExceeded)
}

// Cancelling the client resets the stream and cancels the handler's context
// at once: a server-streaming handler stops within one message.
func TestCancelStopsServerStreamingHandler(t *testing.T) {
	permit := make(chan struct{})
	type result struct {
		sent       int
		sendAfter  error
		ctxErrSeen error
	}
	done := make(chan result, 1)
	impl := &echoServer{stream: func(ss ServerStream) error {
		var req []byte
		if err := ss.RecvMsg(&req); err != nil {
			return err
		}
		sent := 0
		for {
			select {
			case <-permit:
				if err := ss.SendMsg([]byte{byte(sent)}); err != nil {
					done <- result{sent: sent, sendAfter: err}
					return err
				}
				sent++
			case <-ss.Context().Done():
				// Cancelled: one more send must fail, not be accepted.
				err := ss.SendMsg([]byte("late"))
				done <- result{sent: sent, sendAfter: err, ctxErrSeen: ss.Context().Err()}
				return ss.Context().Err()
			}
		}
	}}
	e := newEnv(t, impl, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs, err := e.cc.NewStream(ctx, serverStreamDesc, "/test.Echo/ServerStream")
	if err != nil {
		t.Fatal(err)
	}
	cs.SendMsg([]byte("go"))
	for i := range 2 {
		permit <- struct{}{}
		var m []byte
		if err := cs.RecvMsg(&m); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	cancel()
	var m []byte
	wantCode(t, cs.RecvMsg(&m), Canceled)
	r := <-done
	if r.sent != 2 {
		t.Fatalf("handler sent %d messages, want 2 (it must stop at the cancel)", r.sent)
	}
	if r.ctxErrSeen == nil || r.sendAfter == nil {
		t.Fatalf("after cancel: ctx err %v, SendMsg err %v; want both set", r.ctxErrSeen, r.sendAfter)
	}
	if CodeOf(r.sendAfter) != Canceled {
		t.Fatalf("SendMsg after cancel: %v, want CANCELLED", r.sendAfter)
	}
}

func TestCancelUnaryReachesHandler(t *testing.T) {
	entered := make(chan struct{})
	handlerErr := make(chan error, 1)
	e := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		close(entered)
		<-ctx.Done()
		handlerErr <- ctx.Err()
		return nil, ctx.Err()
	}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-entered
		cancel()
	}()
	var reply []byte
	err := e.cc.Invoke(ctx, "/test.Echo/Unary", []byte("m"), &reply)
	wantCode(t, err, Canceled)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(%v, context.Canceled) is false", err)
	}
	if err := <-handlerErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("handler context: %v, want context.Canceled", err)
	}
}

// GracefulStop lets a call in flight finish while refusing new connections.
func TestGracefulStopDrainsInFlightCall(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, served := startServer(t, lis, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		close(entered)
		<-release
		return req, nil
	}})
	cc, err := Dial(lis.Addr().String(), WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	callErr := make(chan error, 1)
	var reply []byte
	go func() { callErr <- cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("in flight"), &reply) }()
	<-entered
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	// Wait until the listener is closed: new connections are refused.
	for {
		nc, err := net.Dial("tcp", lis.Addr().String())
		if err != nil {
			break
		}
		nc.Close()
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-stopped:
		t.Fatal("GracefulStop returned while a call was in flight")
	default:
	}
	// Once the client has the server's GOAWAY its connection takes no new
	// calls: a new call retires it (it keeps serving the call in flight)
	// and dials afresh, which fails: the listener is gone.
	for clientConnAvailable(cc) {
		time.Sleep(5 * time.Millisecond)
	}
	var other []byte
	wantCode(t, cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("new"), &other), Unavailable)
	close(release)
	if err := <-callErr; err != nil {
		t.Fatalf("in-flight call: %v", err)
	}
	if string(reply) != "in flight" {
		t.Fatalf("reply %q", reply)
	}
	<-stopped
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if err := srv.Serve(lis); err != ErrServerStopped {
		t.Fatalf("Serve after stop: %v", err)
	}
}

// After the server restarts, the ClientConn dials a new connection.
func TestReconnectAfterServerRestart(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	impl := &echoServer{unary: echoBack}
	srv, served := startServer(t, lis, impl)
	cc, err := Dial(addr, WithInsecure(), WithBackoff(BackoffConfig{BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var reply []byte
	if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("one"), &reply); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	// The server is gone: calls fail UNAVAILABLE.
	wantCode(t, cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("two"), &reply), Unavailable)

	lis2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	srv2, served2 := startServer(t, lis2, impl)
	defer func() {
		srv2.Stop()
		<-served2
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cc.Invoke(ctx, "/test.Echo/Unary", []byte("three"), &reply, WaitForReady(true)); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if string(reply) != "three" {
		t.Fatalf("reply %q", reply)
	}
}

func TestClosedClientConn(t *testing.T) {
	e := newEnv(t, &echoServer{unary: echoBack}, nil)
	var reply []byte
	if err := e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("m"), &reply); err != nil {
		t.Fatal(err)
	}
	e.cc.Close()
	wantCode(t, e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("m"), &reply), Canceled)
}

func TestStopFailsCallsInFlight(t *testing.T) {
	entered := make(chan struct{})
	e := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		close(entered)
		<-ctx.Done()
		return nil, ctx.Err()
	}}, nil)
	callErr := make(chan error, 1)
	go func() {
		var reply []byte
		callErr <- e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("m"), &reply)
	}()
	<-entered
	e.srv.Stop()
	wantCode(t, <-callErr, Unavailable)
}

// Stop ends the calls a GracefulStop is waiting for.
func TestStopDuringGracefulStop(t *testing.T) {
	entered := make(chan struct{})
	e := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		close(entered)
		<-ctx.Done() // never ends on its own
		return nil, ctx.Err()
	}}, nil)
	callErr := make(chan error, 1)
	go func() {
		var reply []byte
		callErr <- e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("m"), &reply)
	}()
	<-entered
	graceful := make(chan struct{})
	go func() {
		e.srv.GracefulStop()
		close(graceful)
	}()
	e.srv.Stop()
	<-graceful
	if code := CodeOf(<-callErr); code != Unavailable && code != Canceled {
		t.Fatalf("call ended with %v, want UNAVAILABLE or CANCELLED", code)
	}
}

// clientConnAvailable reports whether cc's current connection takes new
// streams.
func clientConnAvailable(cc *ClientConn) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for _, b := range cc.ready {
		for _, c := range b.conns {
			if c.Available() {
				return true
			}
		}
	}
	return false
}

// The server forgets a connection once it ends, with no goroutine waiting
// for that per connection.
func TestServerForgetsEndedConnection(t *testing.T) {
	e := newEnv(t, &echoServer{unary: echoBack}, nil)
	if err := e.cc.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	conns := func() int {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return len(e.srv.conns)
	}
	var reply []byte
	if err := e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("m"), &reply); err != nil {
		t.Fatal(err)
	}
	// conn.Server serves the connection before Serve's goroutine records
	// it, so the call can finish first: wait for the record.
	for deadline := time.Now().Add(10 * time.Second); conns() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d server connections while one client is connected", conns())
		}
	}
	e.cc.Close()
	for conns() != 0 { // the test's own timeout bounds a failure
		time.Sleep(time.Millisecond)
	}
}
