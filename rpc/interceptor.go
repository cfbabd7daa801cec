package rpc

import "context"

// Interceptors wrap calls on both sides, one composable layer each (auth,
// metrics, tracing, retries). The shapes follow grpc-go's so its patterns and
// generated code carry over.

// UnaryServerInfo describes a unary call to a UnaryServerInterceptor.
type UnaryServerInfo struct {
	Server     any    // the service implementation
	FullMethod string // "/package.Service/Method"
}

// UnaryHandler is the next step of a unary call on the server.
type UnaryHandler func(ctx context.Context, req any) (any, error)

// UnaryServerInterceptor intercepts unary calls on the server; it calls
// handler to go on.
type UnaryServerInterceptor func(ctx context.Context, req any, info *UnaryServerInfo, handler UnaryHandler) (any, error)

// StreamServerInfo describes a streaming call to a StreamServerInterceptor.
type StreamServerInfo struct {
	FullMethod     string
	IsClientStream bool
	IsServerStream bool
}

// StreamServerInterceptor intercepts streaming calls on the server; it calls
// handler to go on.
type StreamServerInterceptor func(srv any, ss ServerStream, info *StreamServerInfo, handler StreamHandler) error

// UnaryInvoker is the next step of a unary call on the client.
type UnaryInvoker func(ctx context.Context, method string, req, reply any, cc *ClientConn, opts ...CallOption) error

// UnaryClientInterceptor intercepts unary calls on the client; it calls
// invoker to go on.
type UnaryClientInterceptor func(ctx context.Context, method string, req, reply any, cc *ClientConn, invoker UnaryInvoker, opts ...CallOption) error

// Streamer is the next step of opening a streaming call on the client.
type Streamer func(ctx context.Context, desc *StreamDesc, cc *ClientConn, method string, opts ...CallOption) (ClientStream, error)

// StreamClientInterceptor intercepts the opening of streaming calls on the
// client; it calls streamer to go on.
type StreamClientInterceptor func(ctx context.Context, desc *StreamDesc, cc *ClientConn, method string, streamer Streamer, opts ...CallOption) (ClientStream, error)

func chainUnaryServer(outer, inner UnaryServerInterceptor) UnaryServerInterceptor {
	if outer == nil {
		return inner
	}
	return func(ctx context.Context, req any, info *UnaryServerInfo, handler UnaryHandler) (any, error) {
		return outer(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			return inner(ctx, req, info, handler)
		})
	}
}

func chainStreamServer(outer, inner StreamServerInterceptor) StreamServerInterceptor {
	if outer == nil {
		return inner
	}
	return func(srv any, ss ServerStream, info *StreamServerInfo, handler StreamHandler) error {
		return outer(srv, ss, info, func(srv any, ss ServerStream) error {
			return inner(srv, ss, info, handler)
		})
	}
}

func chainUnaryClient(outer, inner UnaryClientInterceptor) UnaryClientInterceptor {
	if outer == nil {
		return inner
	}
	return func(ctx context.Context, method string, req, reply any, cc *ClientConn, invoker UnaryInvoker, opts ...CallOption) error {
		return outer(ctx, method, req, reply, cc, func(ctx context.Context, method string, req, reply any, cc *ClientConn, opts ...CallOption) error {
			return inner(ctx, method, req, reply, cc, invoker, opts...)
		}, opts...)
	}
}

func chainStreamClient(outer, inner StreamClientInterceptor) StreamClientInterceptor {
	if outer == nil {
		return inner
	}
	return func(ctx context.Context, desc *StreamDesc, cc *ClientConn, method string, streamer Streamer, opts ...CallOption) (ClientStream, error) {
		return outer(ctx, desc, cc, method, func(ctx context.Context, desc *StreamDesc, cc *ClientConn, method string, opts ...CallOption) (ClientStream, error) {
			return inner(ctx, desc, cc, method, streamer, opts...)
		}, opts...)
	}
}
