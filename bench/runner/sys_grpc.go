package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/h2rpc/h2rpc/rpc"
)

func init() { Register(grpcSystem{}) }

// grpcSystem is google.golang.org/grpc with rawCodec forced on both sides,
// so no protobuf work is measured.
type grpcSystem struct{}

func (grpcSystem) Name() string        { return "grpc" }
func (grpcSystem) Supports(Shape) bool { return true }

// rawCodec passes []byte (or *[]byte) through as the message bytes. Its
// name is "proto" so requests carry plain application/grpc and any gRPC
// server accepts them (the load generator relies on it). Unmarshal copies
// into the caller's slice, reusing its capacity, because gRPC frees data
// when Unmarshal returns.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	switch m := v.(type) {
	case []byte:
		return mem.BufferSlice{mem.SliceBuffer(m)}, nil
	case *[]byte:
		return mem.BufferSlice{mem.SliceBuffer(*m)}, nil
	}
	return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	b := (*p)[:0]
	for _, buf := range data {
		b = append(b, buf.ReadOnlyData()...)
	}
	*p = b
	return nil
}

type grpcBenchServer interface{}

var grpcBenchDesc = grpc.ServiceDesc{
	ServiceName: "bench.Bench",
	HandlerType: (*grpcBenchServer)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Unary", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		var req []byte
		if err := dec(&req); err != nil {
			return nil, err
		}
		return req, nil
	}}},
	Streams: []grpc.StreamDesc{
		{StreamName: "Stream", ServerStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
			var b []byte
			if err := ss.RecvMsg(&b); err != nil {
				return err
			}
			r, err := ParseStreamRequest(b)
			if err != nil {
				return err
			}
			msg := streamPayload(r.Size)
			for range r.Count {
				if err := ss.SendMsg(msg); err != nil {
					return err
				}
			}
			return nil
		}},
		{StreamName: "PingPong", ServerStreams: true, ClientStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
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

func (grpcSystem) Start() (Server, error) { return startGRPC() }

// startGRPC starts the bench server with opts (TLS credentials, say).
func startGRPC(opts ...grpc.ServerOption) (Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer(append([]grpc.ServerOption{grpc.ForceServerCodecV2(rawCodec{}), grpc.MaxConcurrentStreams(benchStreams)}, opts...)...)
	srv.RegisterService(&grpcBenchDesc, struct{}{})
	s := &grpcServer{srv: srv, addr: lis.Addr().String()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.srv.Serve(lis) //nolint:errcheck // Stop ends it
	}()
	return s, nil
}

type grpcServer struct {
	srv  *grpc.Server
	addr string
	wg   sync.WaitGroup
}

func (s *grpcServer) Addr() string { return s.addr }
func (s *grpcServer) Close() error {
	s.srv.Stop()
	s.wg.Wait()
	return nil
}

func grpcDial(addr string) (*grpc.ClientConn, error) {
	return grpcDialWith(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// grpcDialWith dials with opts (the transport credentials option first).
func grpcDialWith(addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.NewClient("passthrough:///"+addr,
		append(opts, grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))...)
}

func (grpcSystem) Dial(addr string, _ DialOptions) (Client, error) {
	return dialGRPC(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// dialGRPC connects a bench client with opts (the transport credentials
// option first).
func dialGRPC(addr string, opts ...grpc.DialOption) (Client, error) {
	cc, err := grpcDialWith(addr, opts...)
	if err != nil {
		return nil, err
	}
	c := &grpcClient{cc: cc}
	// Wait for the connection with one call, so dialling is not measured.
	var resp []byte
	if err := c.Unary(context.Background(), nil, &resp); err != nil {
		cc.Close()
		return nil, err
	}
	return c, nil
}

type grpcClient struct{ cc *grpc.ClientConn }

func (c *grpcClient) Close() error { return c.cc.Close() }

func (c *grpcClient) Unary(ctx context.Context, req []byte, resp *[]byte) error {
	return c.cc.Invoke(ctx, MethodUnary, req, resp)
}

func (c *grpcClient) ServerStream(ctx context.Context, size, count int, onMsg func(int)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := c.cc.NewStream(ctx, &grpcBenchDesc.Streams[0], MethodStream)
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

func (c *grpcClient) PingPong(ctx context.Context) (PingPonger, error) {
	ctx, cancel := context.WithCancel(ctx)
	cs, err := c.cc.NewStream(ctx, &grpcBenchDesc.Streams[1], MethodPingPong)
	if err != nil {
		cancel()
		return nil, err
	}
	return &streamPingPong{cs: cs, cancel: cancel}, nil
}

// DialTarget implements targetDialer with grpc-go as the client.
func (grpcSystem) DialTarget(target string) (TargetClient, error) {
	cc, err := grpcDial(target)
	if err != nil {
		return nil, err
	}
	return &grpcTarget{cc: cc}, nil
}

type grpcTarget struct{ cc *grpc.ClientConn }

func (t *grpcTarget) Call(ctx context.Context, method string, req []byte, resp *[]byte) (string, error) {
	err := t.cc.Invoke(ctx, method, req, resp)
	return rpc.Code(status.Code(err)).String(), err
}
func (t *grpcTarget) Close() error { return t.cc.Close() }
