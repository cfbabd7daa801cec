package conn_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
)

// ctxReport is what a handler saw of its stream's context.
type ctxReport struct {
	before       error // Err as the handler started
	err, derived error // Err of the context and of a context derived from it, at the end
	doneClosed   bool  // Done was closed at the end
}

// isDone reports whether ctx's Done channel is closed.
func isDone(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// TestServerContextReset checks that a server stream's context, and one
// derived from it before it was ever waited on, end when the peer resets
// the stream.
func TestServerContextReset(t *testing.T) {
	report := make(chan ctxReport, 1)
	started := make(chan struct{})
	_, p := startServer(t, nil, func(s *conn.Stream) {
		ctx := s.Context()
		r := ctxReport{before: ctx.Err()}
		derived, cancel := context.WithCancel(ctx)
		defer cancel()
		close(started)
		<-derived.Done()
		r.err, r.derived, r.doneClosed = ctx.Err(), derived.Err(), isDone(ctx)
		report <- r
	})
	p.WriteHeaders(1, false, request("/")...)
	<-started
	p.WriteRaw(frame.AppendRSTStream(nil, 1, frame.ErrCodeCancel))
	r := <-report
	if r.before != nil || !errors.Is(r.err, context.Canceled) || !errors.Is(r.derived, context.Canceled) || !r.doneClosed {
		t.Fatalf("context as the handler started: %v; after the reset: %v, derived %v, Done closed %v", r.before, r.err, r.derived, r.doneClosed)
	}
}

// TestServerContextCompleted checks the context of a stream that completed
// before its handler ever looked at the context: Err reports the end, and
// Done, asked for afterwards, is already closed.
func TestServerContextCompleted(t *testing.T) {
	report := make(chan ctxReport, 1)
	_, p := startServer(t, nil, func(s *conn.Stream) {
		var r ctxReport
		r.before = s.Context().Err()
		if _, err := s.Read(make([]byte, 8)); err != io.EOF {
			t.Errorf("Read = %v, want io.EOF", err)
		}
		if err := s.WriteAll(nil, nil, status200); err != nil {
			t.Errorf("WriteAll: %v", err)
		}
		ctx := s.Context()
		r.err = ctx.Err()
		r.doneClosed = isDone(ctx)
		derived, cancel := context.WithCancel(ctx)
		defer cancel()
		r.derived = derived.Err()
		report <- r
	})
	p.WriteHeaders(1, true, request("/")...)
	r := <-report
	if r.before != nil || !errors.Is(r.err, context.Canceled) || !errors.Is(r.derived, context.Canceled) || !r.doneClosed {
		t.Fatalf("context as the handler started: %v; after the stream completed: %v, derived %v, Done closed %v", r.before, r.err, r.derived, r.doneClosed)
	}
	p.WantHeaders("response", 1, true, status200)
}

// TestServerContextConnEnd checks that the contexts of running handlers end
// with the connection, whether or not they were waited on before.
func TestServerContextConnEnd(t *testing.T) {
	started := make(chan context.Context, 2)
	release := make(chan struct{})
	c, p := startServer(t, nil, func(s *conn.Stream) {
		started <- s.Context()
		<-release
	})
	p.WriteHeaders(1, false, request("/")...)
	p.WriteHeaders(3, false, request("/")...)
	waited, untouched := <-started, <-started
	done := waited.Done()
	if untouched.Err() != nil || isDone(waited) {
		t.Fatalf("contexts ended early: %v, %v", untouched.Err(), waited.Err())
	}
	c.Close()
	<-done
	if !errors.Is(waited.Err(), context.Canceled) || !errors.Is(untouched.Err(), context.Canceled) || !isDone(untouched) {
		t.Fatalf("after Close: Err %v and %v, Done closed %v", waited.Err(), untouched.Err(), isDone(untouched))
	}
	close(release)
}

// TestServerContextDerivedNoGoroutine checks that contexts derived from a
// server stream's context register with it rather than starting a goroutine
// each to watch it (what the context package does for a context type it
// does not know).
func TestServerContextDerivedNoGoroutine(t *testing.T) {
	report := make(chan int, 1)
	_, p := startServer(t, nil, func(s *conn.Stream) {
		ctx := s.Context()
		before := runtime.NumGoroutine()
		var cancels []context.CancelFunc
		for range 100 {
			d, cancel := context.WithCancel(ctx)
			cancels = append(cancels, cancel)
			stop := context.AfterFunc(d, func() {})
			cancels = append(cancels, func() { stop() })
		}
		report <- runtime.NumGoroutine() - before
		for _, cancel := range cancels {
			cancel()
		}
	})
	p.WriteHeaders(1, true, request("/")...)
	if n := <-report; n >= 50 {
		t.Fatalf("100 derived contexts started %d goroutines", n)
	}
}

// TestOnEnd checks that OnEnd's functions run once the connection ends,
// after Done is closed, each once; that one given after the end runs at
// once; and that OnEnd does not make the context Context returns (an idle
// client connection holds none).
func TestOnEnd(t *testing.T) {
	c, p := startClient(t, nil)
	ran := make(chan bool, 3)
	for range 2 {
		c.OnEnd(func() {
			select {
			case <-c.Done():
				ran <- true
			default:
				ran <- false
			}
		})
	}
	if conn.ContextMade(c) {
		t.Error("OnEnd made the connection's context")
	}
	select {
	case <-ran:
		t.Fatal("an OnEnd function ran before the connection ended")
	default:
	}
	c.Close()
	p.WantGoAway("GOAWAY on Close", frame.ErrCodeNo)
	for range 2 {
		if done := <-ran; !done {
			t.Error("an OnEnd function ran before Done was closed")
		}
	}
	c.OnEnd(func() { ran <- true })
	<-ran
	select {
	case <-ran:
		t.Error("an OnEnd function ran twice")
	default:
	}
	if conn.ContextMade(c) {
		t.Error("the connection's context made without Context")
	}
}
