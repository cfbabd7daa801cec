package rpc_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"strings"

	"github.com/h2rpc/h2rpc/rpc"
)

// greeter is a service implementation; greeterDesc describes it the way
// generated code would.
type greeter struct{}

func (greeter) SayHello(ctx context.Context, name []byte) ([]byte, error) {
	if len(name) == 0 {
		return nil, rpc.Errorf(rpc.InvalidArgument, "name is empty")
	}
	return []byte("Hello " + string(name)), nil
}

func (greeter) Countdown(from []byte, stream rpc.ServerStream) error {
	for i := len(from); i > 0; i-- {
		if err := stream.SendMsg([]byte(strings.Repeat("*", i))); err != nil {
			return err
		}
	}
	return nil
}

var greeterDesc = rpc.ServiceDesc{
	ServiceName: "demo.Greeter",
	Methods: []rpc.MethodDesc{{
		MethodName: "SayHello",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor rpc.UnaryServerInterceptor) (any, error) {
			var name []byte
			if err := dec(&name); err != nil {
				return nil, err
			}
			if interceptor == nil {
				return srv.(greeter).SayHello(ctx, name)
			}
			info := &rpc.UnaryServerInfo{Server: srv, FullMethod: "/demo.Greeter/SayHello"}
			return interceptor(ctx, name, info, func(ctx context.Context, req any) (any, error) {
				return srv.(greeter).SayHello(ctx, req.([]byte))
			})
		},
	}},
	Streams: []rpc.StreamDesc{{
		StreamName:    "Countdown",
		ServerStreams: true,
		Handler: func(srv any, stream rpc.ServerStream) error {
			var from []byte
			if err := stream.RecvMsg(&from); err != nil {
				return err
			}
			return srv.(greeter).Countdown(from, stream)
		},
	}},
}

// serve starts a server with the greeter on a loopback port.
func serve() (addr string, stop func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := rpc.NewServer()
	srv.RegisterService(&greeterDesc, greeter{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(lis)
	}()
	return lis.Addr().String(), func() {
		srv.GracefulStop()
		<-done
	}
}

// A unary call and a failed one. Messages here are raw bytes (the default
// codec passes []byte through); generated types plug in through a Codec.
func Example() {
	addr, stop := serve()
	defer stop()

	cc, err := rpc.Dial(addr, rpc.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()

	var reply []byte
	if err := cc.Invoke(context.Background(), "/demo.Greeter/SayHello", []byte("Ada"), &reply); err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply))

	err = cc.Invoke(context.Background(), "/demo.Greeter/SayHello", []byte{}, &reply)
	fmt.Println(rpc.CodeOf(err), rpc.StatusOf(err).Message)

	err = cc.Invoke(context.Background(), "/demo.Greeter/Shout", []byte("Ada"), &reply)
	fmt.Println(rpc.CodeOf(err))
	// Output:
	// Hello Ada
	// InvalidArgument name is empty
	// Unimplemented
}

// A server-streaming call: one request, many responses, then io.EOF.
func ExampleClientConn_NewStream() {
	addr, stop := serve()
	defer stop()
	cc, err := rpc.Dial(addr, rpc.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends the stream if we stop early
	stream, err := cc.NewStream(ctx, &greeterDesc.Streams[0], "/demo.Greeter/Countdown")
	if err != nil {
		log.Fatal(err)
	}
	if err := stream.SendMsg([]byte("abc")); err != nil {
		log.Fatal(err)
	}
	stream.CloseSend()
	for {
		var m []byte
		err := stream.RecvMsg(&m)
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(m))
	}
	// Output:
	// ***
	// **
	// *
}

func ExampleErrorf() {
	err := fmt.Errorf("loading user: %w", rpc.Errorf(rpc.NotFound, "no user %d", 42))
	fmt.Println(rpc.CodeOf(err))
	fmt.Println(err)
	// Output:
	// NotFound
	// loading user: rpc error: code = NotFound desc = no user 42
}

func ExampleAppendToOutgoingContext() {
	ctx := rpc.AppendToOutgoingContext(context.Background(), "x-request-id", "r-17", "trace-bin", "\x01\x02")
	md, _ := rpc.FromOutgoingContext(ctx)
	fmt.Println(md.Get("x-request-id"), len(md.Get("trace-bin")[0]))
	// Output:
	// [r-17] 2
}

// Calls spread over three backends: a static target lists them (DNS,
// or a resolver of the application's, would find them), round_robin sends
// each call to the next ready one, and outlier detection takes a failing
// one out of the picks.
func ExampleWithBalancer() {
	var addrs []string
	for range 3 {
		addr, stop := serve()
		defer stop()
		addrs = append(addrs, addr)
	}
	cc, err := rpc.Dial("static:///"+strings.Join(addrs, ","), rpc.WithInsecure(),
		rpc.WithBalancer(rpc.RoundRobin()),
		rpc.WithOutlierDetection(rpc.OutlierConfig{ConsecutiveFailures: 5}))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	if err := cc.Connect(context.Background()); err != nil {
		log.Fatal(err)
	}
	for range 3 {
		var reply []byte
		if err := cc.Invoke(context.Background(), "/demo.Greeter/SayHello", []byte("Ada"), &reply, rpc.WaitForReady(true)); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(cc.State(), len(cc.Backends()), "backends")
	// Output: READY 3 backends
}
