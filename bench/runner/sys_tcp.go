package runner

import (
	"bufio"
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
// others are measured against.
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

// tcpBufSize is the size of each buffered reader and writer: large
// payloads bypass the buffers, small ones batch into it.
const tcpBufSize = 16 << 10

// readTCPFrame reads one frame into buf (reusing its capacity). The header
// is peeked in r's buffer, so reading allocates nothing.
func readTCPFrame(r *bufio.Reader, buf []byte) (kind byte, payload []byte, err error) {
	hdr, err := r.Peek(tcpHeaderLen)
	if err != nil {
		if err == io.EOF && len(hdr) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	kind = hdr[4]
	if n > maxStreamMsg {
		return 0, nil, fmt.Errorf("tcp: frame of %d bytes over the limit %d", n, maxStreamMsg)
	}
	r.Discard(tcpHeaderLen) //nolint:errcheck // the bytes were peeked
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	return kind, buf, nil
}

func appendTCPFrame(b []byte, kind byte, payload []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, kind)
	return append(b, payload...)
}

// writeTCPFrame writes one frame through w; the header goes into w's free
// buffer, so writing allocates nothing.
func writeTCPFrame(w *bufio.Writer, kind byte, payload []byte) error {
	if w.Available() < tcpHeaderLen {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	hdr := binary.BigEndian.AppendUint32(w.AvailableBuffer(), uint32(len(payload)))
	if _, err := w.Write(append(hdr, kind)); err != nil {
		return err
	}
	_, err := w.Write(payload)
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
// further request is already buffered: answers to pipelined requests go out
// in one write.
func serveTCP(c net.Conn) error {
	r := bufio.NewReaderSize(c, tcpBufSize)
	w := bufio.NewWriterSize(c, tcpBufSize)
	var buf []byte
	for {
		kind, p, err := readTCPFrame(r, buf)
		if err != nil {
			return err
		}
		buf = p
		switch kind {
		case tcpUnary:
			err = writeTCPFrame(w, tcpUnary, p)
		case tcpStream:
			var req StreamRequest
			if req, err = ParseStreamRequest(p); err != nil {
				return err
			}
			msg := streamPayload(req.Size)
			for i := 0; i < req.Count && err == nil; i++ {
				err = writeTCPFrame(w, tcpStreamMsg, msg)
			}
			if err == nil {
				err = writeTCPFrame(w, tcpStreamEnd, nil)
			}
		default:
			return fmt.Errorf("tcp: unknown frame kind %q", kind)
		}
		if err != nil {
			return err
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
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
	c := &tcpClient{c: nc, done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// A tcpWaiter is one call waiting for its answer.
type tcpWaiter struct {
	resp  *[]byte   // unary: where the answer goes
	onMsg func(int) // stream: called per message
	errc  chan error
	frame []byte // the request frame, reused
}

var tcpWaiters = sync.Pool{New: func() any { return &tcpWaiter{errc: make(chan error, 1)} }}

// tcpClient pipelines calls on one connection: a caller queues its waiter
// and writes its frame under wmu; readLoop (the connection's only reader)
// hands each answer to the waiter at the head of the queue.
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
	w.frame = appendTCPFrame(w.frame[:0], kind, payload)
	c.wmu.Lock()
	c.qmu.Lock()
	if c.err != nil {
		c.qmu.Unlock()
		c.wmu.Unlock()
		return c.err
	}
	c.q = append(c.q, w)
	c.qmu.Unlock()
	_, err := c.c.Write(w.frame)
	c.wmu.Unlock()
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
	r := bufio.NewReaderSize(c.c, tcpBufSize)
	var buf []byte
	var err error
	for {
		var kind byte
		var p []byte
		kind, p, err = readTCPFrame(r, buf)
		if err != nil {
			break
		}
		buf = p
		c.qmu.Lock()
		if len(c.q) == 0 {
			c.qmu.Unlock()
			err = errors.New("tcp: answer with no call waiting")
			break
		}
		w := c.q[0]
		if kind == tcpStreamMsg {
			c.qmu.Unlock()
			if w.onMsg != nil {
				w.onMsg(len(p))
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
			*w.resp = append((*w.resp)[:0], p...)
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
