package conn_test

import (
	"context"
	"io"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
)

// readers lists the reader goroutines by their "goroutine N" line: the
// first (readLoop) and those that took over from an idle one (readMoved).
func readers() (first, moved []string) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		id, _, _ := strings.Cut(g, " [")
		switch {
		case strings.Contains(g, "conn.(*Conn).readLoop("):
			first = append(first, id)
		case strings.Contains(g, "conn.(*Conn).readMoved("):
			moved = append(moved, id)
		}
	}
	return first, moved
}

// A connection with no stream for IdleMoveDelay reads on a fresh goroutine
// (twice in a row, then once per IdleMoveEvery); one with a stream open
// does not, however long it waits; and the connection works the same after
// a move.
func TestIdleReaderMoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		synctest.Wait()
		if !conn.IdleArmed(c) {
			t.Fatal("idle deadline not armed after the handshake")
		}
		call := func(id uint32) {
			t.Helper()
			s, err := c.OpenStream(context.Background(), request("/unary"), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if conn.IdleArmed(c) {
				t.Error("idle deadline armed with a stream open")
			}
			p.WantHeaders("request headers", id, false, request("/unary"))
			first, moved := readers()
			time.Sleep(10 * conn.IdleMoveDelay) // busy: no move, no timeout
			synctest.Wait()
			if f, m := readers(); len(f)+len(m) != 1 || strings.Join(f, "") != strings.Join(first, "") || strings.Join(m, "") != strings.Join(moved, "") {
				t.Errorf("readers %q, %q after a busy wait, want still %q, %q", f, m, first, moved)
			}
			if err := s.WriteData(nil, []byte("ping"), true); err != nil {
				t.Fatal(err)
			}
			p.WantData("request body", id, true, []byte("ping"))
			p.WriteHeaders(id, false, status200...)
			p.WriteData(id, false, []byte("pong"))
			p.WriteHeaders(id, true, trailerOK...)
			if _, err := s.ReadHeaders(); err != nil {
				t.Fatal(err)
			}
			if body, err := io.ReadAll(s); err != nil || string(body) != "pong" {
				t.Fatalf("body after a long busy wait = %q, %v", body, err)
			}
			synctest.Wait()
			if !conn.IdleArmed(c) {
				t.Error("idle deadline not armed after the last stream closed")
			}
		}

		call(1) // opened while the deadline was armed
		_, before := readers()
		time.Sleep(2 * conn.IdleMoveDelay)
		synctest.Wait()
		first, moved := readers()
		if len(first) != 0 || len(moved) != 1 || slices.Equal(moved, before) || conn.IdleArmed(c) {
			t.Fatalf("after an idle spell: first readers %q, moved %q (before %q), armed %v; want none, one new, false", first, moved, before, conn.IdleArmed(c))
		}
		// A second move follows at once; a third waits for IdleMoveEvery.
		call(3)
		time.Sleep(2 * conn.IdleMoveDelay)
		synctest.Wait()
		_, second := readers()
		if len(second) != 1 || second[0] == moved[0] {
			t.Fatalf("readers %q after the second idle spell, want one other than %q", second, moved)
		}
		call(5)
		time.Sleep(2 * conn.IdleMoveDelay)
		synctest.Wait()
		if _, now := readers(); !slices.Equal(now, second) {
			t.Errorf("readers %q soon after two moves, want still %q", now, second)
		}
		time.Sleep(conn.IdleMoveEvery)
		synctest.Wait()
		if _, now := readers(); len(now) != 1 || now[0] == second[0] {
			t.Errorf("readers %q after IdleMoveEvery, want one other than %q", now, second)
		}

		// Still reading: a PING is answered.
		p.WriteRaw(frame.AppendPing(nil, false, [8]byte{1}))
		p.WantFrame("PING ACK from the moved reader", &frame.PingFrame{Header: frame.Header{Length: 8, Type: frame.TypePing, Flags: frame.FlagAck}, Data: [8]byte{1}})
		c.Close()
		p.WantGoAway("GOAWAY on Close", frame.ErrCodeNo)
		p.WantClosed("closed")
	})
}

// A connection whose reader moves drops its spare gates: the channel a
// call that waited for its response left for the next wait.
func TestIdleMoveDropsGates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		s, err := c.OpenStream(context.Background(), request("/unary"), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		p.WantHeaders("request headers", 1, false, request("/unary"))
		if err := s.WriteData(nil, []byte("ping"), true); err != nil {
			t.Fatal(err)
		}
		p.WantData("request body", 1, true, []byte("ping"))
		got := make(chan error, 1)
		go func() {
			_, err := s.ReadHeaders()
			got <- err
		}()
		synctest.Wait() // waiting for the response headers
		p.WriteHeaders(1, false, status200...)
		p.WriteHeaders(1, true, trailerOK...)
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(s); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := conn.SpareGates(c); n == 0 {
			t.Fatal("no spare gate after a call that waited for its response")
		}
		time.Sleep(2 * conn.IdleMoveDelay)
		synctest.Wait()
		if _, moved := readers(); len(moved) != 1 {
			t.Fatalf("moved readers %q after an idle spell, want one", moved)
		}
		if n := conn.SpareGates(c); n != 0 {
			t.Errorf("%d spare gates kept after the reader moved, want none", n)
		}
		c.Close()
		p.WantGoAway("GOAWAY on Close", frame.ErrCodeNo)
		p.WantClosed("closed")
	})
}

// releaseCounter counts the ReleaseIdle calls a connection gets.
type releaseCounter struct {
	net.Conn
	n *atomic.Int32
}

func (r releaseCounter) ReleaseIdle() { r.n.Add(1) }

// A net.Conn that keeps buffers for bursts (h2tls's) is asked to let them
// go when the reader moves, once the connection has had no stream for
// IdleMoveDelay, and not while a stream is open.
func TestIdleMoveReleasesConnBuffers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nc, p := newClientPipe(t)
		var released atomic.Int32
		c, err := conn.Client(releaseCounter{nc, &released}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		p.ServerHandshake()
		synctest.Wait()
		s, err := c.OpenStream(context.Background(), request("/unary"), nil, conn.EndStream)
		if err != nil {
			t.Fatal(err)
		}
		p.WantHeaders("request headers", 1, true, request("/unary"))
		start := released.Load() // the move after the handshake may have come first
		time.Sleep(10 * conn.IdleMoveDelay)
		synctest.Wait()
		if n := released.Load() - start; n != 0 {
			t.Errorf("%d ReleaseIdle calls with a stream open, want none", n)
		}
		p.WriteHeaders(1, false, status200...)
		p.WriteHeaders(1, true, trailerOK...)
		if _, err := s.ReadHeaders(); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(s); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * conn.IdleMoveDelay)
		synctest.Wait()
		if n := released.Load() - start; n != 1 {
			t.Errorf("%d ReleaseIdle calls after an idle spell, want 1", n)
		}
	})
}

// deadlineCounter counts the read deadlines set on a connection.
type deadlineCounter struct {
	net.Conn
	n *atomic.Int32
}

func (d deadlineCounter) SetReadDeadline(t time.Time) error {
	d.n.Add(1)
	return d.Conn.SetReadDeadline(t)
}

// Calls that come less than IdleMoveDelay apart cost no read deadline
// each: the idle deadline stays set across them, and when it passes on a
// spell that calls broke it is re-armed, so the reader moves no sooner
// than a whole IdleMoveDelay after the last call, and no later than twice
// that (the bound the package documents). The scripted peer writes on the
// test's goroutine, so a call may take a parked reader's leadIdle of fake
// time while nobody reads its response; only the bounds are asserted.
func TestIdleDeadlineSpansCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nc, p := newClientPipe(t)
		var deadlines atomic.Int32
		c, err := conn.Client(deadlineCounter{nc, &deadlines}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		p.ServerHandshake()
		synctest.Wait()
		call := func(id uint32) {
			t.Helper()
			s, err := c.OpenStream(context.Background(), request("/unary"), nil, conn.EndStream)
			if err != nil {
				t.Fatal(err)
			}
			p.WantHeaders("request headers", id, true, request("/unary"))
			p.WriteHeaders(id, false, status200...)
			p.WriteHeaders(id, true, trailerOK...)
			if _, err := s.ReadHeaders(); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(s); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		before := deadlines.Load()
		id := uint32(1)
		for range 10 {
			call(id)
			id += 2
		}
		if n := deadlines.Load() - before; n != 0 {
			t.Errorf("%d read deadlines set for 10 calls in a row, want 0", n)
		}
		// The deadline armed after the handshake passes on a broken
		// spell: no move yet.
		_, before2 := readers()
		time.Sleep(conn.IdleMoveDelay / 2)
		call(id)
		time.Sleep(conn.IdleMoveDelay * 3 / 4)
		synctest.Wait()
		if _, moved := readers(); !slices.Equal(moved, before2) {
			t.Fatalf("readers moved %q less than IdleMoveDelay after the last call, want still %q", moved, before2)
		}
		time.Sleep(conn.IdleMoveDelay*5/4 + time.Millisecond)
		synctest.Wait()
		if first, moved := readers(); len(first) != 0 || len(moved) != 1 || slices.Equal(moved, before2) {
			t.Fatalf("readers %q, %q twice IdleMoveDelay after the last call, want one moved", first, moved)
		}
		c.Close()
		p.WantGoAway("GOAWAY on Close", frame.ErrCodeNo)
		p.WantClosed("closed")
	})
}
