package runner

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/rpc"
)

func init() { Register(h2rpcSystem{}) }

// h2rpcSystem is this repository's rpc package with its default codec,
// which passes []byte and *[]byte through untouched.
type h2rpcSystem struct{}

func (h2rpcSystem) Name() string        { return "h2rpc" }
func (h2rpcSystem) Supports(Shape) bool { return true }

// benchStreams is the stream limit every HTTP/2 server here advertises, so
// 256 calls in flight fit on one connection.
const benchStreams = 1024

var h2rpcBenchDesc = rpc.ServiceDesc{
	ServiceName: "bench.Bench",
	Methods: []rpc.MethodDesc{{MethodName: "Unary", Handler: func(_ any, ctx context.Context, dec func(any) error, _ rpc.UnaryServerInterceptor) (any, error) {
		var req []byte
		if err := dec(&req); err != nil {
			return nil, err
		}
		return req, nil
	}}},
	Streams: []rpc.StreamDesc{
		{StreamName: "Stream", ServerStreams: true, Handler: func(_ any, ss rpc.ServerStream) error {
			var b []byte
			if err := ss.RecvMsg(&b); err != nil {
				return err
			}
			r, err := ParseStreamRequest(b)
			if err != nil {
				return rpc.Errorf(rpc.InvalidArgument, "%v", err)
			}
			msg := streamPayload(r.Size)
			for range r.Count {
				if err := ss.SendMsg(msg); err != nil {
					return err
				}
			}
			return nil
		}},
		{StreamName: "PingPong", ServerStreams: true, ClientStreams: true, Handler: func(_ any, ss rpc.ServerStream) error {
			var b []byte
			for {
				if err := ss.RecvMsg(&b); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
				if err := ss.SendMsg(b); err != nil {
					return err
				}
			}
		}},
	},
}

func (h2rpcSystem) Start() (Server, error) { return startH2RPC() }

// startH2RPC starts the bench server with opts (TLS, say).
func startH2RPC(opts ...rpc.ServerOption) (Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := rpc.NewServer(append([]rpc.ServerOption{rpc.ServerConnConfig(&conn.Config{MaxConcurrentStreams: benchStreams})}, opts...)...)
	srv.RegisterService(&h2rpcBenchDesc, nil)
	s := &h2rpcServer{srv: srv, addr: lis.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.srv.Serve(lis) //nolint:errcheck // Close reports nothing of it
	}()
	return s, nil
}

type h2rpcServer struct {
	srv  *rpc.Server
	addr string
	done chan struct{}
}

func (s *h2rpcServer) Addr() string { return s.addr }
func (s *h2rpcServer) Close() error {
	s.srv.Stop()
	<-s.done
	return nil
}

func (h2rpcSystem) Dial(addr string, _ DialOptions) (Client, error) {
	return dialH2RPC(addr, rpc.WithInsecure())
}

// dialH2RPC connects a bench client with opts (its transport security
// among them).
func dialH2RPC(addr string, opts ...rpc.DialOption) (Client, error) {
	cc, err := rpc.Dial(addr, opts...)
	if err != nil {
		return nil, err
	}
	if err := cc.Connect(context.Background()); err != nil {
		cc.Close()
		return nil, err
	}
	return &h2rpcClient{cc: cc}, nil
}

type h2rpcClient struct{ cc *rpc.ClientConn }

func (c *h2rpcClient) Close() error { return c.cc.Close() }

func (c *h2rpcClient) Unary(ctx context.Context, req []byte, resp *[]byte) error {
	return c.cc.Invoke(ctx, MethodUnary, req, resp)
}

var (
	h2rpcStreamDesc   = &h2rpcBenchDesc.Streams[0]
	h2rpcPingPongDesc = &h2rpcBenchDesc.Streams[1]
)

func (c *h2rpcClient) ServerStream(ctx context.Context, size, count int, onMsg func(int)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := c.cc.NewStream(ctx, h2rpcStreamDesc, MethodStream)
	if err != nil {
		return err
	}
	var req [8]byte
	if err := cs.SendMsg(StreamRequest{Size: size, Count: count}.Append(req[:0])); err != nil {
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	var msg []byte
	for {
		if err := cs.RecvMsg(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		onMsg(len(msg))
	}
}

func (c *h2rpcClient) PingPong(ctx context.Context) (PingPonger, error) {
	ctx, cancel := context.WithCancel(ctx)
	cs, err := c.cc.NewStream(ctx, h2rpcPingPongDesc, MethodPingPong)
	if err != nil {
		cancel()
		return nil, err
	}
	return &streamPingPong{cs: cs, cancel: cancel}, nil
}

// DialTarget implements targetDialer: a load-generator client for any gRPC
// server.
func (h2rpcSystem) DialTarget(target string) (TargetClient, error) {
	cc, err := rpc.Dial(target, rpc.WithInsecure())
	if err != nil {
		return nil, err
	}
	return &h2rpcTarget{cc: cc}, nil
}

type h2rpcTarget struct{ cc *rpc.ClientConn }

func (t *h2rpcTarget) Call(ctx context.Context, method string, req []byte, resp *[]byte) (string, error) {
	err := t.cc.Invoke(ctx, method, req, resp)
	return rpc.CodeOf(err).String(), err
}
func (t *h2rpcTarget) Close() error { return t.cc.Close() }
