package runner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

func init() { Register(tcpSystem{}) }

// tcpSystem is raw loopback TCP: frames of a 4-byte big-endian length, a
// kind byte and the payload, no multiplexing beyond pipelining (answers come
// back in request order), no flow control, no headers. It is the floor the
// others are measured against, so it moves bytes as cheaply as loopback
// allows: large payloads go out with writev straight from the caller's
// slice, a run of streamed messages up to 256 KiB per syscall, and come in
// straight into the caller's buffer (unary) or are read 256 KiB per syscall
// (streamed messages, whose bytes the client only counts). Its sockets'
// send buffers are held to 256 KiB (setSendBuffer): data waiting in a
// larger buffer goes cold in the cache before it is read, and on loopback
// that costs more than any syscall saved.
type tcpSystem struct{}

func (tcpSystem) Name() string        { return "tcp" }
func (tcpSystem) Supports(Shape) bool { return true }

// The tcp frame kinds.
const (
	tcpUnary     = 'U' // request and response: echo the payload
	tcpStream    = 'S' // request: a StreamRequest
	tcpStreamMsg = 'M' // response: one message of a stream
	tcpStreamEnd = 'E' // response: the stream is over
)

const tcpHeaderLen = 5

const (
	// tcpSmallBuf is the size a connection's read buffer starts at (an
	// idle connection holds little); tcpBigBuf the size it grows to when a
	// frame larger than it arrives, and the most a writer queues before
	// one writev.
	tcpSmallBuf = 16 << 10
	tcpBigBuf   = 256 << 10
	// tcpCopyMax is the largest payload copied into the write batch;
	// larger ones are written from the caller's slice.
	tcpCopyMax = 4 << 10
)

// A tcpReader reads frames through its own buffer.
type tcpReader struct {
	c    io.Reader
	buf  []byte
	r, w int // buf[r:w] is buffered
}

func newTCPReader(c io.Reader) *tcpReader { return &tcpReader{c: c, buf: make([]byte, tcpSmallBuf)} }

func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// fill reads until at least n ≤ len(buf) bytes are buffered.
func (t *tcpReader) fill(n int) error {
	if len(t.buf)-t.r < n {
		t.w = copy(t.buf, t.buf[t.r:t.w])
		t.r = 0
	}
	for t.w-t.r < n {
		k, err := t.c.Read(t.buf[t.w:])
		t.w += k
		if err != nil && t.w-t.r < n {
			return err
		}
	}
	return nil
}

// header reads a frame's header: its kind and payload length. The first
// frame larger than the buffer grows it to tcpBigBuf.
func (t *tcpReader) header() (kind byte, n int, err error) {
	if err := t.fill(tcpHeaderLen); err != nil {
		if t.w > t.r {
			err = eofIsUnexpected(err)
		}
		return 0, 0, err
	}
	n = int(binary.BigEndian.Uint32(t.buf[t.r:]))
	kind = t.buf[t.r+4]
	t.r += tcpHeaderLen
	if n > maxStreamMsg {
		return 0, 0, fmt.Errorf("tcp: frame of %d bytes over the limit %d", n, maxStreamMsg)
	}
	if n > len(t.buf) && len(t.buf) < tcpBigBuf {
		nb := make([]byte, tcpBigBuf)
		t.w = copy(nb, t.buf[t.r:t.w])
		t.r, t.buf = 0, nb
	}
	return kind, n, nil
}

// read reads a payload into dst: the buffered part is copied, a remainder
// of more than half the buffer is read straight into dst.
func (t *tcpReader) read(dst []byte) error {
	k := copy(dst, t.buf[t.r:t.w])
	t.r += k
	rest := dst[k:]
	if len(rest) == 0 {
		return nil
	}
	if len(rest) > len(t.buf)/2 {
		t.r, t.w = 0, 0
		_, err := io.ReadFull(t.c, rest)
		return eofIsUnexpected(err)
	}
	if err := t.fill(len(rest)); err != nil {
		return eofIsUnexpected(err)
	}
	t.r += copy(rest, t.buf[t.r:t.w])
	return nil
}

// skip discards a payload of n bytes.
func (t *tcpReader) skip(n int) error {
	for {
		d := min(n, t.w-t.r)
		t.r += d
		n -= d
		if n == 0 {
			return nil
		}
		k, err := t.c.Read(t.buf)
		t.r, t.w = 0, k
		if err != nil && k == 0 {
			return eofIsUnexpected(err)
		}
	}
}

// setSendBuffer holds c's socket send buffer to tcpBigBuf: on this
// machine 64 KiB streamed messages go 2–4× faster than with Linux's
// autotuned buffer (bench/runner, BenchmarkRPC/stream-bulk/tcp).
func setSendBuffer(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(tcpBigBuf) //nolint:errcheck // a hint: the default works too
	}
}

// readTCPFrame reads one frame into buf (reusing its capacity).
func readTCPFrame(r *tcpReader, buf []byte) (kind byte, payload []byte, err error) {
	kind, n, err := r.header()
	if err != nil {
		return 0, nil, err
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	return kind, buf, r.read(buf)
}

// A tcpWriter batches frames for one writev: headers and small payloads
// are copied into buf, larger payloads are referenced where they are, so
// they must stay unchanged until the next flush.
type tcpWriter struct {
	c      net.Conn
	buf    []byte // never grows past its capacity: iov points into it
	mark   int    // buf[mark:] is not in iov yet
	iov    net.Buffers
	out    net.Buffers // iov as handed to WriteTo, which consumes it
	queued int
}

func newTCPWriter(c net.Conn) *tcpWriter { return &tcpWriter{c: c, buf: make([]byte, 0, tcpSmallBuf)} }

func (w *tcpWriter) frame(kind byte, payload []byte) error {
	need := tcpHeaderLen
	if len(payload) <= tcpCopyMax {
		need += len(payload)
	}
	if len(w.buf)+need > cap(w.buf) {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(len(payload)))
	w.buf = append(w.buf, kind)
	if len(payload) <= tcpCopyMax {
		w.buf = append(w.buf, payload...)
	} else {
		w.iov = append(w.iov, w.buf[w.mark:len(w.buf):len(w.buf)], payload)
		w.mark = len(w.buf)
	}
	w.queued += tcpHeaderLen + len(payload)
	return nil
}

func (w *tcpWriter) flush() error {
	if len(w.buf) > w.mark {
		w.iov = append(w.iov, w.buf[w.mark:])
	}
	var err error
	switch len(w.iov) {
	case 0:
	case 1:
		_, err = w.c.Write(w.iov[0])
	default:
		w.out = w.iov
		_, err = w.out.WriteTo(w.c)
	}
	clear(w.iov)
	w.iov, w.buf, w.mark, w.queued = w.iov[:0], w.buf[:0], 0, 0
	return err
}

func (tcpSystem) Start() (Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &tcpServer{lis: lis, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				c.Close()
				return
			}
			s.conns[c] = struct{}{}
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				serveTCP(c) //nolint:errcheck // a broken connection just ends
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
		}
	}()
	return s, nil
}

// serveTCP answers one connection's frames in order, flushing when no
// further request is already buffered (answers to pipelined requests go out
// in one write), when tcpBigBuf is queued, and after echoing a payload too
// large to copy (the next read reuses its buffer).
func serveTCP(c net.Conn) error {
	setSendBuffer(c)
	r := newTCPReader(c)
	w := newTCPWriter(c)
	var buf []byte
	for {
		kind, p, err := readTCPFrame(r, buf)
		if err != nil {
			return err
		}
		buf = p
		switch kind {
		case tcpUnary:
			err = w.frame(tcpUnary, p)
			if err == nil && len(p) > tcpCopyMax {
				err = w.flush()
			}
		case tcpStream:
			var req StreamRequest
			if req, err = ParseStreamRequest(p); err != nil {
				return err
			}
			msg := streamPayload(req.Size) // read-only: safe to reference
			for i := 0; i < req.Count && err == nil; i++ {
				if err = w.frame(tcpStreamMsg, msg); err == nil && w.queued >= tcpBigBuf {
					err = w.flush()
				}
			}
			if err == nil {
				err = w.frame(tcpStreamEnd, nil)
			}
		default:
			return fmt.Errorf("tcp: unknown frame kind %q", kind)
		}
		if err != nil {
			return err
		}
		if r.w == r.r {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
}

type tcpServer struct {
	lis    net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool                  // guarded by mu
	conns  map[net.Conn]struct{} // guarded by mu
}

func (s *tcpServer) Addr() string { return s.lis.Addr().String() }
func (s *tcpServer) Close() error {
	s.mu.Lock()
	s.closed = true
	s.lis.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (tcpSystem) Dial(addr string, _ DialOptions) (Client, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	setSendBuffer(nc)
	c := &tcpClient{c: nc, done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// A tcpWaiter is one call waiting for its answer.
type tcpWaiter struct {
	resp  *[]byte   // unary: where the answer goes
	onMsg func(int) // stream: called per message
	errc  chan error
	frame []byte      // the request's header, and its payload if small
	iov   net.Buffers // the request as written
	out   net.Buffers // iov as handed to WriteTo, which consumes it
}

var tcpWaiters = sync.Pool{New: func() any { return &tcpWaiter{errc: make(chan error, 1)} }}

// tcpClient pipelines calls on one connection: a caller queues its waiter
// and writes its frame under wmu; readLoop (the connection's only reader)
// reads each answer straight into the buffer of the waiter at the head of
// the queue and wakes it.
type tcpClient struct {
	c    net.Conn
	wmu  sync.Mutex // serializes writes and queueing, so the queue is in wire order
	qmu  sync.Mutex
	q    []*tcpWaiter // guarded by qmu; waiting for answers, oldest first
	err  error        // guarded by qmu; set when readLoop ends
	done chan struct{}
}

func (c *tcpClient) Close() error {
	err := c.c.Close()
	<-c.done
	return err
}

func (c *tcpClient) call(ctx context.Context, w *tcpWaiter, kind byte, payload []byte) error {
	w.frame = binary.BigEndian.AppendUint32(w.frame[:0], uint32(len(payload)))
	w.frame = append(w.frame, kind)
	if len(payload) <= tcpCopyMax {
		w.frame = append(w.frame, payload...)
		w.iov = append(w.iov[:0], w.frame)
	} else {
		w.iov = append(w.iov[:0], w.frame, payload) // one writev, no copy
	}
	c.wmu.Lock()
	c.qmu.Lock()
	if c.err != nil {
		c.qmu.Unlock()
		c.wmu.Unlock()
		return c.err
	}
	c.q = append(c.q, w)
	c.qmu.Unlock()
	var err error
	if len(w.iov) == 1 {
		_, err = c.c.Write(w.frame)
	} else {
		w.out = w.iov
		_, err = w.out.WriteTo(c.c)
	}
	c.wmu.Unlock()
	clear(w.iov)
	if err != nil {
		c.c.Close() // readLoop fails every waiter, this one included
	}
	select {
	case err := <-w.errc:
		return err
	case <-ctx.Done():
		// The answer is still owed on the connection; give up on the
		// connection rather than desynchronize it.
		c.c.Close()
		return errors.Join(ctx.Err(), <-w.errc)
	}
}

func (c *tcpClient) readLoop() {
	defer close(c.done)
	r := newTCPReader(c.c)
	var err error
	for {
		var kind byte
		var n int
		if kind, n, err = r.header(); err != nil {
			break
		}
		c.qmu.Lock()
		if len(c.q) == 0 {
			c.qmu.Unlock()
			err = errors.New("tcp: answer with no call waiting")
			break
		}
		w := c.q[0]
		if kind == tcpStreamMsg {
			c.qmu.Unlock()
			if err = r.skip(n); err != nil {
				break
			}
			if w.onMsg != nil {
				w.onMsg(n)
			}
			continue
		}
		// Shift rather than reslice, so that the queue's array is reused
		// instead of reallocated as it creeps forward.
		copy(c.q, c.q[1:])
		c.q[len(c.q)-1] = nil
		c.q = c.q[:len(c.q)-1]
		c.qmu.Unlock()
		if w.resp != nil {
			b := *w.resp
			if cap(b) < n {
				b = make([]byte, n)
			}
			b = b[:n]
			err = r.read(b)
			*w.resp = b
		} else {
			err = r.skip(n)
		}
		if err != nil {
			w.errc <- err
			break
		}
		w.errc <- nil
	}
	c.c.Close()
	c.qmu.Lock()
	c.err = fmt.Errorf("tcp: connection ended: %w", err)
	q := c.q
	c.q = nil
	c.qmu.Unlock()
	for _, w := range q {
		w.errc <- c.err
	}
}

func (c *tcpClient) Unary(ctx context.Context, req []byte, resp *[]byte) error {
	w := tcpWaiters.Get().(*tcpWaiter)
	w.resp, w.onMsg = resp, nil
	err := c.call(ctx, w, tcpUnary, req)
	w.resp = nil
	tcpWaiters.Put(w)
	return err
}

func (c *tcpClient) ServerStream(ctx context.Context, size, count int, onMsg func(int)) error {
	w := tcpWaiters.Get().(*tcpWaiter)
	w.resp, w.onMsg = nil, onMsg
	var req [8]byte
	err := c.call(ctx, w, tcpStream, StreamRequest{Size: size, Count: count}.Append(req[:0]))
	w.onMsg = nil
	tcpWaiters.Put(w)
	return err
}

func (c *tcpClient) PingPong(context.Context) (PingPonger, error) {
	return tcpPingPong{c}, nil
}

// tcpPingPong is a round trip on the connection: raw TCP has no calls to
// open or close.
type tcpPingPong struct{ c *tcpClient }

func (p tcpPingPong) Exchange(req []byte, resp *[]byte) error {
	return p.c.Unary(context.Background(), req, resp)
}
func (p tcpPingPong) Close() error { return nil }
