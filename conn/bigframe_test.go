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
	"unsafe"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/internal/h2test"
)

// recordConn records the buffers its Reads were given.
type recordConn struct {
	net.Conn
	mu   sync.Mutex
	bufs [][]byte
}

func (c *recordConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	c.bufs = append(c.bufs, p)
	c.mu.Unlock()
	return c.Conn.Read(p)
}

// readInto reports whether a Read was given a buffer inside b: bytes went
// from the connection straight into b.
func (c *recordConn) readInto(b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	hi := lo + uintptr(len(b))
	for _, p := range c.bufs {
		if len(p) == 0 {
			continue
		}
		if at := uintptr(unsafe.Pointer(unsafe.SliceData(p))); at >= lo && at < hi {
			return true
		}
	}
	return false
}

// fixedWindow holds the connection window at 256 KiB: a measured one
// would time DATA with PINGs the scripted peer would have to skip.
var fixedWindow = &conn.Config{ConnWindowSize: 256 << 10}

// startRecordedClient is startClient over a recordConn.
func startRecordedClient(t *testing.T, cfg *conn.Config) (*conn.Conn, *h2test.Peer, *recordConn, *frame.SettingsFrame) {
	t.Helper()
	nc, p := h2test.NewClientPipe(t)
	rc := &recordConn{Conn: nc}
	c, err := conn.Client(rc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	settings, _ := p.ServerHandshake()
	return c, p, rc, settings
}

// A DATA frame larger than 16 KiB, up to the 128 KiB we advertise, is read
// straight from the connection into the buffer of the ReadFull waiting for
// it, past what the frame reader had buffered with its header; the
// connection credit of every byte goes back, and END_STREAM on the last
// such frame ends the stream once its data is read.
func TestLargeDataFrameIntoReadFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p, rc, settings := startRecordedClient(t, fixedWindow)
		if v, ok := settings.Value(frame.SettingMaxFrameSize); !ok || v != 128<<10 {
			t.Fatalf("SETTINGS_MAX_FRAME_SIZE %d (sent %v), want 128 KiB", v, ok)
		}
		s := openAnswered(t, c, p, context.Background())
		synctest.Wait()
		const size = 100 << 10
		body := pattern(2 * size)
		for i := range 2 {
			msg := make([]byte, size)
			done := startReadFull(s, msg)
			synctest.Wait()
			df := frame.AppendData(nil, 1, i == 1, body[i*size:(i+1)*size])
			p.WriteRaw(df[:frame.HeaderLen+1000]) // the header and a little
			wantWaiting(t, done, "with 1,000 of its bytes")
			p.WriteRaw(df[frame.HeaderLen+1000:])
			if r := <-done; r.n != size || r.err != nil || !bytes.Equal(msg, body[i*size:(i+1)*size]) {
				t.Fatalf("frame %d: ReadFull = (%d, %v), or other bytes", i, r.n, r.err)
			}
			if !rc.readInto(msg) {
				t.Fatalf("frame %d: no Read of the connection went into the ReadFull's buffer", i)
			}
		}
		if n, err := s.ReadFull(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("ReadFull after the last frame = (%d, %v), want io.EOF", n, err)
		}
		wantBuffered(t, c, 0) // and every byte's connection credit accounted for
		synctest.Wait()
		var conn0 uint32
		for _, f := range p.Drain() {
			if wu, ok := f.(*frame.WindowUpdateFrame); ok && wu.StreamID == 0 {
				conn0 += wu.Increment
			}
		}
		if conn0 < 2*size-64<<10 {
			t.Fatalf("connection credit returned %d of %d bytes, want all but at most a quarter window", conn0, 2*size)
		}
	})
}

// A peer may send DATA frames up to the SETTINGS_MAX_FRAME_SIZE we
// advertise, padded or not; read with Read (no ReadFull waiting), the
// frame's parts go through the stream's buffer in order, and END_STREAM
// comes after its data. A frame one octet larger is a connection error
// FRAME_SIZE_ERROR.
func TestDataFramesUpToAdvertisedSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, fixedWindow)
		s := openAnswered(t, c, p, context.Background())
		const max = 128 << 10
		data := pattern(max - 1 - 200)
		df := paddedData(1, true, data, 200)
		if len(df) != frame.HeaderLen+max {
			t.Fatalf("frame of %d octets", len(df)-frame.HeaderLen)
		}
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(s)
			got <- b
		}()
		synctest.Wait()
		for off := 0; off < len(df); off += 20000 {
			p.WriteRaw(df[off:min(off+20000, len(df))])
			synctest.Wait()
		}
		if b := <-got; !bytes.Equal(b, data) {
			t.Fatalf("read %d bytes, want the frame's %d of data", len(b), len(data))
		}
		wantBuffered(t, c, 0)
		p.Drain() // the credit

		s2, err := c.OpenStream(context.Background(), request("/"), nil, conn.EndStream)
		if err != nil {
			t.Fatal(err)
		}
		p.WantType("second request", frame.TypeHeaders)
		p.WriteHeaders(s2.ID(), false, status200...)
		p.TryWriteRaw(frame.AppendData(nil, s2.ID(), false, make([]byte, max+1))) // cut short by the GOAWAY
		wantConnError(t, c, p, frame.ErrCodeFrameSize)
	})
}

// A stream reset while its leader reads a large frame's rest straight
// into its ReadFull's buffer: ReadFull returns at once with the reset and
// the bytes it got, its buffer is never written after that, the rest of
// the frame is dropped with its connection credit returned, and the
// connection goes on.
func TestResetDuringDirectRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p, rc, _ := startRecordedClient(t, fixedWindow)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := openAnswered(t, c, p, ctx)
		synctest.Wait()
		const size = 100 << 10
		msg := make([]byte, size)
		done := startReadFull(s, msg)
		synctest.Wait()
		df := frame.AppendData(nil, 1, false, pattern(size))
		p.WriteRaw(df[:frame.HeaderLen+1000])
		p.WriteRaw(df[frame.HeaderLen+1000 : frame.HeaderLen+3000])
		wantWaiting(t, done, "with 3,000 of its bytes")
		if !rc.readInto(msg) {
			t.Fatal("no Read of the connection went into the ReadFull's buffer")
		}
		cancel()
		r := <-done
		var re *conn.ResetError
		if !errors.As(r.err, &re) || re.Code != frame.ErrCodeCancel || r.n != 3000 {
			t.Fatalf("ReadFull = (%d, %v), want 3000 bytes and a local reset CANCEL", r.n, r.err)
		}
		p.WantRST("cancelled", 1, frame.ErrCodeCancel)
		clear(msg)
		p.WriteRaw(df[frame.HeaderLen+3000:])
		p.WriteRaw(frame.AppendPing(nil, false, [8]byte{7}))
		for {
			f := p.ReadFrame() // past the dropped frame's credit
			if _, ok := f.(*frame.PingFrame); ok {
				break
			}
			if _, ok := f.(*frame.WindowUpdateFrame); !ok {
				t.Fatalf("%v, want a WINDOW_UPDATE or the PING ACK", f)
			}
		}
		if !bytes.Equal(msg, make([]byte, size)) {
			t.Fatal("the frame's rest was written into the buffer after ReadFull returned")
		}
		wantBuffered(t, c, 0)
		if err := c.Err(); err != nil {
			t.Fatalf("connection failed: %v", err)
		}
		s3 := openAnswered3(t, c, p)
		p.WriteData(s3.ID(), true, []byte("next"))
		if b, err := io.ReadAll(s3); err != nil || string(b) != "next" {
			t.Fatalf("the next stream read %q, %v", b, err)
		}
	})
}

// openAnswered3 opens the next stream and plays its response headers.
func openAnswered3(t *testing.T, c *conn.Conn, p *h2test.Peer) *conn.Stream {
	t.Helper()
	s, err := c.OpenStream(context.Background(), request("/"), nil, conn.EndStream)
	if err != nil {
		t.Fatal(err)
	}
	p.WantType("request HEADERS", frame.TypeHeaders)
	p.WriteHeaders(s.ID(), false, status200...)
	if _, err := s.ReadHeaders(); err != nil {
		t.Fatal(err)
	}
	return s
}

// dataTracer records the DATA frames a connection reads.
type dataTracer struct {
	mu   sync.Mutex
	data [][]byte
}

func (d *dataTracer) TraceWrite([]byte) {}

func (d *dataTracer) TraceRead(f frame.Frame) {
	if df, ok := f.(*frame.DataFrame); ok {
		d.mu.Lock()
		d.data = append(d.data, bytes.Clone(df.Data))
		d.mu.Unlock()
	}
}

// With a Tracer, a large DATA frame is read whole, and reported once with
// all its data.
func TestTracerSeesLargeFramesWhole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &dataTracer{}
		c, p := startClient(t, &conn.Config{Trace: func(conn.ConnInfo) conn.Tracer { return tr }})
		s := openAnswered(t, c, p, context.Background())
		synctest.Wait()
		data := pattern(100 << 10)
		msg := make([]byte, len(data))
		done := startReadFull(s, msg)
		synctest.Wait()
		df := frame.AppendData(nil, 1, true, data)
		p.WriteRaw(df[:frame.HeaderLen+1000])
		synctest.Wait()
		p.WriteRaw(df[frame.HeaderLen+1000:])
		if r := <-done; r.n != len(data) || r.err != nil || !bytes.Equal(msg, data) {
			t.Fatalf("ReadFull = (%d, %v)", r.n, r.err)
		}
		tr.mu.Lock()
		defer tr.mu.Unlock()
		if len(tr.data) != 1 || !bytes.Equal(tr.data[0], data) {
			t.Fatalf("the tracer saw %d DATA frames, want the one, whole", len(tr.data))
		}
	})
}

// A large frame refused on arrival (here: on a stream we reset) is
// dropped part by part with its credit returned, and none of its parts
// reaches the stream whose large frame came before it.
func TestRefusedLargeFrameGoesNowhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startClient(t, fixedWindow)
		s := openAnswered(t, c, p, context.Background())
		synctest.Wait()
		const size = 60 << 10
		msg := make([]byte, size)
		done := startReadFull(s, msg)
		synctest.Wait()
		df := frame.AppendData(nil, 1, false, pattern(size))
		p.WriteRaw(df[:frame.HeaderLen+1000])
		p.WriteRaw(df[frame.HeaderLen+1000:])
		if r := <-done; r.n != size || r.err != nil {
			t.Fatalf("ReadFull = (%d, %v)", r.n, r.err)
		}

		ctx, cancel := context.WithCancel(context.Background())
		s3, err := c.OpenStream(ctx, request("/"), nil, conn.EndStream)
		if err != nil {
			t.Fatal(err)
		}
		p.WantType("request HEADERS", frame.TypeHeaders)
		cancel()
		p.WantRST("cancelled", s3.ID(), frame.ErrCodeCancel)

		done = startReadFull(s, msg)
		synctest.Wait()
		late := frame.AppendData(nil, s3.ID(), false, bytes.Repeat([]byte{0xee}, 50000))
		for off := 0; off < len(late); off += 7000 {
			p.WriteRaw(late[off:min(off+7000, len(late))])
			synctest.Wait()
		}
		wantWaiting(t, done, "after a frame on another stream")
		body := pattern(2 * size)[size:]
		p.WriteRaw(frame.AppendData(nil, 1, true, body))
		if r := <-done; r.n != size || r.err != nil || !bytes.Equal(msg, body) {
			t.Fatalf("ReadFull = (%d, %v), or other bytes: the refused frame reached stream 1", r.n, r.err)
		}
		wantBuffered(t, c, 0)
	})
}

// Over loopback TCP, server streams of length-prefixed messages of many
// sizes, read the way the RPC layer reads them (ReadFull of the 5-byte
// prefix, then of the body), arrive intact in 128 KiB frames, several
// streams at once, while other streams are cancelled part way through
// their messages; the connection's credit stays whole.
func TestLargeFramesEndToEnd(t *testing.T) {
	sizes := []int{70000, 5, 131067, 20000, 65536, 1 << 20, 0, 100000}
	h := func(s *conn.Stream) {
		if err := s.WriteAll(status200, nil, nil); err != nil {
			return
		}
		for i, n := range sizes {
			prefix := []byte{0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
			if err := s.WriteData(prefix, body(i, n), false); err != nil {
				return
			}
		}
		s.WriteAll(nil, nil, trailerOK)
	}
	client, _ := pair(t, nil, nil, h)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 8 {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := client.OpenStream(ctx, request("/stream"), nil, conn.EndStream)
			if err != nil {
				errs <- err
				return
			}
			if _, err := s.ReadHeaders(); err != nil {
				errs <- err
				return
			}
			for i, n := range sizes {
				var prefix [5]byte
				if _, err := s.ReadFull(prefix[:]); err != nil {
					errs <- err
					return
				}
				got := int(prefix[1])<<24 | int(prefix[2])<<16 | int(prefix[3])<<8 | int(prefix[4])
				if got != n {
					errs <- errors.New("message length out of step")
					return
				}
				msg := make([]byte, n)
				if w%4 == 3 && i == 5 {
					cancel() // part way through the 1 MiB message
				}
				k, err := s.ReadFull(msg)
				if w%4 == 3 && i == 5 {
					if err == nil && k == n {
						continue // it had all arrived already
					}
					if !bytes.Equal(msg[:k], body(i, n)[:k]) {
						errs <- errors.New("cancelled stream: other bytes")
					}
					return
				}
				if err != nil || !bytes.Equal(msg, body(i, n)) {
					errs <- errors.Join(errors.New("message differs"), err)
					return
				}
			}
			if n, err := s.ReadFull(make([]byte, 1)); n != 0 || err != io.EOF {
				errs <- errors.New("no io.EOF after the last message")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := client.Err(); err != nil {
		t.Fatalf("connection failed: %v", err)
	}
	waitFor(t, "the client's credit whole", func() bool {
		n, err := conn.BufferedData(client)
		return n == 0 && err == nil
	})
}
