package conn_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/internal/h2test"
)

// readResult is what a ReadFull run on its own goroutine returned.
type readResult struct {
	n   int
	err error
}

// startReadFull runs s.ReadFull(p) on a goroutine.
func startReadFull(s *conn.Stream, p []byte) <-chan readResult {
	done := make(chan readResult, 1)
	go func() {
		n, err := s.ReadFull(p)
		done <- readResult{n, err}
	}()
	return done
}

// wantWaiting fails if ReadFull returned.
func wantWaiting(t *testing.T, done <-chan readResult, what string) {
	t.Helper()
	synctest.Wait()
	select {
	case r := <-done:
		t.Fatalf("ReadFull returned (%d, %v) %s", r.n, r.err, what)
	default:
	}
}

// openAnswered opens stream 1 on c under ctx and plays the peer's response
// headers.
func openAnswered(t *testing.T, c *conn.Conn, p *h2test.Peer, ctx context.Context) *conn.Stream {
	t.Helper()
	s, err := c.OpenStream(ctx, request("/"), nil, conn.EndStream)
	if err != nil {
		t.Fatal(err)
	}
	p.WantType("request HEADERS", frame.TypeHeaders)
	// The headers come while ReadHeaders waits, so the background reader
	// hands them over and parks: the stream's next wait leads.
	got := make(chan error, 1)
	go func() {
		_, err := s.ReadHeaders()
		got <- err
	}()
	synctest.Wait()
	p.WriteHeaders(s.ID(), false, status200...)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	return s
}

// paddedData is a DATA frame carrying data with pad octets of padding.
func paddedData(id uint32, end bool, data []byte, pad uint8) []byte {
	flags := frame.FlagPadded
	if end {
		flags |= frame.FlagEndStream
	}
	df := &frame.DataFrame{Header: frame.Header{Type: frame.TypeData, Flags: flags, StreamID: id}, Data: data, PadLen: pad}
	return df.AppendTo(nil)
}

// streamCredit sums the WINDOW_UPDATE increments for stream id among
// frames.
func streamCredit(frames []frame.Frame, id uint32) (n int) {
	for _, f := range frames {
		if wu, ok := f.(*frame.WindowUpdateFrame); ok && wu.StreamID == id {
			n += int(wu.Increment)
		}
	}
	return n
}

// A ReadFull that waits gets the DATA straight into its buffer, across
// frames (padded ones among them), and returns once the buffer is full,
// not at the first frame; what arrives beyond it is buffered for the next
// read, in order, and the credit of every byte, padding included, comes
// back.
func TestReadFullDirect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		s := openAnswered(t, c, p, context.Background())
		body := pattern(40000)
		got := make([]byte, 30000)
		done := startReadFull(s, got)
		wantWaiting(t, done, "before any DATA")

		p.WriteData(1, false, body[:10000])
		wantWaiting(t, done, "with 10000 of 30000 bytes")
		if n := conn.StreamBuffered(s); n != 0 {
			t.Fatalf("%d bytes went through the stream's buffer, want 0: they belong to the waiting ReadFull", n)
		}
		p.WriteRaw(paddedData(1, false, body[10000:20000], 200))
		wantWaiting(t, done, "with 20000 of 30000 bytes")
		p.WriteData(1, false, body[20000:30000])
		p.WriteData(1, true, body[30000:])
		if r := <-done; r.n != len(got) || r.err != nil {
			t.Fatalf("ReadFull = (%d, %v), want (%d, nil)", r.n, r.err, len(got))
		}
		if !bytes.Equal(got, body[:30000]) {
			t.Fatal("ReadFull's bytes differ from those sent")
		}
		rest, err := io.ReadAll(s)
		if err != nil || !bytes.Equal(rest, body[30000:]) {
			t.Fatalf("the rest: %d bytes, %v; want the last 10000 in order", len(rest), err)
		}
		wantBuffered(t, c, 0)
		// The stream ended: no WINDOW_UPDATE for it is owed. The padding's
		// credit (201 octets) went back on arrival if any did.
		synctest.Wait()
		if n := streamCredit(p.Drain(), 1); n > 40000+201 {
			t.Fatalf("stream credit returned: %d, more than the %d octets received", n, 40000+201)
		}
	})
}

// A message larger than a window: the credit of the bytes a ReadFull has
// (copied straight into its buffer, or buffered before it began) goes back
// while it still waits, or the peer could never fill it. Either window may
// be the smaller: the stream's, or the connection's when its credit comes
// back only as the application reads (MaxBufferedData at its floor).
func TestReadFullLargerThanWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  *conn.Config
		late bool // a stream window's worth arrives before ReadFull starts
	}{
		{"stream window", nil, false},
		{"stream window, buffered first", nil, true},
		{"connection window", &conn.Config{InitialWindowSize: 1 << 20, ConnWindowSize: 100000, MaxBufferedData: 1}, false},
		{"connection window, buffered first", &conn.Config{InitialWindowSize: 1 << 20, ConnWindowSize: 100000, MaxBufferedData: 1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nc, p := h2test.NewClientPipe(t)
				c, err := conn.Client(nc, tc.cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				settings, connInc := p.ServerHandshake()
				streamWin, _ := settings.Value(frame.SettingInitialWindowSize)
				s := openAnswered(t, c, p, context.Background())
				const size = 3*conn.DefaultInitialWindowSize + 12345
				body := pattern(size)
				got := make([]byte, size)
				var done <-chan readResult
				sw, cw := int(streamWin), 65535+int(connInc)
				sent, updates := 0, 0
				for sent < size {
					if done == nil && (!tc.late || sw == 0 || cw == 0) {
						synctest.Wait()
						done = startReadFull(s, got)
					}
					if sw == 0 || cw == 0 {
						wantWaiting(t, done, "with a window spent")
						switch wu := p.ReadFrame().(type) {
						case *frame.WindowUpdateFrame:
							if wu.StreamID == 0 {
								cw += int(wu.Increment)
							} else {
								sw += int(wu.Increment)
							}
							updates++
						case *frame.PingFrame: // a bandwidth sample: answer it
							p.WriteRaw(frame.AppendPing(nil, true, wu.Data))
						default:
							t.Fatalf("got %v while waiting for credit", wu.FrameHeader().Type)
						}
						continue
					}
					n := min(size-sent, sw, cw, frame.DefaultMaxFrameSize)
					p.WriteData(1, sent+n == size, body[sent:sent+n])
					sent += n
					sw -= n
					cw -= n
				}
				if r := <-done; r.n != size || r.err != nil {
					t.Fatalf("ReadFull = (%d, %v), want (%d, nil)", r.n, r.err, size)
				}
				if !bytes.Equal(got, body) {
					t.Fatal("ReadFull's bytes differ from those sent")
				}
				if updates == 0 {
					t.Fatal("no WINDOW_UPDATE while ReadFull waited")
				}
				wantBuffered(t, c, 0)
			})
		})
	}
}

// A stream that ends, is reset, or whose context ends while a ReadFull
// waits part filled: ReadFull returns what it got and why it stopped, the
// credit accounting is whole, and the connection goes on.
func TestReadFullInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(p *h2test.Peer, cancel context.CancelFunc)
		want func(error) bool
	}{
		{"end", func(p *h2test.Peer, _ context.CancelFunc) { p.WriteData(1, true, nil) },
			func(err error) bool { return err == io.ErrUnexpectedEOF }},
		{"trailers", func(p *h2test.Peer, _ context.CancelFunc) { p.WriteHeaders(1, true, trailerOK...) },
			func(err error) bool { return err == io.ErrUnexpectedEOF }},
		{"reset", func(p *h2test.Peer, _ context.CancelFunc) {
			p.WriteRaw(frame.AppendRSTStream(nil, 1, frame.ErrCodeInternal))
		}, func(err error) bool {
			var re *conn.ResetError
			return errors.As(err, &re) && re.Remote && re.Code == frame.ErrCodeInternal
		}},
		{"cancel", func(_ *h2test.Peer, cancel context.CancelFunc) { cancel() }, func(err error) bool {
			var re *conn.ResetError
			return errors.As(err, &re) && !re.Remote && re.Code == frame.ErrCodeCancel
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, p := startClient(t, nil)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				s := openAnswered(t, c, p, ctx)
				got := make([]byte, 50000)
				done := startReadFull(s, got)
				p.WriteData(1, false, pattern(20000)[:10000])
				p.WriteData(1, false, pattern(20000)[10000:])
				wantWaiting(t, done, "part filled")
				tc.stop(p, cancel)
				r := <-done
				if r.n != 20000 || !tc.want(r.err) {
					t.Fatalf("ReadFull = (%d, %v)", r.n, r.err)
				}
				if !bytes.Equal(got[:r.n], pattern(20000)) {
					t.Fatal("ReadFull's bytes differ from those sent")
				}
				if n, err := s.ReadFull(got); n != 0 || err == nil || err == io.ErrUnexpectedEOF {
					t.Fatalf("ReadFull after the end = (%d, %v), want (0, io.EOF or the stream's error)", n, err)
				}
				synctest.Wait()
				wantBuffered(t, c, 0)
				// The connection goes on: a second stream reads a whole
				// body straight into its buffer.
				s3, err := c.OpenStream(context.Background(), request("/3"), nil, conn.EndStream)
				if err != nil {
					t.Fatal(err)
				}
				p.WriteHeaders(s3.ID(), false, status200...)
				p.WriteData(s3.ID(), true, pattern(1000))
				b := make([]byte, 1000)
				if n, err := s3.ReadFull(b); n != 1000 || err != nil || !bytes.Equal(b, pattern(1000)) {
					t.Fatalf("stream 3: ReadFull = (%d, %v)", n, err)
				}
				if n, err := s3.ReadFull(b); n != 0 || err != io.EOF {
					t.Fatalf("stream 3 at its end: ReadFull = (%d, %v), want (0, io.EOF)", n, err)
				}
				wantBuffered(t, c, 0)
			})
		})
	}
}

// A ReadFull whose goroutine holds the read role and is in the middle of a
// DATA frame's payload when its context ends: it returns at once, and the
// frame reader keeps the part read, so the connection stays in step when
// the rest comes.
func TestReadFullLeaderCancelledMidPayload(t *testing.T) {
	conn.SetLeadIdle(t, time.Minute)
	c, p := startClient(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s1, s3 := unwatchedOneAnswered(t, c, p, ctx)

	got := make([]byte, 10000)
	done := startReadFull(s1, got)
	waitLeading(t, c)
	df := frame.AppendData(nil, 1, false, pattern(10000))
	p.WriteRaw(df[:frame.HeaderLen+4000])
	cancel()
	r := <-done
	var re *conn.ResetError
	if r.n != 0 || !errors.As(r.err, &re) || re.Code != frame.ErrCodeCancel {
		t.Fatalf("ReadFull on the cancelled stream = (%d, %v), want (0, a *ResetError CANCEL)", r.n, r.err)
	}
	p.WantRST("stream 1 cancelled", 1, frame.ErrCodeCancel)

	// The rest of stream 1's frame, then stream 3's body: stream 3's
	// ReadFull leads and reads them in step.
	body3 := pattern(3000)
	got3 := make([]byte, len(body3))
	done3 := startReadFull(s3, got3)
	p.WriteRaw(append(df[frame.HeaderLen+4000:], frame.AppendData(nil, 3, true, body3)...))
	if r := <-done3; r.n != len(body3) || r.err != nil || !bytes.Equal(got3, body3) {
		t.Fatalf("stream 3: ReadFull = (%d, %v)", r.n, r.err)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("connection failed: %v", err)
	}
	waitFor(t, "the dropped frame's credit", func() bool {
		n, err := conn.BufferedData(c)
		return n == 0 && err == nil
	})
}

// A leader whose ReadFull is satisfied leaves the rest of the DATA frame
// that filled it, and the next DATA frame of its stream, in the frame
// reader for its next ReadFull, which gets them straight into its buffer,
// if they are large (small ones are applied: another
// lead per small frame costs more than the copy). If the goroutine does not
// come back, the background reader applies the frame within leadIdle:
// nothing waits behind it.
func TestReadFullLeavesNextFrameForCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, nil)
		s := openAnswered(t, c, p, context.Background())
		synctest.Wait()
		hdr := make([]byte, 5)
		done := startReadFull(s, hdr)
		synctest.Wait()
		if _, leading := conn.Leads(c); !leading {
			t.Fatal("the waiting ReadFull does not lead")
		}
		// A 5-byte "prefix" and 10000 bytes in one frame, 10000 more in
		// a second, written at once so the leader has both whole.
		const part = 10000
		body := pattern(5 + 2*part)
		twoFrames := func(end bool) []byte {
			return append(frame.AppendData(nil, 1, false, body[:5+part]), frame.AppendData(nil, 1, end, body[5+part:])...)
		}
		p.WriteRaw(twoFrames(false))
		if r := <-done; r.n != 5 || r.err != nil || !bytes.Equal(hdr, body[:5]) {
			t.Fatalf("ReadFull = (%d, %v)", r.n, r.err)
		}
		if n := conn.StreamBuffered(s); n != 0 {
			t.Fatalf("%d bytes buffered, want none: the rest of the first frame and the second wait for the next ReadFull", n)
		}
		// The caller does not come back for a while: a PING is still
		// answered, and the second frame is applied.
		p.WriteRaw(frame.AppendPing(nil, false, [8]byte{1}))
		p.WantType("PING ACK while the caller is away", frame.TypePing)
		time.Sleep(time.Second)
		synctest.Wait()
		if n := conn.StreamBuffered(s); n != 2*part {
			t.Fatalf("%d bytes buffered after the caller stayed away, want %d", n, 2*part)
		}
		rest := make([]byte, 2*part)
		if n, err := s.ReadFull(rest); n != 2*part || err != nil || !bytes.Equal(rest, body[5:]) {
			t.Fatalf("ReadFull of the rest = (%d, %v), or bytes out of order", n, err)
		}

		// Small frames are all applied. (A first exchange hands the read
		// role back to the waiting goroutine, so the next ReadFull leads.)
		done = startReadFull(s, hdr)
		synctest.Wait()
		p.WriteData(1, false, body[:5])
		if r := <-done; r.n != 5 || r.err != nil {
			t.Fatalf("ReadFull = (%d, %v)", r.n, r.err)
		}
		done = startReadFull(s, hdr)
		synctest.Wait()
		if _, leading := conn.Leads(c); !leading {
			t.Fatal("the waiting ReadFull does not lead")
		}
		p.WriteRaw(append(frame.AppendData(nil, 1, false, body[:105]), frame.AppendData(nil, 1, false, body[105:205])...))
		if r := <-done; r.n != 5 || r.err != nil {
			t.Fatalf("ReadFull = (%d, %v)", r.n, r.err)
		}
		if n := conn.StreamBuffered(s); n != 200 {
			t.Fatalf("%d bytes buffered after two small frames, want 200: small frames are not left for the caller", n)
		}
		if n, err := s.ReadFull(rest[:200]); n != 200 || err != nil || !bytes.Equal(rest[:200], body[5:205]) {
			t.Fatalf("ReadFull of the small frames = (%d, %v)", n, err)
		}

		// Now the caller comes back at once: the large frame goes
		// straight into its buffer.
		done = startReadFull(s, hdr)
		synctest.Wait()
		p.WriteRaw(twoFrames(true))
		if r := <-done; r.n != 5 || r.err != nil {
			t.Fatalf("ReadFull = (%d, %v)", r.n, r.err)
		}
		rest = rest[:part]
		if n, err := s.ReadFull(rest); n != part || err != nil || !bytes.Equal(rest, body[5:5+part]) {
			t.Fatalf("ReadFull of the first frame's rest = (%d, %v)", n, err)
		}
		done = startReadFull(s, rest)
		if r := <-done; r.n != part || r.err != nil || !bytes.Equal(rest, body[5+part:]) {
			t.Fatalf("ReadFull of the second frame = (%d, %v)", r.n, r.err)
		}
		if n, err := s.ReadFull(rest); n != 0 || err != io.EOF {
			t.Fatalf("ReadFull at the end = (%d, %v), want (0, io.EOF)", n, err)
		}
		wantBuffered(t, c, 0)
	})
}

// Many ReadFulls, each waiting for a message larger than its windows, on
// one connection: the bytes they hold are the callers', not the
// connection's, so their connection credit goes back as they arrive, even
// while unread data elsewhere withholds credit. Were it held until each
// buffer is full, the calls together could hold the whole connection
// window and none would get the rest of its message.
func TestManyReadFullsDoNotHoldConnectionCredit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   *conn.Config
		calls int
	}{
		{"defaults", nil, 64},
		{"512 KiB windows", &conn.Config{InitialWindowSize: 512 << 10, ConnWindowSize: 512 << 10}, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const size = 1 << 20
				body := pattern(size)
				prefix := []byte{0, 0, 0x10, 0, 0} // a gRPC message prefix: 1 MiB follows
				a, b := net.Pipe()
				srv, err := conn.Server(b, tc.cfg, func(s *conn.Stream) {
					if _, err := io.Copy(io.Discard, s); err != nil {
						return
					}
					if err := s.WriteAll(status200, nil, nil); err != nil {
						return
					}
					if err := s.WriteData(prefix, body, false); err != nil {
						return
					}
					s.WriteAll(nil, nil, trailerOK)
				})
				if err != nil {
					t.Fatal(err)
				}
				cli, err := conn.Client(a, tc.cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer func() {
					cli.Close()
					srv.Close()
					<-cli.Done()
					<-srv.Done()
				}()
				// A stall is all goroutines blocked: fake time then runs on
				// to the deadline, and the calls fail.
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				var wg sync.WaitGroup
				errs := make(chan error, tc.calls)
				for range tc.calls {
					wg.Go(func() {
						st, err := cli.OpenStream(ctx, request("/"), nil, conn.EndStream)
						if err != nil {
							errs <- err
							return
						}
						var pfx [5]byte
						if _, err := st.ReadFull(pfx[:]); err != nil {
							errs <- err
							return
						}
						got := make([]byte, size)
						if _, err := st.ReadFull(got); err != nil {
							errs <- err
							return
						}
						if !bytes.Equal(got, body) {
							errs <- errors.New("ReadFull's bytes differ from those sent")
						}
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
				wantBuffered(t, cli, 0)
			})
		})
	}
}
