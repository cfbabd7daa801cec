package conn_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/internal/h2test"
)

// unreadStreams is how many streams the starvation tests leave unread: more
// than the default connection window holds in default stream windows
// (1 MiB / 512 KiB = 2), well under what MaxBufferedData holds (8).
const unreadStreams = 4

// A client that does not read some responses still gets the others: the
// unread responses fill their stream windows, and their connection credit
// comes back as the data arrives, so the connection window stays open for
// the rest.
func TestUnreadResponsesDoNotStarveOtherStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bigSize = 1 << 20 // two stream windows: the writes block
		small := bytes.Repeat([]byte("s"), 100000)
		_, client := pipePair(t, nil, func(s *conn.Stream) {
			io.Copy(io.Discard, s)
			body := small
			if s.RequestHeaders()[3].Value == "/big" {
				body = pattern(bigSize)
			}
			s.WriteAll(status200, body, trailerOK)
		})
		ctx := context.Background()
		var big []*conn.Stream
		for range unreadStreams {
			s, err := client.OpenStream(ctx, request("/big"), nil, conn.EndStream)
			if err != nil {
				t.Fatal(err)
			}
			big = append(big, s)
		}
		// Every big response fills its stream window, unread.
		synctest.Wait()

		// A call beside them completes. Its deadline is fake time: on a
		// starved connection it ends the call instead of hanging the test.
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s, err := client.OpenStream(sctx, request("/small"), nil, conn.EndStream)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadHeaders(); err != nil {
			t.Fatalf("ReadHeaders beside %d unread streams: %v", unreadStreams, err)
		}
		got, err := io.ReadAll(s)
		if err != nil {
			t.Fatalf("reading a response beside %d unread streams: %v (got %d of %d bytes)", unreadStreams, err, len(got), len(small))
		}
		if !bytes.Equal(got, small) {
			t.Fatalf("response beside unread streams: %d bytes, want %d", len(got), len(small))
		}
		wantBuffered(t, client, unreadStreams*conn.DefaultInitialWindowSize)

		// The unread responses are intact, and read to the end once read.
		for i, s := range big {
			if _, err := s.ReadHeaders(); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(s)
			if err != nil || !bytes.Equal(got, pattern(bigSize)) {
				t.Fatalf("big response %d: %d bytes, %v; want %d bytes intact", i, len(got), err, bigSize)
			}
		}
		// The credit accounting is whole again.
		wantBuffered(t, client, 0)
		checkBulk(t, client, "/big", bigSize)
		wantBuffered(t, client, 0)
	})
}

// A server whose handlers do not read some requests still gets the others:
// the same, the other way round.
func TestUnreadRequestsDoNotStarveOtherStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bigSize = 1 << 20
		release := make(chan struct{})
		server, client := pipePair(t, nil, func(s *conn.Stream) {
			if s.RequestHeaders()[3].Value == "/unread" {
				select {
				case <-release:
				case <-s.Context().Done():
				}
				io.Copy(io.Discard, s)
				s.WriteAll(status200, nil, trailerOK)
				return
			}
			body, err := io.ReadAll(s)
			if err != nil {
				return
			}
			s.WriteAll(status200, body, trailerOK)
		})
		ctx := context.Background()
		writeErr := make(chan error, unreadStreams)
		var unread []*conn.Stream
		for range unreadStreams {
			s, err := client.OpenStream(ctx, request("/unread"), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			unread = append(unread, s)
			go func() { writeErr <- s.WriteData(nil, pattern(bigSize), true) }()
		}
		// Every request fills its stream window at the server, unread.
		synctest.Wait()

		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		body := bytes.Repeat([]byte("e"), 100000)
		s, err := client.OpenStream(sctx, request("/echo"), body, conn.EndStream)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadHeaders(); err != nil {
			t.Fatalf("ReadHeaders beside %d unread requests: %v", unreadStreams, err)
		}
		got, err := io.ReadAll(s)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("echo beside %d unread requests: %d of %d bytes, %v", unreadStreams, len(got), len(body), err)
		}
		wantBuffered(t, server, unreadStreams*conn.DefaultInitialWindowSize)

		// The unread requests go through once their handlers read.
		close(release)
		for range unreadStreams {
			if err := <-writeErr; err != nil {
				t.Fatalf("unread request: %v", err)
			}
		}
		for _, s := range unread {
			if _, err := s.ReadHeaders(); err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, s); err != nil {
				t.Fatal(err)
			}
		}
		checkBulk(t, client, "/echo", bigSize)
		synctest.Wait()
		wantBuffered(t, server, 0)
		wantBuffered(t, client, 0)
	})
}

// checkBulk sends n bytes on a new stream and wants them echoed (or a
// response of n bytes): the connection's credit is all there.
func checkBulk(t *testing.T, c *conn.Conn, path string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var body []byte
	if path == "/echo" {
		body = pattern(n)
	}
	s, err := c.OpenStream(ctx, request(path), body, conn.EndStream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadHeaders(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, pattern(n)) {
		t.Fatalf("%s after the unread streams: %d bytes, %v; want %d", path, len(got), err, n)
	}
}

// wantBuffered checks that c holds want bytes unread, withholding the
// connection credit it should.
func wantBuffered(t *testing.T, c *conn.Conn, want int64) {
	t.Helper()
	got, err := conn.BufferedData(c)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("%d bytes buffered unread, want %d", got, want)
	}
}

// pattern returns n bytes that differ from one position to the next, so a
// misplaced or lost chunk shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7 / 5)
	}
	return b
}

// A peer that keeps sending on streams nobody reads fills at most
// MaxBufferedData: connection credit comes back on arrival only below it.
// The peer here opens more streams than the bound holds in stream windows
// and sends whenever it has credit.
func TestUnreadDataBoundedPerConnection(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  *conn.Config
		want int // the bound
		// reach is what this peer fills: the bound, less what the window
		// could still grow by. The peer never acknowledges the PINGs that
		// measure the bandwidth-delay product, so a measured window stays
		// at its start, BDPStartWindow.
		reach int
	}{
		{"defaults", nil, 4 * conn.DefaultConnWindowSize, 3*conn.DefaultConnWindowSize + conn.BDPStartWindow},
		{"small", &conn.Config{InitialWindowSize: 40000, ConnWindowSize: 100000, MaxBufferedData: 300000}, 300000, 300000},
		// At the connection window, credit comes back only as the
		// application reads.
		{"read only", &conn.Config{InitialWindowSize: 40000, ConnWindowSize: 100000, MaxBufferedData: 1}, 100000, 100000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				streamWindow := conn.DefaultInitialWindowSize
				if tc.cfg != nil {
					streamWindow = int(tc.cfg.InitialWindowSize)
				}
				release := make(chan struct{})
				h, started := blockingHandler(release)
				nc, p := h2test.NewPipe(t)
				c, err := conn.Server(nc, tc.cfg, h)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				// The handshake announces the connection window.
				_, inc := p.ClientHandshake()
				connCredit := 65535 + int(inc)
				nStreams := tc.want/streamWindow + 4
				credit := make(map[uint32]int)
				for i := range nStreams {
					id := uint32(2*i + 1)
					p.WriteHeaders(id, false, request("/")...)
					credit[id] = streamWindow
				}
				sent := 0
				for {
					progress := false
					for i := range nStreams {
						id := uint32(2*i + 1)
						n := min(credit[id], connCredit, 16384)
						if n == 0 {
							continue
						}
						p.WriteData(id, false, make([]byte, n))
						credit[id] -= n
						connCredit -= n
						sent += n
						progress = true
					}
					synctest.Wait()
					for _, f := range p.Drain() {
						switch f := f.(type) {
						case *frame.WindowUpdateFrame:
							if f.StreamID == 0 {
								connCredit += int(f.Increment)
							} else {
								credit[f.StreamID] += int(f.Increment)
							}
						case *frame.RSTStreamFrame, *frame.GoAwayFrame:
							t.Fatalf("got %+v", f)
						}
					}
					if !progress {
						break
					}
				}
				t.Logf("%d streams × %d-byte windows: the peer got %d bytes in, bound %d", nStreams, streamWindow, sent, tc.want)
				if sent > tc.want {
					t.Fatalf("%d bytes buffered unread, bound %d", sent, tc.want)
				}
				wantBuffered(t, c, int64(sent))
				// Credit on arrival goes on up to the bound, less what the
				// batching of WINDOW_UPDATEs holds back: a quarter of the
				// connection window, and up to half of it queued for the
				// next batch while the peer has more than half left
				// (releaseConnLocked).
				connWindow := 65535 + int(inc)
				if sent < tc.reach-connWindow/2 {
					t.Fatalf("only %d bytes buffered before the peer stalled, want about %d", sent, tc.reach)
				}
				if len(started) != nStreams {
					t.Fatalf("%d handlers started, want %d", len(started), nStreams)
				}
				// Reading returns the withheld credit: one handler reads its
				// stream, and the peer may send again.
				s := <-started
				k := streamWindow - credit[s.ID()]
				if _, err := io.ReadFull(s, make([]byte, k)); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				got := 0
				for _, f := range p.Drain() {
					if wu, ok := f.(*frame.WindowUpdateFrame); ok && wu.StreamID == 0 {
						got += int(wu.Increment)
					}
				}
				if got+connCredit < k-connWindow/4 {
					t.Fatalf("reading %d bytes gave back %d bytes of connection credit", k, got)
				}
				wantBuffered(t, c, int64(sent-k))
				// Streams reset with data unread give back what they
				// withheld, and no more: the peer's resets bring the
				// buffered total to 0, and the credit stays whole.
				for i := range nStreams {
					p.WriteRaw(frame.AppendRSTStream(nil, uint32(2*i+1), frame.ErrCodeCancel))
				}
				synctest.Wait()
				wantBuffered(t, c, 0)
				close(release)
			})
		})
	}
}
