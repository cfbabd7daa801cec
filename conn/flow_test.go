package conn_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/internal/h2test"
)

// wantDataBytes reads DATA frames on stream id until n bytes arrived,
// failing on anything else.
func wantDataBytes(t *testing.T, p interface{ ReadFrame() frame.Frame }, id uint32, n int) {
	t.Helper()
	got := 0
	for got < n {
		switch f := p.ReadFrame().(type) {
		case *frame.DataFrame:
			if f.StreamID != id {
				t.Fatalf("DATA on stream %d, want %d", f.StreamID, id)
			}
			got += len(f.Data)
		default:
			t.Fatalf("got %v, want DATA (%d of %d bytes so far)", f.FrameHeader().Type, got, n)
		}
	}
	if got != n {
		t.Fatalf("got %d bytes of DATA, want exactly %d", got, n)
	}
}

// The writer stops at the peer's windows and goes on as credit arrives.
func TestWriterStopsAtWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil) // the peer keeps the default 65535 windows
		s, _ := c.OpenStream(context.Background(), request("/"), nil, 0)
		done := make(chan error, 1)
		go func() { done <- s.WriteData(nil, make([]byte, 200000), true) }()
		p.WantHeaders("request", 1, false, request("/"))
		// One stream window (= the connection window) of 65535 bytes.
		wantDataBytes(t, p, 1, 65535)
		p.WantIdle("writer stopped at the window")
		// Stream credit alone is not enough: the connection window is
		// empty too.
		p.WriteRaw(frame.AppendWindowUpdate(nil, 1, 10000))
		p.WantIdle("blocked by the connection window")
		p.WriteRaw(frame.AppendWindowUpdate(nil, 0, 30000))
		wantDataBytes(t, p, 1, 10000)
		p.WantIdle("blocked by the stream window")
		// SETTINGS_INITIAL_WINDOW_SIZE changes adjust open streams'
		// windows (§6.9.2): +5000 on the stream.
		p.WriteSettings(frame.Setting{ID: frame.SettingInitialWindowSize, Val: 65535 + 5000})
		p.WantType("SETTINGS ACK", frame.TypeSettings)
		wantDataBytes(t, p, 1, 5000)
		p.WantIdle("stream window used up again")
		// A shrink makes the window negative: -20000, so 30000 of credit
		// leave 10000 to send.
		p.WriteSettings(frame.Setting{ID: frame.SettingInitialWindowSize, Val: 65535 + 5000 - 20000})
		p.WantType("SETTINGS ACK", frame.TypeSettings)
		p.WriteRaw(frame.AppendWindowUpdate(nil, 1, 30000))
		wantDataBytes(t, p, 1, 10000)
		p.WantIdle("negative window paid off first")
		select {
		case err := <-done:
			t.Fatalf("WriteData returned %v with data unsent", err)
		default:
		}
		p.WriteRaw(frame.AppendWindowUpdate(nil, 1, 1<<20))
		p.WriteRaw(frame.AppendWindowUpdate(nil, 0, 1<<20))
		wantDataBytes(t, p, 1, 200000-65535-10000-5000-10000)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestWindowOverflow(t *testing.T) {
	t.Run("stream", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c, p := startClient(t, nil)
			c.OpenStream(context.Background(), request("/"), nil, 0)
			p.WantHeaders("request", 1, false, request("/"))
			p.WriteRaw(frame.AppendWindowUpdate(nil, 1, frame.MaxWindowSize))
			// §6.9.1: a stream error FLOW_CONTROL_ERROR.
			p.WantRST("stream window past 2^31-1", 1, frame.ErrCodeFlowControl)
		})
	})
	t.Run("settings", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c, p := startClient(t, nil)
			c.OpenStream(context.Background(), request("/"), nil, 0)
			p.WantHeaders("request", 1, false, request("/"))
			p.WriteRaw(frame.AppendWindowUpdate(nil, 1, frame.MaxWindowSize-65535))
			p.WriteSettings(frame.Setting{ID: frame.SettingInitialWindowSize, Val: 70000})
			// §6.9.2: a connection error FLOW_CONTROL_ERROR.
			wantConnError(t, c, p, frame.ErrCodeFlowControl)
		})
	})
}

func TestPeerExceedsWindows(t *testing.T) {
	t.Run("stream", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			_, p := startServer(t, &conn.Config{InitialWindowSize: 1000}, func(s *conn.Stream) { <-s.Context().Done() })
			p.WriteHeaders(1, false, request("/")...)
			p.WriteData(1, false, make([]byte, 1001))
			p.WantRST("stream window exceeded", 1, frame.ErrCodeFlowControl)
		})
	})
	t.Run("connection", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// MaxBufferedData at the window: no credit comes back while
			// nobody reads, so the peer's fifth frame is past the window.
			c, p := startServer(t, &conn.Config{ConnWindowSize: 65535, MaxBufferedData: 65535}, func(s *conn.Stream) { <-s.Context().Done() })
			for id := uint32(1); id <= 9; id += 2 {
				p.WriteHeaders(id, false, request("/")...)
				p.TryWriteRaw(frame.AppendData(nil, id, false, make([]byte, 16000)))
			}
			wantConnError(t, c, p, frame.ErrCodeFlowControl)
		})
	})
}

// A client may send DATA as soon as its preface is out, before it has our
// SETTINGS: up to the default 65535 bytes a stream (RFC 9113 §6.9.2, whose
// example has the client "recalculate the available flow-control window to
// be -44 KB on receipt of the SETTINGS frame"). A smaller
// SETTINGS_INITIAL_WINDOW_SIZE of ours holds from its ACK on, not before:
// h2load, which sends its request bodies at once, had streams reset with
// FLOW_CONTROL_ERROR by a server with a 100-byte stream window.
func TestSmallerWindowHoldsFromTheAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nc, p := h2test.NewPipe(t)
		got := make(chan int, 2)
		c, err := conn.Server(nc, &conn.Config{InitialWindowSize: 100}, func(s *conn.Stream) {
			b, err := io.ReadAll(s)
			if s.ID() != 1 {
				return // stream 3 is reset
			}
			if err != nil {
				t.Errorf("stream 1: %v", err)
			}
			got <- len(b)
			s.WriteAll(nil, nil, status200)
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		// Preface, SETTINGS and a request with 60000 bytes of body, all
		// before the server's SETTINGS is read.
		p.WritePreface()
		p.WriteSettings()
		p.WriteHeaders(1, false, request("/")...)
		for range 3 {
			p.WriteData(1, false, make([]byte, 16000))
		}
		p.WriteData(1, true, make([]byte, 12000))
		if n := <-got; n != 60000 {
			t.Fatalf("the handler read %d bytes, want 60000", n)
		}
		// Now the handshake ends; the window is 100 bytes from the ACK on.
		for acked, answered := false, false; !acked || !answered; {
			switch f := p.ReadFrame().(type) {
			case *frame.SettingsFrame:
				if f.IsAck() {
					acked = true
				} else {
					p.WriteSettingsAck()
				}
			case *frame.HeadersFrame:
				answered = true
			case *frame.WindowUpdateFrame:
			default:
				t.Fatalf("got %v %+v; want SETTINGS, WINDOW_UPDATE and the response", f.FrameHeader().Type, f)
			}
		}
		synctest.Wait()
		p.WriteHeaders(3, false, request("/")...)
		p.WriteData(3, false, make([]byte, 101))
		p.WantRST("past the 100-byte window after the ACK", 3, frame.ErrCodeFlowControl)
	})
}

// A reader that stops reading stops the writer after one window per stream
// and MaxBufferedData per connection; the writer resumes as the reader
// drains. Both ends are ours, over an in-memory pipe. The assertions are on
// byte counts.
func TestSlowReaderEndToEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const streamWindow, connWindow, maxBuffered, chunk, total = 100000, 150000, 180000, 10000, 300000
		// read[i] tells the handler of stream i how many bytes to read next;
		// closing it lets it drain to the end.
		read := [2]chan int{make(chan int), make(chan int)}
		_, client := pipePair(t, &conn.Config{InitialWindowSize: streamWindow, ConnWindowSize: connWindow, MaxBufferedData: maxBuffered}, func(s *conn.Stream) {
			i := 0
			if s.RequestHeaders()[3].Value == "/1" {
				i = 1
			}
			s.WriteAll(status200, nil, nil)
			buf := make([]byte, total)
			for n := range read[i] {
				if _, err := io.ReadFull(s, buf[:n]); err != nil {
					t.Error(err)
					return
				}
			}
			io.Copy(io.Discard, s)
			s.WriteAll(nil, nil, trailerOK)
		})
		var sent [2]atomic.Int64
		writeErr := make(chan error, 2)
		for i := range 2 {
			s, err := client.OpenStream(context.Background(), request([]string{"/0", "/1"}[i]), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				for range total / chunk {
					if err := s.WriteData(nil, make([]byte, chunk), false); err != nil {
						writeErr <- err
						return
					}
					sent[i].Add(chunk)
				}
				writeErr <- s.WriteData(nil, nil, true)
			}()
		}
		synctest.Wait()
		// Nobody reads: each stream stops within its window, both together
		// within MaxBufferedData (30000 bytes credited on arrival, then
		// the connection window). Write returns once a whole call is
		// handed over, so each writer may be up to one call short, and
		// WINDOW_UPDATEs are batched by a quarter of the window.
		a, b := sent[0].Load(), sent[1].Load()
		if a > streamWindow || b > streamWindow || a+b > maxBuffered || a+b < maxBuffered-connWindow/4-2*chunk {
			t.Fatalf("wrote %d and %d bytes; stream windows %d, MaxBufferedData %d", a, b, streamWindow, maxBuffered)
		}
		// The first handler reads 60000 bytes: its stream and the
		// connection get credit back and the writers go on, again up to
		// the windows.
		read[0] <- 60000
		synctest.Wait()
		a2, b2 := sent[0].Load(), sent[1].Load()
		if a2+b2 <= a+b {
			t.Fatalf("no progress after the reader drained 60000 bytes: %d then %d", a+b, a2+b2)
		}
		if a2 > streamWindow+60000 || b2 > streamWindow || a2+b2 > maxBuffered+60000 {
			t.Fatalf("wrote %d and %d bytes after 60000 were read: over the windows", a2, b2)
		}
		// Drain both: everything arrives.
		close(read[0])
		close(read[1])
		for range 2 {
			if err := <-writeErr; err != nil {
				t.Fatal(err)
			}
		}
		if sent[0].Load() != total || sent[1].Load() != total {
			t.Fatalf("wrote %d and %d bytes, want %d each", sent[0].Load(), sent[1].Load(), total)
		}
	})
}

// pipePair connects our client and server over an in-memory pipe.
func pipePair(t *testing.T, serverCfg *conn.Config, h conn.Handler) (server, client *conn.Conn) {
	t.Helper()
	a, b := net.Pipe()
	server, err := conn.Server(b, serverCfg, h)
	if err != nil {
		t.Fatal(err)
	}
	client, err = conn.Client(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return server, client
}

// Streams with data waiting are served round-robin, up to maxTurn (128
// KiB) each per turn: a large write does not hold back a small one that
// comes later by more than a turn, and the small one, under a turn, goes
// out in one piece.
func TestFairScheduling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil, frame.Setting{ID: frame.SettingInitialWindowSize, Val: 1 << 20})
		p.WriteRaw(frame.AppendWindowUpdate(nil, 0, 1<<20))
		synctest.Wait()
		ctx := context.Background()
		big, _ := c.OpenStream(ctx, request("/big"), nil, 0)
		small, _ := c.OpenStream(ctx, request("/small"), nil, 0)
		p.WantHeaders("big request", 1, false, request("/big"))
		p.WantHeaders("small request", 3, false, request("/small"))
		// The peer stops reading: the writer blocks in the middle of the
		// big stream's first batch.
		p.StopReading()
		go big.WriteData(nil, make([]byte, 400000), true)
		synctest.Wait()
		go small.WriteData(nil, make([]byte, 20000), true)
		synctest.Wait()
		p.ResumeReading()
		runs := readRuns(t, p, map[uint32]int{1: 400000, 3: 20000})
		t.Logf("runs (stream: bytes): %v", runs)
		// The batch in flight (one turn of the big stream, a second if
		// the small one was not there yet) goes first, then the small
		// stream's turn: all of it in one run, before the big one ends.
		if len(runs) < 3 || runs[1].id != 3 || runs[1].n != 20000 {
			t.Fatalf("the small write did not go out in one run after the big stream's first batch: %v", runs)
		}
		if runs[0].n > 2*conn.MaxTurn {
			t.Errorf("the big stream sent %d bytes before the small one, want at most %d", runs[0].n, 2*conn.MaxTurn)
		}
	})
}

// Two large writes share the connection a turn at a time: neither runs
// more than maxTurn bytes ahead of the other (the first batch aside, and
// the last run, once the other is done), so neither starves.
func TestFairSchedulingLargeWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil, frame.Setting{ID: frame.SettingInitialWindowSize, Val: 1 << 20})
		p.WriteRaw(frame.AppendWindowUpdate(nil, 0, 4<<20))
		synctest.Wait()
		ctx := context.Background()
		a, _ := c.OpenStream(ctx, request("/a"), nil, 0)
		b, _ := c.OpenStream(ctx, request("/b"), nil, 0)
		p.WantHeaders("a's request", 1, false, request("/a"))
		p.WantHeaders("b's request", 3, false, request("/b"))
		p.StopReading()
		const size = 600000
		go a.WriteData(nil, make([]byte, size), true)
		synctest.Wait()
		go b.WriteData(nil, make([]byte, size), true)
		synctest.Wait()
		p.ResumeReading()
		runs := readRuns(t, p, map[uint32]int{1: size, 3: size})
		t.Logf("runs (stream: bytes): %v", runs)
		if len(runs) < 6 {
			t.Fatalf("two %d-byte writes went out in %d runs, want them to alternate: %v", size, len(runs), runs)
		}
		for i, r := range runs[:len(runs)-1] { // the last runs alone
			limit := conn.MaxTurn
			if i == 0 {
				limit = 2 * conn.MaxTurn // the batch in flight when b came
			}
			if r.n > limit {
				t.Errorf("run %d: stream %d sent %d bytes in a row, want at most %d", i, r.id, r.n, limit)
			}
		}
	})
}

// run is a stretch of consecutive DATA bytes of one stream.
type run struct {
	id uint32
	n  int
}

func (r run) String() string { return fmt.Sprintf("%d: %d", r.id, r.n) }

// readRuns reads DATA frames until each stream of want has sent its bytes
// and returns them as runs.
func readRuns(t *testing.T, p *h2test.Peer, want map[uint32]int) []run {
	t.Helper()
	var runs []run
	left := 0
	for _, n := range want {
		left += n
	}
	for left > 0 {
		d := p.WantType("DATA", frame.TypeData).(*frame.DataFrame)
		if _, ok := want[d.StreamID]; !ok {
			t.Fatalf("DATA on stream %d, want only %v", d.StreamID, want)
		}
		left -= len(d.Data)
		if k := len(runs); k > 0 && runs[k-1].id == d.StreamID {
			runs[k-1].n += len(d.Data)
		} else {
			runs = append(runs, run{d.StreamID, len(d.Data)})
		}
	}
	return runs
}
