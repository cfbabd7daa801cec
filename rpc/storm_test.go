package rpc

import (
	"context"
	"flag"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/conn"
)

var stormDuration = flag.Duration("storm", 10*time.Second, "how long TestDeadlineStorm runs (-short: 2s)")

// TestDeadlineStorm is an honest client whose deadlines are shorter than the
// handler: 32 callers on one connection, 5 ms deadlines, a 20 ms handler
// that does not look at its context. Every call ends with RST_STREAM CANCEL
// from both sides, thousands a second. The server must bound the handlers
// it runs without taking that for an attack: every call fails with
// DEADLINE_EXCEEDED, none with UNAVAILABLE, and the client never has to
// dial again (the connection was not ended by a GOAWAY).
func TestDeadlineStorm(t *testing.T) {
	d := *stormDuration
	if testing.Short() {
		d = min(d, 2*time.Second)
	}
	t.Run("default limits", func(t *testing.T) { deadlineStorm(t, d, nil) })
	// With 32 streams allowed, 40 handlers run (MaxConcurrentStreams plus a
	// quarter) while the storm wants about 128: most streams wait for a
	// handler and are reset before they get one.
	t.Run("handlers saturated", func(t *testing.T) {
		deadlineStorm(t, d/5, []ServerOption{ServerConnConfig(&conn.Config{MaxConcurrentStreams: 32})})
	})
}

func deadlineStorm(t *testing.T, d time.Duration, sopts []ServerOption) {
	const (
		callers  = 32
		deadline = 5 * time.Millisecond
		work     = 20 * time.Millisecond
	)
	var dials atomic.Int32
	dialer := func(ctx context.Context, addr string) (net.Conn, error) {
		dials.Add(1)
		var nd net.Dialer
		return nd.DialContext(ctx, "tcp", addr)
	}
	e := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		time.Sleep(work)
		return req, nil
	}}, sopts, WithDialer(dialer))

	var calls, deadlineExceeded, unavailable, other atomic.Int64
	var firstOther sync.Once
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				var reply []byte
				err := e.cc.Invoke(ctx, "/test.Echo/Unary", []byte("storm"), &reply)
				cancel()
				calls.Add(1)
				switch CodeOf(err) {
				case DeadlineExceeded:
					deadlineExceeded.Add(1)
				case Unavailable:
					unavailable.Add(1)
					firstOther.Do(func() { t.Errorf("first UNAVAILABLE: %v", err) })
				case OK:
				default:
					other.Add(1)
					firstOther.Do(func() { t.Errorf("first unexpected error: %v", err) })
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%v: %d calls, %d DEADLINE_EXCEEDED, %d UNAVAILABLE, %d other failures, %d dials",
		d, calls.Load(), deadlineExceeded.Load(), unavailable.Load(), other.Load(), dials.Load())
	if unavailable.Load() != 0 || other.Load() != 0 {
		t.Errorf("%d UNAVAILABLE and %d other failures, want every failure DEADLINE_EXCEEDED", unavailable.Load(), other.Load())
	}
	if deadlineExceeded.Load() == 0 {
		t.Errorf("no call missed its deadline: the storm did not happen")
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("the client dialed %d times, want 1: the connection was ended under it", n)
	}
	// The connection still serves a call with time to spare.
	var reply []byte
	if err := e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("after"), &reply); err != nil {
		t.Fatalf("a call after the storm: %v", err)
	}
}
