package conn_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
)

// TestServerDeadline checks SetDeadline on a handler that never looks at
// its context until the deadline passed: the stream is reset with CANCEL at
// the deadline, the context reports DeadlineExceeded, and a context derived
// afterwards ends too.
func TestServerDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		report := make(chan ctxReport, 1)
		_, p := startServer(t, nil, func(s *conn.Stream) {
			if err := s.SetDeadline(time.Now().Add(time.Second)); err != nil {
				t.Error(err)
			}
			if d, ok := s.Context().Deadline(); !ok || !d.Equal(time.Now().Add(time.Second)) {
				t.Errorf("Deadline() = %v, %v", d, ok)
			}
			<-release
			ctx := s.Context()
			derived, cancel := context.WithCancel(ctx)
			defer cancel()
			report <- ctxReport{err: ctx.Err(), derived: derived.Err(), doneClosed: isDone(ctx)}
		})
		p.WriteHeaders(1, false, request("/")...)
		synctest.Wait()
		start := time.Now()
		p.IdleWait = 999 * time.Millisecond
		p.WantIdle("before the deadline")
		p.WantRST("at the deadline", 1, frame.ErrCodeCancel)
		if d := time.Since(start); d != time.Second {
			t.Errorf("reset after %v, want 1s", d)
		}
		close(release)
		r := <-report
		if !errors.Is(r.err, context.DeadlineExceeded) || !errors.Is(r.derived, context.DeadlineExceeded) || !r.doneClosed {
			t.Fatalf("after the deadline: Err %v, derived %v, Done closed %v", r.err, r.derived, r.doneClosed)
		}
	})
}

// TestServerDeadlineWaited checks a handler that waits on its context (and
// on one derived from it) before the deadline: both end with
// DeadlineExceeded, and the stream is reset.
func TestServerDeadlineWaited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		report := make(chan ctxReport, 1)
		_, p := startServer(t, nil, func(s *conn.Stream) {
			if err := s.SetDeadline(time.Now().Add(time.Second)); err != nil {
				t.Error(err)
			}
			ctx := s.Context()
			derived, cancel := context.WithCancel(ctx)
			defer cancel()
			<-derived.Done()
			<-ctx.Done()
			report <- ctxReport{err: ctx.Err(), derived: derived.Err(), doneClosed: true}
		})
		p.WriteHeaders(1, false, request("/")...)
		p.WantRST("at the deadline", 1, frame.ErrCodeCancel)
		r := <-report
		if !errors.Is(r.err, context.DeadlineExceeded) || !errors.Is(r.derived, context.DeadlineExceeded) {
			t.Fatalf("after the deadline: Err %v, derived %v", r.err, r.derived)
		}
	})
}

// TestServerDeadlineOrder checks several streams with deadlines set out of
// order, one of which completes in time: the others are reset in deadline
// order, the completed one not at all, and the connection keeps no
// deadline afterwards.
func TestServerDeadlineOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Stream id → its deadline, in seconds from the start.
		deadlines := map[uint32]time.Duration{1: 3, 3: 1, 5: 2, 7: 4}
		release := make(chan struct{})
		start := time.Now()
		c, p := startServer(t, nil, func(s *conn.Stream) {
			if err := s.SetDeadline(start.Add(deadlines[s.ID()] * time.Second)); err != nil {
				t.Error(err)
			}
			if s.ID() == 5 {
				// Completes in time: its deadline must be forgotten.
				s.Read(make([]byte, 1))
				s.WriteAll(nil, nil, status200)
				return
			}
			<-release
		})
		for _, id := range []uint32{1, 3, 5, 7} {
			end := id == 5
			p.WriteHeaders(id, end, request("/")...)
		}
		synctest.Wait()
		p.WantHeaders("stream 5's response", 5, true, status200)
		if n := conn.PendingDeadlines(c); n != 3 {
			t.Errorf("%d deadlines pending, want 3", n)
		}
		for _, id := range []uint32{3, 1, 7} {
			time.Sleep(time.Until(start.Add(deadlines[id] * time.Second)))
			p.WantRST("deadline", id, frame.ErrCodeCancel)
		}
		if n := conn.PendingDeadlines(c); n != 0 {
			t.Errorf("%d deadlines pending after all passed, want 0", n)
		}
		close(release)
	})
}

// TestServerDeadlinePast checks a deadline that passed already: the stream
// is reset at once.
func TestServerDeadlinePast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errs := make(chan error, 1)
		_, p := startServer(t, nil, func(s *conn.Stream) {
			s.SetDeadline(time.Now().Add(-time.Second))
			<-s.Context().Done()
			errs <- s.Context().Err()
		})
		p.WriteHeaders(1, false, request("/")...)
		p.WantRST("past deadline", 1, frame.ErrCodeCancel)
		if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err = %v, want DeadlineExceeded", err)
		}
	})
}

// TestServerDeadlineMisuse checks that SetDeadline refuses a second call, a
// call after the context was used, and a client stream.
func TestServerDeadlineMisuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errs := make(chan [2]error, 2)
		_, p := startServer(t, nil, func(s *conn.Stream) {
			var e [2]error
			if s.ID() == 1 {
				e[0] = s.SetDeadline(time.Now().Add(time.Hour))
				e[1] = s.SetDeadline(time.Now().Add(time.Minute))
			} else {
				<-s.Context().Done() // makes the real context; the reset below ends it
				e[1] = s.SetDeadline(time.Now().Add(time.Minute))
			}
			errs <- e
		})
		p.WriteHeaders(1, true, request("/")...)
		if e := <-errs; e[0] != nil || e[1] == nil {
			t.Errorf("SetDeadline twice = %v, %v; want nil, an error", e[0], e[1])
		}
		p.WriteHeaders(3, false, request("/")...)
		synctest.Wait()
		p.WriteRaw(frame.AppendRSTStream(nil, 3, frame.ErrCodeCancel))
		if e := <-errs; e[1] == nil {
			t.Error("SetDeadline after the context was used succeeded")
		}

		c, _ := startClient(t, nil)
		s, err := c.OpenStream(context.Background(), request("/"), nil, conn.EndStream)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetDeadline(time.Now()); err == nil {
			t.Error("SetDeadline on a client stream succeeded")
		}
	})
}
