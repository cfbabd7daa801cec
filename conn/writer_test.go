package conn_test

import (
	"context"
	"io"
	"net"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

// TestWriterGoesIdle: once everything queued is written nobody holds the
// right to write, so an idle connection runs no writer goroutine (the bubble's
// leak check at the end of synctest.Test would also catch one).
func TestWriterGoesIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		s, err := c.OpenStream(context.Background(), request("/"), []byte("body"), conn.EndStream)
		if err != nil {
			t.Fatal(err)
		}
		p.WantHeaders("request", 1, false, request("/"))
		p.WantData("request body with the headers", 1, true, []byte("body"))
		synctest.Wait()
		if conn.Writing(c) {
			t.Error("the right to write is still held on an idle connection")
		}
		p.WriteHeaders(1, true, status200...)
		if _, err := s.ReadHeaders(); err != nil {
			t.Fatal(err)
		}
		// The reader goroutine's answer (PING ACK) is written by a flusher
		// that ends once the queue is empty.
		p.WriteRaw(frame.AppendPing(nil, false, [8]byte{1}))
		p.WantFrame("ping ack", &frame.PingFrame{Header: frame.Header{Type: frame.TypePing, Flags: frame.FlagAck}, Data: [8]byte{1}})
		synctest.Wait()
		if conn.Writing(c) {
			t.Error("the flusher did not end after the PING ACK")
		}
	})
}

// TestWriteAllChecksFirst: a WriteAll whose trailers are over the peer's
// header list limit sends nothing, not the headers and data before them,
// so the caller can still end the stream in good form.
func TestWriteAllChecksFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errc := make(chan error, 1)
		_, p := startServer(t, nil, func(s *conn.Stream) {
			big := []hpack.Field{f("grpc-status", "0"), f("x-big", string(make([]byte, 200)))}
			if err := s.WriteAll(status200, []byte("data"), big); err == nil {
				errc <- nil
				return
			}
			errc <- s.WriteAll(nil, nil, append(status200[:len(status200):len(status200)], f("grpc-status", "13")))
		}, frame.Setting{ID: frame.SettingMaxHeaderListSize, Val: 100})
		p.WriteHeaders(1, true, request("/")...)
		if err := <-errc; err != nil {
			t.Fatalf("the fallback WriteAll: %v", err)
		}
		p.WantHeaders("only the fallback block", 1, true, append(status200[:len(status200):len(status200)], f("grpc-status", "13")))
	})
}

// TestConcurrentWritesBatched: replies that handlers make at the same time
// share writes. An inline writer first yields (runtime.Gosched in
// writer.write), so the handlers a read woke queue their replies into its
// batch; without the yield each reply took its own write (0.96 writes per
// call against 0.13 in BenchmarkUnaryParallel, rpc). 16 goroutines make 50
// unary-shaped exchanges each; the server may take at most half a write per
// exchange.
func TestConcurrentWritesBatched(t *testing.T) {
	cn, sn := loopback(t)
	var cw, cr, sw, sr atomic.Int64
	server, err := conn.Server(countingConn{sn, &sw, &sr}, nil, unaryHandler)
	if err != nil {
		t.Fatal(err)
	}
	client, err := conn.Client(countingConn{cn, &cw, &cr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	defer client.Close()
	const workers, each = 16, 50
	req := request("/bench.Service/Unary")
	exchange := func() error {
		s, err := client.OpenStream(context.Background(), req, make([]byte, 16), conn.EndStream)
		if err != nil {
			return err
		}
		if _, err := s.ReadHeaders(); err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, s)
		return err
	}
	if err := exchange(); err != nil { // the handshake
		t.Fatal(err)
	}
	sw.Store(0)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := exchange(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, limit := sw.Load(), int64(workers*each/2); n > limit {
		t.Errorf("the server made %d writes for %d exchanges, want at most %d", n, workers*each, limit)
	} else {
		t.Logf("%d server writes for %d exchanges", n, workers*each)
	}
}

// stackConn records, for every Write of at least 64 KiB, whether a flusher
// goroutine made it (conn's writer.flushAll on its stack) or the
// application's goroutine that queued the data.
type stackConn struct {
	net.Conn
	mu      sync.Mutex
	flusher int
	caller  int
}

func (c *stackConn) Write(p []byte) (int, error) {
	if len(p) >= 64<<10 {
		buf := make([]byte, 16<<10)
		stack := string(buf[:runtime.Stack(buf, false)])
		c.mu.Lock()
		switch {
		case strings.Contains(stack, "(*writer).flushAll"):
			c.flusher++
		case strings.Contains(stack, "writePartsLocked"):
			c.caller++
		}
		c.mu.Unlock()
	}
	return c.Conn.Write(p)
}

// counts returns the counts so far and starts new ones.
func (c *stackConn) counts() (flusher, caller int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	flusher, caller = c.flusher, c.caller
	c.flusher, c.caller = 0, 0
	return flusher, caller
}

// TestLargeWriteInline: a request or reply too large to be framed at once
// (it goes through the round-robin) is written by the goroutine that makes
// it when nobody else writes, as a small one is, not handed to a flusher
// goroutine that must start, write and wake the caller. Fixed connection
// windows far above what the calls carry keep the reader goroutines from
// queueing anything (a BDP PING, a connection WINDOW_UPDATE) whose flusher
// could hold the right to write when a large write comes.
func TestLargeWriteInline(t *testing.T) {
	cn, sn := loopback(t)
	cs, ss := &stackConn{Conn: cn}, &stackConn{Conn: sn}
	const size = 100 << 10 // over fastWriteLimit, under maxTurn and the windows
	cfg := &conn.Config{ConnWindowSize: 4 << 20}
	var server *conn.Conn
	ready := make(chan struct{})
	server, err := conn.Server(ss, cfg, func(s *conn.Stream) {
		if _, err := io.Copy(io.Discard, s); err != nil {
			return
		}
		// A handler that ran beside the reader (the request was not
		// whole when the reader looked) may find the WINDOW_UPDATEs of
		// its last Read still being written by a flusher that Read handed
		// the right to: the reply would join that flusher's run, rightly.
		// Here the reply must find the writer idle.
		<-ready
		for conn.Writing(server) {
			runtime.Gosched()
		}
		s.WriteAll(status200, make([]byte, size), trailerOK)
	})
	close(ready)
	if err != nil {
		t.Fatal(err)
	}
	client, err := conn.Client(cs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	defer client.Close()
	// A PING each way settles the handshake (SETTINGS, their ACKs, the
	// connection windows' increments: each side's reader has seen all the
	// other sent before its PING ACK); then the flushers that wrote the
	// ACKs end.
	for _, c := range []*conn.Conn{client, server} {
		if err := c.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for conn.Writing(client) || conn.Writing(server) {
		runtime.Gosched()
	}
	const calls = 2
	for range calls {
		s, err := client.OpenStream(context.Background(), request("/big"), make([]byte, size), conn.EndStream)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadHeaders(); err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, s)
		if err != nil || n != size {
			t.Fatalf("read %d bytes (%v), want %d", n, err, size)
		}
	}
	for _, side := range []struct {
		name string
		c    *stackConn
	}{{"client", cs}, {"server", ss}} {
		flusher, caller := side.c.counts()
		if flusher != 0 || caller != calls {
			t.Errorf("%s: %d large writes by a flusher and %d by the caller, want 0 and %d", side.name, flusher, caller, calls)
		}
	}
}

// goroutinesCreated reads the runtime's count of goroutines created.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestRunOfLargeWritesInline: the later writes of a run (a stream of
// messages) go to a flusher so that the caller goes on producing while
// they are written, except those written from the caller's own buffer
// (Vectored writes): their caller waits for the write anyway, so it makes
// it itself rather than start a flusher per message and wait to be woken.
// Windows far above what the run carries keep the writes from waiting for
// credit, which would hand them to a flusher rightly.
func TestRunOfLargeWritesInline(t *testing.T) {
	runOfLargeWritesInline(t, false)
}

// behindConn is a net.Conn whose large writes say they return before they
// are written (as h2tls's connections' do): not a *net.TCPConn, so its
// batches are copied, not written with writev.
type behindConn struct{ net.Conn }

func (behindConn) WritesBehind() int { return 32 << 10 }

// TestRunOfLargeWritesInlineBehind: over a connection that writes large
// writes behind (TLS), a run's large writes are framed and written (over
// TLS: sealed) by their caller too, not by a flusher goroutine each.
func TestRunOfLargeWritesInlineBehind(t *testing.T) {
	runOfLargeWritesInline(t, true)
}

func runOfLargeWritesInline(t *testing.T, behind bool) {
	const (
		msgs = 40
		size = 64 << 10
	)
	cfg := &conn.Config{InitialWindowSize: 16 << 20, ConnWindowSize: 16 << 20}
	got := make(chan int64, 1)
	h := func(s *conn.Stream) {
		n, _ := io.Copy(io.Discard, s)
		got <- n
		s.WriteAll(status200, nil, trailerOK)
	}
	var client *conn.Conn
	if behind {
		cn, sn := loopback(t)
		server, err := conn.Server(sn, cfg, h)
		if err != nil {
			t.Fatal(err)
		}
		client, err = conn.Client(behindConn{cn}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			client.Close()
			server.Close()
		})
	} else {
		client, _ = pair(t, cfg, cfg, h)
	}
	for range 2 {
		if err := client.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	s, err := client.OpenStream(context.Background(), request("/run"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	prefix, msg := []byte{0, 0, 1, 0, 0}, make([]byte, size)
	if err := s.WriteData(prefix, msg, false); err != nil { // the first of the run, inline anyway
		t.Fatal(err)
	}
	before := goroutinesCreated()
	for range msgs - 1 {
		if err := s.WriteData(prefix, msg, false); err != nil {
			t.Fatal(err)
		}
	}
	started := goroutinesCreated() - before
	if err := s.WriteData(nil, nil, true); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != msgs*(size+5) {
		t.Fatalf("the handler read %d bytes, want %d", n, msgs*(size+5))
	}
	// A few goroutines may start for other reasons (a stream WINDOW_UPDATE
	// handed to a flusher); one per message would be msgs-1.
	if started > msgs/4 {
		t.Fatalf("%d goroutines started during a run of %d large writes, want few", started, msgs-1)
	}
	t.Logf("%d goroutines started during a run of %d large writes", started, msgs-1)
}

// settle waits until the handshake's frames are written and read on both
// sides (a PING each way) and neither side writes.
func settle(t *testing.T, conns ...*conn.Conn) {
	t.Helper()
	for _, c := range conns {
		if err := c.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range conns {
		for conn.Writing(c) {
			runtime.Gosched()
		}
	}
}

// TestLargeReplyOneWrite: a reply whose data goes through the round-robin
// (over fastWriteLimit) goes out with its headers and its trailers in one
// write: the writer frames the trailers right behind the data, rather
// than the handler queueing them, once woken, for a write of their own.
func TestLargeReplyOneWrite(t *testing.T) {
	cn, sn := loopback(t)
	var cw, cr, sw, sr atomic.Int64
	const size = 100 << 10 // over fastWriteLimit, under maxTurn and the windows
	cfg := &conn.Config{ConnWindowSize: 4 << 20}
	var server *conn.Conn
	ready := make(chan struct{})
	replyWrites := make(chan int64, 1)
	server, err := conn.Server(countingConn{sn, &sw, &sr}, cfg, func(s *conn.Stream) {
		if _, err := io.Copy(io.Discard, s); err != nil {
			return
		}
		<-ready
		for conn.Writing(server) { // the WINDOW_UPDATEs of its reads
			runtime.Gosched()
		}
		before := sw.Load()
		err := s.WriteAll(status200, make([]byte, size), trailerOK)
		if err != nil {
			t.Error(err)
		}
		replyWrites <- sw.Load() - before
	})
	close(ready)
	if err != nil {
		t.Fatal(err)
	}
	client, err := conn.Client(countingConn{cn, &cw, &cr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	defer client.Close()
	settle(t, client, server)
	s, err := client.OpenStream(context.Background(), request("/big"), []byte("request"), conn.EndStream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadHeaders(); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, s)
	if err != nil || n != size {
		t.Fatalf("read %d bytes (%v), want %d", n, err, size)
	}
	if tr := s.Trailers(); len(tr) != 1 || tr[0] != trailerOK[0] {
		t.Fatalf("trailers %v, want %v", tr, trailerOK)
	}
	if w := <-replyWrites; w != 1 {
		t.Errorf("the reply took %d writes, want 1", w)
	}
}

// TestConnCreditRidesWithReply: connection credit returned on arrival goes
// out with the next batch while the peer has more than half the window
// left, not in a write of its own (nothing is written while the handler
// has not replied; the credit comes with the reply), and at once when the
// peer would be left with half or less.
func TestConnCreditRidesWithReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reply := make(chan struct{})
		h := func(s *conn.Stream) {
			if _, err := io.Copy(io.Discard, s); err != nil {
				return
			}
			<-reply
			s.WriteAll(status200, []byte("ok"), trailerOK)
		}
		// A fixed window (a measured one would time the DATA with a PING
		// and return credit at once while it does); each request takes
		// more than a quarter of it.
		const window, size = 100000, 30000
		_, p := startServer(t, &conn.Config{ConnWindowSize: window}, h)
		p.WriteHeaders(1, false, request("/")...)
		p.WriteData(1, false, make([]byte, 16384))
		p.WriteData(1, true, make([]byte, size-16384))
		p.WantIdle("credit held back: the peer has 70000 of 100000 left")
		reply <- struct{}{}
		p.WantFrame("the credit, with the reply", &frame.WindowUpdateFrame{Header: frame.Header{Type: frame.TypeWindowUpdate, Length: 4}, Increment: size})
		p.WantHeaders("reply", 1, false, status200)
		p.WantData("reply", 1, false, []byte("ok"))
		p.WantHeaders("trailers", 1, true, trailerOK)
		// Two requests before any reply: the second leaves the peer
		// 40000, under half, and the credit of both goes at once.
		for _, id := range []uint32{3, 5} {
			p.WriteHeaders(id, false, request("/")...)
			p.WriteData(id, false, make([]byte, 16384))
			p.WriteData(id, true, make([]byte, size-16384))
			if id == 3 {
				p.WantIdle("credit held back again")
			}
		}
		p.WantFrame("the first request's credit", &frame.WindowUpdateFrame{Header: frame.Header{Type: frame.TypeWindowUpdate, Length: 4}, Increment: size})
		p.WantFrame("the second request's credit", &frame.WindowUpdateFrame{Header: frame.Header{Type: frame.TypeWindowUpdate, Length: 4}, Increment: size})
		close(reply)
		for range 2 {
			p.Drain()
		}
	})
}
