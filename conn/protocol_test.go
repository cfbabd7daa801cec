package conn_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
	"github.com/h2rpc/h2rpc/internal/h2test"
)

// Connection-level rules, server role (the client shares the code).

func TestBadPreface(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nc, p := h2test.NewPipe(t)
		c, _ := conn.Server(nc, nil, echo)
		defer c.Close()
		// RFC 9113 §3.4: an invalid preface is a connection error
		// PROTOCOL_ERROR.
		p.TryWriteRaw([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		p.WantType("server SETTINGS", frame.TypeSettings)
		p.WantType("connection window", frame.TypeWindowUpdate)
		wantConnError(t, c, p, frame.ErrCodeProtocol)
	})
}

func TestFirstFrameNotSettings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nc, p := h2test.NewPipe(t)
		c, _ := conn.Server(nc, nil, echo)
		defer c.Close()
		p.WritePreface()
		p.WriteFrames(&frame.PingFrame{Header: frame.Header{Type: frame.TypePing}})
		wantConnError(t, c, p, frame.ErrCodeProtocol)
	})
}

func TestPrefaceTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nc, p := h2test.NewPipe(t)
		start := time.Now()
		c, _ := conn.Server(nc, &conn.Config{PrefaceTimeout: 3 * time.Second}, echo)
		defer c.Close()
		p.Drain()
		<-c.Done()
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("connection ended after %v, want the PrefaceTimeout 3s", d)
		}
		if err := c.Err(); err == nil || errors.As(err, new(*frame.ConnError)) {
			t.Errorf("Err() = %v, want a timeout", err)
		}
	})
}

func TestSettingsAckTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nc, p := h2test.NewPipe(t)
		c, _ := conn.Server(nc, &conn.Config{SettingsAckTimeout: 2 * time.Second}, echo)
		defer c.Close()
		p.WritePreface()
		p.WriteSettings()
		p.WantType("server SETTINGS", frame.TypeSettings)
		// No ACK from us. RFC 9113 §6.5.3: SETTINGS_TIMEOUT.
		wantConnError(t, c, p, frame.ErrCodeSettingsTimeout)
	})
}

func TestServerSettingsAdvertised(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nc, p := h2test.NewPipe(t)
		c, _ := conn.Server(nc, &conn.Config{
			MaxConcurrentStreams: 7, InitialWindowSize: 1000, ConnWindowSize: 1 << 20,
			MaxFrameSize: 1 << 15, MaxHeaderListSize: 2000, HeaderTableSize: 100,
		}, echo)
		defer c.Close()
		s, inc := p.ClientHandshake()
		want := map[frame.SettingID]uint32{
			frame.SettingMaxConcurrentStreams: 7, frame.SettingInitialWindowSize: 1000,
			frame.SettingMaxFrameSize: 1 << 15, frame.SettingMaxHeaderListSize: 2000,
			frame.SettingHeaderTableSize: 100,
		}
		for id, v := range want {
			if got, ok := s.Value(id); !ok || got != v {
				t.Errorf("setting %v = %d, %v; want %d", id, got, ok, v)
			}
		}
		// §6.9.2: the connection window starts at 65535 and grows by
		// WINDOW_UPDATE only.
		if inc != 1<<20-65535 {
			t.Errorf("connection WINDOW_UPDATE %d, want %d", inc, 1<<20-65535)
		}
	})
}

func TestPingAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, p := startServer(t, nil, echo)
		data := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
		p.WriteRaw(frame.AppendPing(nil, false, data))
		// RFC 9113 §6.7: the ACK carries an identical payload.
		p.WantFrame("PING ACK", &frame.PingFrame{Header: frame.Header{Type: frame.TypePing, Flags: frame.FlagAck}, Data: data})
	})
}

func TestConnPing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startServer(t, nil, echo)
		done := make(chan error, 1)
		go func() { done <- c.Ping(context.Background()) }()
		ping := p.WantType("PING", frame.TypePing).(*frame.PingFrame)
		if ping.IsAck() {
			t.Fatal("Ping sent an ACK")
		}
		// An ACK with other data does not count.
		p.WriteRaw(frame.AppendPing(nil, true, [8]byte{9}))
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Ping returned %v before its ACK", err)
		default:
		}
		p.WriteRaw(frame.AppendPing(nil, true, ping.Data))
		if err := <-done; err != nil {
			t.Fatalf("Ping: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := c.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Ping without an answer = %v, want DeadlineExceeded", err)
		}
	})
}

func TestUnknownFramesAndSettingsIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, p := startServer(t, nil, echo)
		// RFC 9113 §4.1, §5.5: unknown frame types are ignored; §6.5.2:
		// unknown settings are ignored.
		p.WriteFrames(&frame.UnknownFrame{Header: frame.Header{Type: 0xee, StreamID: 77}, Payload: []byte("x")})
		p.WriteSettings(frame.Setting{ID: 0x99, Val: 1})
		p.WantFrame("SETTINGS ACK", &frame.SettingsFrame{Header: frame.Header{Type: frame.TypeSettings, Flags: frame.FlagAck}})
		p.WriteHeaders(1, true, request("/")...)
		p.WantHeaders("still serving", 1, false, status200)
	})
}

func TestPriorityIgnoredButValidated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, p := startServer(t, nil, echo)
		// PRIORITY on an idle stream is allowed (§5.1) and ignored (§5.3.2).
		p.WriteRaw(frame.AppendPriority(nil, 9, frame.PriorityParam{StreamDep: 3, Weight: 10}))
		p.WantIdle("PRIORITY ignored")
		// A stream depending on itself is a stream error PROTOCOL_ERROR
		// (§5.3.1).
		p.WriteRaw(frame.AppendPriority(nil, 11, frame.PriorityParam{StreamDep: 11}))
		p.WantRST("self-dependent PRIORITY", 11, frame.ErrCodeProtocol)
	})
}

func TestPushPromiseToServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startServer(t, nil, echo)
		p.WriteHeaders(1, false, request("/")...)
		p.WantHeaders("response", 1, false, status200)
		p.WriteRaw(frame.AppendPushPromise(nil, 1, 2, true, p.EncodeHeaders(request("/pushed")...)))
		wantConnError(t, c, p, frame.ErrCodeProtocol)
	})
}

func TestDataOnIdleStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startServer(t, nil, echo)
		p.WriteData(5, false, []byte("x"))
		wantConnError(t, c, p, frame.ErrCodeProtocol)
	})
}

func TestStreamIDRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		ids  []uint32
	}{
		{"even id from a client", []uint32{2}},
		{"decreasing id", []uint32{5, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				defer close(release)
				h, _ := blockingHandler(release)
				c, p := startServer(t, nil, h)
				for _, id := range tc.ids {
					p.TryWriteRaw(frame.AppendHeaders(nil, id, false, true, p.EncodeHeaders(request("/")...)))
				}
				// RFC 9113 §5.1.1: connection error PROTOCOL_ERROR.
				wantConnError(t, c, p, frame.ErrCodeProtocol)
			})
		})
	}
}

func TestStreamErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(p *h2test.Peer)
		code  frame.ErrCode
	}{
		{"DATA after END_STREAM", func(p *h2test.Peer) {
			p.WriteHeaders(1, true, request("/")...)
			p.WriteData(1, false, []byte("late"))
		}, frame.ErrCodeStreamClosed},
		{"HEADERS after trailers", func(p *h2test.Peer) {
			p.WriteHeaders(1, false, request("/")...)
			p.WriteHeaders(1, true, f("x-trailer", "1"))
			p.WriteHeaders(1, true, f("x-more", "1"))
		}, frame.ErrCodeStreamClosed},
		{"trailers without END_STREAM", func(p *h2test.Peer) {
			p.WriteHeaders(1, false, request("/")...)
			p.WriteHeaders(1, false, f("x-trailer", "1"))
		}, frame.ErrCodeProtocol},
		{"uppercase field name", func(p *h2test.Peer) {
			p.WriteHeaders(1, true, append(request("/"), f("X-Upper", "1"))...)
		}, frame.ErrCodeProtocol},
		{"missing :path", func(p *h2test.Peer) {
			p.WriteHeaders(1, true, f(":method", "GET"), f(":scheme", "http"))
		}, frame.ErrCodeProtocol},
		{"pseudo-header in trailers", func(p *h2test.Peer) {
			p.WriteHeaders(1, false, request("/")...)
			p.WriteHeaders(1, true, f(":path", "/x"))
		}, frame.ErrCodeProtocol},
		{"content-length larger than DATA", func(p *h2test.Peer) {
			p.WriteHeaders(1, false, append(request("/"), f("content-length", "10"))...)
			p.WriteData(1, true, []byte("short"))
		}, frame.ErrCodeProtocol},
		{"content-length smaller than DATA", func(p *h2test.Peer) {
			p.WriteHeaders(1, false, append(request("/"), f("content-length", "2"))...)
			p.WriteData(1, false, []byte("longer"))
		}, frame.ErrCodeProtocol},
		{"WINDOW_UPDATE increment 0", func(p *h2test.Peer) {
			p.WriteHeaders(1, false, request("/")...)
			p.WriteRaw(frame.AppendWindowUpdate(nil, 1, 0))
		}, frame.ErrCodeProtocol},
		{"HEADERS depending on itself", func(p *h2test.Peer) {
			p.WriteFrames(&frame.HeadersFrame{
				Header:        frame.Header{Type: frame.TypeHeaders, Flags: frame.FlagEndHeaders | frame.FlagPriority | frame.FlagEndStream, StreamID: 1},
				Priority:      frame.PriorityParam{StreamDep: 1},
				BlockFragment: p.EncodeHeaders(request("/")...),
			})
		}, frame.ErrCodeProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				defer close(release)
				h, _ := blockingHandler(release)
				_, p := startServer(t, nil, h)
				tc.write(p)
				p.WantRST(tc.name, 1, tc.code)
				// The connection (and its HPACK state) lives on.
				p.WriteHeaders(3, true, request("/next")...)
				p.WriteRaw(frame.AppendPing(nil, false, [8]byte{3}))
				p.WantFrame("PING ACK after the stream error", &frame.PingFrame{Header: frame.Header{Type: frame.TypePing, Flags: frame.FlagAck}, Data: [8]byte{3}})
			})
		})
	}
}

func TestCompressionError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startServer(t, nil, echo)
		// Index 100 is in neither table: RFC 9113 §4.3, COMPRESSION_ERROR.
		p.WriteRaw(frame.AppendHeaders(nil, 1, true, true, []byte{0x80 | 100}))
		wantConnError(t, c, p, frame.ErrCodeCompression)
	})
}

func TestMaxConcurrentStreamsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h, started := blockingHandler(release)
		_, p := startServer(t, &conn.Config{MaxConcurrentStreams: 2}, h)
		p.WriteHeaders(1, true, request("/")...)
		p.WriteHeaders(3, true, request("/")...)
		p.WriteHeaders(5, true, request("/")...)
		// RFC 9113 §5.1.2: REFUSED_STREAM (or PROTOCOL_ERROR).
		p.WantRST("third stream over the limit", 5, frame.ErrCodeRefusedStream)
		<-started
		<-started
		close(release)
		// Handlers returned without ending their streams: reset with CANCEL.
		got := map[uint32]frame.ErrCode{}
		for range 2 {
			r := p.WantType("reset of an abandoned stream", frame.TypeRSTStream).(*frame.RSTStreamFrame)
			got[r.StreamID] = r.Code
		}
		if got[1] != frame.ErrCodeCancel || got[3] != frame.ErrCodeCancel {
			t.Errorf("resets %v, want CANCEL on 1 and 3", got)
		}
		// Slots are free again: stream 7 is accepted (and handled).
		p.WriteHeaders(7, true, request("/")...)
		p.WantRST("stream 7 accepted and abandoned", 7, frame.ErrCodeCancel)
	})
}

func TestPeerResetWakesHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errs := make(chan error, 2)
		_, p := startServer(t, nil, func(s *conn.Stream) {
			_, err := s.Read(make([]byte, 10))
			errs <- err
			<-s.Context().Done()
			errs <- s.WriteAll(status200, nil, nil)
		})
		p.WriteHeaders(1, false, request("/")...)
		synctest.Wait()
		p.WriteRaw(frame.AppendRSTStream(nil, 1, frame.ErrCodeCancel))
		var re *conn.ResetError
		if err := <-errs; !errors.As(err, &re) || !re.Remote || re.Code != frame.ErrCodeCancel || re.StreamID != 1 {
			t.Errorf("Read after the peer's reset = %v, want a remote *ResetError CANCEL", err)
		}
		if err := <-errs; !errors.As(err, &re) {
			t.Errorf("WriteAll after reset = %v, want *ResetError", err)
		}
		// §5.4.2: no RST_STREAM in answer to RST_STREAM.
		p.WantIdle("no answer to RST_STREAM")
	})
}

func TestRSTStreamOnIdleStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startServer(t, nil, echo)
		p.WriteRaw(frame.AppendRSTStream(nil, 7, frame.ErrCodeCancel))
		wantConnError(t, c, p, frame.ErrCodeProtocol) // §6.4
	})
}

func TestClosedStreamRules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startServer(t, nil, echo)
		p.WriteHeaders(1, true, request("/")...)
		p.WantHeaders("response", 1, false, status200)
		p.WantHeaders("trailers", 1, true, trailerOK)
		// Closed by END_STREAM both ways: WINDOW_UPDATE and RST_STREAM
		// are ignored (§5.1, §6.9), DATA is a stream error STREAM_CLOSED
		// (§6.1).
		p.WriteRaw(frame.AppendWindowUpdate(nil, 1, 100))
		p.WriteRaw(frame.AppendRSTStream(nil, 1, frame.ErrCodeCancel))
		p.WantIdle("late WINDOW_UPDATE and RST_STREAM ignored")
		p.WriteData(1, false, []byte("x"))
		p.WantRST("DATA on a closed stream", 1, frame.ErrCodeStreamClosed)
		// HEADERS on it is a connection error STREAM_CLOSED (§5.1).
		p.WriteHeaders(1, true, request("/")...)
		wantConnError(t, c, p, frame.ErrCodeStreamClosed)
	})
}

func TestFramesAfterOurResetIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A fixed connection window: a measured one would time the DATA
		// with a PING.
		_, p := startServer(t, &conn.Config{ConnWindowSize: conn.DefaultConnWindowSize}, func(s *conn.Stream) { s.Reset(frame.ErrCodeInternal) })
		p.WriteHeaders(1, false, request("/")...)
		p.WantRST("handler's reset", 1, frame.ErrCodeInternal)
		// §5.1: frames in flight after our RST_STREAM are ignored, but DATA
		// still counts against the connection window and its credit comes
		// back.
		p.WriteData(1, false, make([]byte, 16384))
		p.WriteHeaders(1, true, f("x-trailer", "1"))
		p.WantIdle("nothing in answer")
		// The credit is returned in batches of a quarter of the 1 MiB
		// connection window (16 frames of 16384 bytes), written at once
		// when the peer would be left with half the window or less: 32
		// frames bring both.
		for range 31 {
			p.WriteData(1, false, make([]byte, 16384))
		}
		p.WantFrame("connection credit returned", &frame.WindowUpdateFrame{Header: frame.Header{Type: frame.TypeWindowUpdate}, Increment: 16 * 16384})
		p.WantFrame("connection credit returned", &frame.WindowUpdateFrame{Header: frame.Header{Type: frame.TypeWindowUpdate}, Increment: 16 * 16384})
	})
}

func TestLargeHeadersUseContinuation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		big := make([]byte, 40000)
		for i := range big {
			big[i] = 'a' + byte(i%26)
		}
		resp := []hpack.Field{f(":status", "200"), {Name: "x-big", Value: string(big), Sensitive: true}}
		_, p := startServer(t, &conn.Config{MaxHeaderListSize: 1 << 20}, func(s *conn.Stream) {
			s.WriteAll(nil, nil, resp)
		}, frame.Setting{ID: frame.SettingMaxHeaderListSize, Val: 1 << 20})
		p.WriteHeaders(1, true, request("/")...)
		// 40 KB of header block in frames of at most 16384 bytes.
		p.WantHeaders("HEADERS + CONTINUATION", 1, true, resp)
	})
}

func TestPeerMaxHeaderListSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errc := make(chan error, 1)
		_, p := startServer(t, nil, func(s *conn.Stream) {
			errc <- s.WriteAll(nil, nil, []hpack.Field{f(":status", "200"), f("x-big", string(make([]byte, 200)))})
		}, frame.Setting{ID: frame.SettingMaxHeaderListSize, Val: 100})
		p.WriteHeaders(1, true, request("/")...)
		if err := <-errc; err == nil {
			t.Fatal("WriteAll over the peer's SETTINGS_MAX_HEADER_LIST_SIZE succeeded")
		}
		p.WantRST("handler gave up", 1, frame.ErrCodeCancel)
	})
}

func TestDataSplitToPeerMaxFrameSize(t *testing.T) {
	for _, maxFrame := range []uint32{16384, 20000} {
		synctest.Test(t, func(t *testing.T) {
			payload := make([]byte, 50000)
			_, p := startServer(t, nil, func(s *conn.Stream) {
				s.WriteAll(status200, nil, nil)
				s.WriteData(nil, payload, true)
			}, frame.Setting{ID: frame.SettingMaxFrameSize, Val: maxFrame}, frame.Setting{ID: frame.SettingInitialWindowSize, Val: 1 << 20})
			p.WriteRaw(frame.AppendWindowUpdate(nil, 0, 1<<20))
			p.WriteHeaders(1, true, request("/")...)
			p.WantHeaders("response", 1, false, status200)
			total := 0
			for total < len(payload) {
				d := p.WantType("DATA", frame.TypeData).(*frame.DataFrame)
				if len(d.Data) > int(maxFrame) {
					t.Fatalf("DATA frame of %d bytes, peer's max %d", len(d.Data), maxFrame)
				}
				total += len(d.Data)
				if d.StreamEnded() != (total == len(payload)) {
					t.Fatalf("END_STREAM=%v at %d of %d bytes", d.StreamEnded(), total, len(payload))
				}
			}
		})
	}
}

func TestServerReadsRequestBodyAndTrailers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type result struct {
			body     string
			trailers []hpack.Field
		}
		got := make(chan result, 1)
		_, p := startServer(t, nil, func(s *conn.Stream) {
			b, _ := io.ReadAll(s)
			got <- result{string(b), s.Trailers()}
			s.WriteAll(nil, nil, status200)
		})
		p.WriteHeaders(1, false, request("/")...)
		p.WriteData(1, false, []byte("part1,"))
		p.WriteData(1, false, []byte("part2"))
		p.WriteHeaders(1, true, f("x-checksum", "42"))
		r := <-got
		if r.body != "part1,part2" || len(r.trailers) != 1 || r.trailers[0] != f("x-checksum", "42") {
			t.Errorf("got body %q trailers %v", r.body, r.trailers)
		}
		p.WantHeaders("response", 1, true, status200)
	})
}

func TestPaddedDataCreditReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, p := startServer(t, &conn.Config{InitialWindowSize: 1000}, func(s *conn.Stream) { <-s.Context().Done() })
		p.WriteHeaders(1, false, request("/")...)
		for range 3 {
			p.WriteFrames(&frame.DataFrame{
				Header: frame.Header{Type: frame.TypeData, Flags: frame.FlagPadded, StreamID: 1},
				Data:   []byte("abc"), PadLen: 100,
			})
		}
		// The padding (pad length byte included: 101 bytes a frame) is
		// never read: it counts as consumed at once, so the stream's credit
		// returns once a quarter of its 1000-byte window is reached, with
		// no Read. The 9 data bytes stay charged until read.
		p.WantFrame("stream credit for padding", &frame.WindowUpdateFrame{Header: frame.Header{Type: frame.TypeWindowUpdate, StreamID: 1}, Increment: 303})
		p.WantIdle("connection credit batched")
	})
}
