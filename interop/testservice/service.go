package testservice

import (
	"context"

	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/h2rpc/h2rpc/rpc"
)

// The services and methods of grpc's src/proto/grpc/testing/test.proto
// that the interop cases call.
const (
	ServiceName              = "grpc.testing.TestService"
	UnimplementedServiceName = "grpc.testing.UnimplementedService"

	EmptyCallMethod           = "/grpc.testing.TestService/EmptyCall"
	UnaryCallMethod           = "/grpc.testing.TestService/UnaryCall"
	StreamingOutputCallMethod = "/grpc.testing.TestService/StreamingOutputCall"
	StreamingInputCallMethod  = "/grpc.testing.TestService/StreamingInputCall"
	FullDuplexCallMethod      = "/grpc.testing.TestService/FullDuplexCall"
	HalfDuplexCallMethod      = "/grpc.testing.TestService/HalfDuplexCall"
	// UnimplementedCallMethod is in test.proto but no server implements it.
	UnimplementedCallMethod = "/grpc.testing.TestService/UnimplementedCall"
	// UnimplementedServiceCallMethod belongs to a service no server registers.
	UnimplementedServiceCallMethod = "/grpc.testing.UnimplementedService/UnimplementedCall"
)

// The shapes of the streaming methods, for rpc.ClientConn.NewStream.
var (
	streamingOutputDesc = &rpc.StreamDesc{StreamName: "StreamingOutputCall", ServerStreams: true}
	streamingInputDesc  = &rpc.StreamDesc{StreamName: "StreamingInputCall", ClientStreams: true}
	fullDuplexDesc      = &rpc.StreamDesc{StreamName: "FullDuplexCall", ServerStreams: true, ClientStreams: true}
)

// Register registers srv as grpc.testing.TestService on s. The server must
// use Codec (rpc.ServerCodec(testservice.Codec)) to decode the messages.
// UnimplementedCall is deliberately left out: calling it must fail with
// UNIMPLEMENTED, which is what an unregistered method gets.
func Register(s *rpc.Server, srv *Server) {
	s.RegisterService(&rpc.ServiceDesc{
		ServiceName: ServiceName,
		Methods: []rpc.MethodDesc{
			{MethodName: "EmptyCall", Handler: unaryHandler(EmptyCallMethod, srv.EmptyCall)},
			{MethodName: "UnaryCall", Handler: unaryHandler(UnaryCallMethod, srv.UnaryCall)},
		},
		Streams: []rpc.StreamDesc{
			{StreamName: "StreamingOutputCall", ServerStreams: true, Handler: func(_ any, ss rpc.ServerStream) error {
				in := new(testpb.StreamingOutputCallRequest)
				if err := ss.RecvMsg(in); err != nil {
					return err
				}
				return srv.StreamingOutputCall(in, ss)
			}},
			{StreamName: "StreamingInputCall", ClientStreams: true, Handler: func(_ any, ss rpc.ServerStream) error {
				return srv.StreamingInputCall(ss)
			}},
			{StreamName: "FullDuplexCall", ServerStreams: true, ClientStreams: true, Handler: func(_ any, ss rpc.ServerStream) error {
				return srv.FullDuplexCall(ss)
			}},
			{StreamName: "HalfDuplexCall", ServerStreams: true, ClientStreams: true, Handler: func(_ any, ss rpc.ServerStream) error {
				return srv.HalfDuplexCall(ss)
			}},
		},
		Metadata: "grpc/testing/test.proto",
	}, srv)
}

// unaryHandler adapts a typed unary method to rpc.MethodHandler.
func unaryHandler[Req any, PReq interface {
	*Req
}, Resp any](method string, f func(context.Context, PReq) (Resp, error)) rpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, interceptor rpc.UnaryServerInterceptor) (any, error) {
		in := PReq(new(Req))
		if err := dec(in); err != nil {
			return nil, err
		}
		if interceptor == nil {
			return f(ctx, in)
		}
		info := &rpc.UnaryServerInfo{Server: srv, FullMethod: method}
		return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
			return f(ctx, req.(PReq))
		})
	}
}
