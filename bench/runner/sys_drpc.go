package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"storj.io/drpc"
	"storj.io/drpc/drpcconn"
	"storj.io/drpc/drpcserver"
)

func init() { Register(drpcSystem{}) }

// drpcSystem is storj.io/drpc with rawEncoding. A drpc connection carries
// one call at a time, so its client is a small pool of connections, each
// lent to one caller at a time; with a pool of one, concurrent calls queue
// for the connection.
type drpcSystem struct{}

func (drpcSystem) Name() string        { return "drpc" }
func (drpcSystem) Supports(Shape) bool { return true }

// PoolSizes: one connection, or as many as calls in flight up to 16 — the
// report keeps the better.
func (drpcSystem) PoolSizes(concurrency int) []int {
	if concurrency <= 1 {
		return []int{1}
	}
	return []int{1, min(concurrency, 16)}
}

// rawEncoding is drpc's Encoding for []byte and *[]byte messages.
type rawEncoding struct{}

func (rawEncoding) Marshal(msg drpc.Message) ([]byte, error) {
	switch m := msg.(type) {
	case []byte:
		return m, nil
	case *[]byte:
		return *m, nil
	}
	return nil, fmt.Errorf("rawEncoding: cannot marshal %T", msg)
}

func (e rawEncoding) MarshalAppend(buf []byte, msg drpc.Message) ([]byte, error) {
	b, err := e.Marshal(msg)
	return append(buf, b...), err
}

func (rawEncoding) Unmarshal(buf []byte, msg drpc.Message) error {
	p, ok := msg.(*[]byte)
	if !ok {
		return fmt.Errorf("rawEncoding: cannot unmarshal into %T", msg)
	}
	*p = append((*p)[:0], buf...)
	return nil
}

// drpcHandler serves the three methods without drpcmux's reflection.
type drpcHandler struct{}

func (drpcHandler) HandleRPC(stream drpc.Stream, rpc string) error {
	enc := rawEncoding{}
	var b []byte
	switch rpc {
	case MethodUnary:
		if err := stream.MsgRecv(&b, enc); err != nil {
			return err
		}
		return stream.MsgSend(b, enc)
	case MethodStream:
		if err := stream.MsgRecv(&b, enc); err != nil {
			return err
		}
		r, err := ParseStreamRequest(b)
		if err != nil {
			return err
		}
		msg := streamPayload(r.Size)
		for range r.Count {
			if err := stream.MsgSend(msg, enc); err != nil {
				return err
			}
		}
		return stream.CloseSend()
	case MethodPingPong:
		for {
			if err := stream.MsgRecv(&b, enc); err != nil {
				if errors.Is(err, io.EOF) {
					return stream.CloseSend()
				}
				return err
			}
			if err := stream.MsgSend(b, enc); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("drpc: unknown method %q", rpc)
}

func (drpcSystem) Start() (Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &drpcServer{addr: lis.Addr().String(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		drpcserver.New(drpcHandler{}).Serve(ctx, lis) //nolint:errcheck // cancel ends it
	}()
	return s, nil
}

type drpcServer struct {
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
}

func (s *drpcServer) Addr() string { return s.addr }
func (s *drpcServer) Close() error {
	s.cancel()
	<-s.done
	return nil
}

func (drpcSystem) Dial(addr string, opts DialOptions) (Client, error) {
	n := max(opts.Pool, 1)
	c := &drpcClient{conns: make(chan *drpcconn.Conn, n)}
	for range n {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			c.Close()
			return nil, err
		}
		dc := drpcconn.New(nc)
		c.all = append(c.all, dc)
		c.conns <- dc
	}
	// One call per connection, so that setup is not measured.
	for range n {
		var resp []byte
		if err := c.Unary(context.Background(), nil, &resp); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

type drpcClient struct {
	conns chan *drpcconn.Conn // idle connections
	all   []*drpcconn.Conn
	once  sync.Once
}

func (c *drpcClient) Close() error {
	var errs []error
	c.once.Do(func() {
		for _, dc := range c.all {
			errs = append(errs, dc.Close())
		}
	})
	return errors.Join(errs...)
}

func (c *drpcClient) get(ctx context.Context) (*drpcconn.Conn, error) {
	select {
	case dc := <-c.conns:
		return dc, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *drpcClient) Unary(ctx context.Context, req []byte, resp *[]byte) error {
	dc, err := c.get(ctx)
	if err != nil {
		return err
	}
	defer func() { c.conns <- dc }()
	return dc.Invoke(ctx, MethodUnary, rawEncoding{}, req, resp)
}

func (c *drpcClient) ServerStream(ctx context.Context, size, count int, onMsg func(int)) error {
	dc, err := c.get(ctx)
	if err != nil {
		return err
	}
	defer func() { c.conns <- dc }()
	st, err := dc.NewStream(ctx, MethodStream, rawEncoding{})
	if err != nil {
		return err
	}
	defer st.Close()
	var req [8]byte
	if err := st.MsgSend(StreamRequest{Size: size, Count: count}.Append(req[:0]), rawEncoding{}); err != nil {
		return err
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	var msg []byte
	for {
		if err := st.MsgRecv(&msg, rawEncoding{}); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		onMsg(len(msg))
	}
}

func (c *drpcClient) PingPong(ctx context.Context) (PingPonger, error) {
	dc, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	st, err := dc.NewStream(ctx, MethodPingPong, rawEncoding{})
	if err != nil {
		c.conns <- dc
		return nil, err
	}
	return &drpcPingPong{st: st, release: func() { c.conns <- dc }}, nil
}

type drpcPingPong struct {
	st      drpc.Stream
	release func()
}

func (p *drpcPingPong) Exchange(req []byte, resp *[]byte) error {
	if err := p.st.MsgSend(req, rawEncoding{}); err != nil {
		return err
	}
	return p.st.MsgRecv(resp, rawEncoding{})
}

func (p *drpcPingPong) Close() error {
	defer p.release()
	defer p.st.Close()
	if err := p.st.CloseSend(); err != nil {
		return err
	}
	var b []byte
	if err := p.st.MsgRecv(&b, rawEncoding{}); !errors.Is(err, io.EOF) {
		return errors.Join(errors.New("pingpong: call did not end cleanly"), err)
	}
	return nil
}
