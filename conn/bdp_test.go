package conn_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
)

// delayedConn delivers what is written to it d later, as a link with a
// one-way delay d and no bandwidth limit (in a synctest bubble, where work
// takes no time): a window W then carries exactly W per round trip.
type delayedConn struct {
	net.Conn
	d    time.Duration
	q    chan delayedWrite
	done chan struct{}
	once sync.Once
	fwd  sync.WaitGroup
}

type delayedWrite struct {
	due time.Time
	b   []byte
}

func newDelayedConn(nc net.Conn, d time.Duration) *delayedConn {
	dc := &delayedConn{Conn: nc, d: d, q: make(chan delayedWrite, 1<<12), done: make(chan struct{})}
	dc.fwd.Add(1)
	go dc.forward()
	return dc
}

func (dc *delayedConn) Write(p []byte) (int, error) {
	select {
	case dc.q <- delayedWrite{time.Now().Add(dc.d), bytes.Clone(p)}:
		return len(p), nil
	case <-dc.done:
		return 0, net.ErrClosed
	}
}

// forward writes each queued write to the link once it is due; it ends
// with Close or a failed write.
func (dc *delayedConn) forward() {
	defer dc.fwd.Done()
	for {
		select {
		case w := <-dc.q:
			time.Sleep(time.Until(w.due))
			if _, err := dc.Conn.Write(w.b); err != nil {
				return
			}
		case <-dc.done:
			return
		}
	}
}

func (dc *delayedConn) Close() error {
	dc.once.Do(func() { close(dc.done) })
	err := dc.Conn.Close()
	dc.fwd.Wait()
	return err
}

// download runs streams calls at once over a link with a 25 ms one-way
// delay, each receiving size bytes from the server, and returns how long
// they took (fake time) and the client's connection window at the end.
func download(t *testing.T, cfg *conn.Config, streams, size int) (time.Duration, int64) {
	a, b := net.Pipe()
	const delay = 25 * time.Millisecond
	sc, cc := newDelayedConn(a, delay), newDelayedConn(b, delay)
	body := make([]byte, 64<<10)
	srv, err := conn.Server(sc, cfg, func(s *conn.Stream) {
		if _, err := io.Copy(io.Discard, s); err != nil {
			return
		}
		if err := s.WriteAll(status200, nil, nil); err != nil {
			return
		}
		for sent := 0; sent < size; sent += len(body) {
			if err := s.WriteData(nil, body, false); err != nil {
				return
			}
		}
		s.WriteAll(nil, nil, trailerOK)
	})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := conn.Client(cc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := cli.Ping(ctx); err != nil { // settle SETTINGS first
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := cli.OpenStream(ctx, request("/"), nil, conn.EndStream)
			if err != nil {
				errs <- err
				return
			}
			n, err := io.Copy(io.Discard, st)
			if err == nil && n != int64(size) {
				err = io.ErrUnexpectedEOF
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	window := conn.RecvWindowSize(cli)
	cli.Close()
	srv.Close()
	<-cli.Done()
	<-srv.Done()
	sc.Close()
	cc.Close()
	return elapsed, window
}

// On a link whose round trip the connection window limits, the measured
// window grows (at least doubles, within the cap) and the transfer takes fewer round trips
// than with the window held at its start.
func TestBDPGrowsOnDelayedLink(t *testing.T) {
	const streams, size = 4, 4 << 20
	var fixedTime, grownTime time.Duration
	var fixedWin, grownWin int64
	synctest.Test(t, func(t *testing.T) {
		fixedTime, fixedWin = download(t, &conn.Config{ConnWindowSize: conn.BDPStartWindow}, streams, size)
	})
	synctest.Test(t, func(t *testing.T) {
		grownTime, grownWin = download(t, nil, streams, size)
	})
	t.Logf("fixed %d-byte window: %v; measured window, grown to %d: %v", fixedWin, fixedTime, grownWin, grownTime)
	if fixedWin != conn.BDPStartWindow {
		t.Errorf("fixed window ended at %d, want %d", fixedWin, conn.BDPStartWindow)
	}
	if grownWin < 2*conn.BDPStartWindow || grownWin > conn.DefaultConnWindowSize {
		t.Errorf("measured window ended at %d, want %d..%d", grownWin, 2*conn.BDPStartWindow, conn.DefaultConnWindowSize)
	}
	// 16 MiB at 256 KiB per 50 ms round trip is at least 64 round trips;
	// four 256 KiB stream windows per round trip need 16. The measured
	// window usually reaches its 1 MiB cap in the first samples and takes
	// about a third of the fixed window's time; but what a sample counts
	// depends on the order in which the goroutines run at one instant of
	// the fake clock (whole 64 KiB frames arrive at once), and under heavy
	// load a sample that counted little held the growth back: once, 786 KB
	// and 2.1 s against 3.25 s. Three quarters still fails a window that
	// does not grow, or grows too late to matter.
	if grownTime*4 > fixedTime*3 {
		t.Errorf("measured window took %v, fixed %v: want under three quarters", grownTime, fixedTime)
	}
}

// A peer that never acknowledges the measuring PING stops the growth and
// nothing else: one PING goes out, DATA keeps flowing within the window.
func TestBDPPeerNeverAcks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startServer(t, nil, func(s *conn.Stream) { io.Copy(io.Discard, s) })
		p.WriteHeaders(1, false, request("/")...)
		pings := 0
		for range 64 {
			p.WriteData(1, false, make([]byte, 16384))
			synctest.Wait()
			for _, f := range p.Drain() {
				if f, ok := f.(*frame.PingFrame); ok && !f.IsAck() {
					pings++
				}
			}
		}
		if pings != 1 {
			t.Errorf("%d PINGs for 1 MiB of DATA, want 1 (one sample at a time)", pings)
		}
		if w := conn.RecvWindowSize(c); w != conn.BDPStartWindow {
			t.Errorf("window %d, want %d", w, conn.BDPStartWindow)
		}
	})
}

// With a fixed ConnWindowSize no PING measures anything.
func TestBDPFixedWindowSendsNoPing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, p := startServer(t, &conn.Config{ConnWindowSize: 1 << 20}, func(s *conn.Stream) { io.Copy(io.Discard, s) })
		p.WriteHeaders(1, false, request("/")...)
		for range 64 {
			p.WriteData(1, false, make([]byte, 16384))
			synctest.Wait()
			for _, f := range p.Drain() {
				if f, ok := f.(*frame.PingFrame); ok {
					t.Fatalf("got %+v with a fixed window", f)
				}
			}
		}
	})
}

// A client measuring the bandwidth-delay product sends a PING per round
// trip of DATA: a server enforcing a MinPingInterval forgives a PING that
// follows DATA it sent, and still strikes PINGs that follow none.
func TestPingAfterOurDataIsNoStrike(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startServer(t, &conn.Config{MinPingInterval: time.Minute}, echo)
		p.WriteHeaders(1, false, request("/")...)
		p.WantHeaders("response headers", 1, false, status200)
		for i := range 8 {
			p.WriteData(1, false, []byte("x"))
			p.WantData("echo", 1, false, []byte("x"))
			p.WriteRaw(frame.AppendPing(nil, false, [8]byte{byte(i)}))
			synctest.Wait()
			for _, f := range p.Drain() {
				if f, ok := f.(*frame.GoAwayFrame); ok {
					t.Fatalf("PING %d after our DATA: %+v", i, f)
				}
			}
		}
		for i := range 3 {
			p.WriteRaw(frame.AppendPing(nil, false, [8]byte{9, byte(i)}))
		}
		wantConnError(t, c, p, frame.ErrCodeEnhanceYourCalm)
	})
}
