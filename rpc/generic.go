package rpc

import "context"

// The interfaces and types in this file are what generated stubs
// (protoc-gen-go-h2rpc) build on, in the shape grpc-go's generated code
// uses: one typed stream per call shape instead of one hand-written type
// per streaming method.

// ClientConnInterface is what a generated client needs of a connection:
// *ClientConn implements it, and so can a wrapper (a test double, a
// connection that adds metadata to every call).
type ClientConnInterface interface {
	// Invoke makes a unary call.
	Invoke(ctx context.Context, method string, req, reply any, opts ...CallOption) error
	// NewStream starts a streaming call.
	NewStream(ctx context.Context, desc *StreamDesc, method string, opts ...CallOption) (ClientStream, error)
}

// ServiceRegistrar is what a generated Register function needs of a
// server: *Server implements it.
type ServiceRegistrar interface {
	RegisterService(desc *ServiceDesc, impl any)
}

var (
	_ ClientConnInterface = (*ClientConn)(nil)
	_ ServiceRegistrar    = (*Server)(nil)
)

// ServerStreamingClient is the client side of a server-streaming call:
// the request went out with the call; Recv returns the responses, then
// io.EOF after the last one (or the call's error status).
type ServerStreamingClient[Res any] interface {
	Recv() (*Res, error)
	ClientStream
}

// ClientStreamingClient is the client side of a client-streaming call:
// Send the requests, then CloseAndRecv the one response.
type ClientStreamingClient[Req, Res any] interface {
	Send(*Req) error
	CloseAndRecv() (*Res, error)
	ClientStream
}

// BidiStreamingClient is the client side of a bidirectional call: Send
// and Recv may run on two goroutines; CloseSend when done sending, Recv
// until io.EOF.
type BidiStreamingClient[Req, Res any] interface {
	Send(*Req) error
	Recv() (*Res, error)
	ClientStream
}

// ServerStreamingServer is the server side of a server-streaming call:
// the handler got the request as an argument and Sends the responses.
type ServerStreamingServer[Res any] interface {
	Send(*Res) error
	ServerStream
}

// ClientStreamingServer is the server side of a client-streaming call:
// Recv the requests until io.EOF, then SendAndClose the one response and
// return nil.
type ClientStreamingServer[Req, Res any] interface {
	Recv() (*Req, error)
	SendAndClose(*Res) error
	ServerStream
}

// BidiStreamingServer is the server side of a bidirectional call.
type BidiStreamingServer[Req, Res any] interface {
	Recv() (*Req, error)
	Send(*Res) error
	ServerStream
}

// GenericClientStream implements the three client stream interfaces over
// a ClientStream; generated code wraps the stream NewStream returns in it.
type GenericClientStream[Req, Res any] struct {
	ClientStream
}

var (
	_ ServerStreamingClient[int]      = (*GenericClientStream[int, int])(nil)
	_ ClientStreamingClient[int, int] = (*GenericClientStream[int, int])(nil)
	_ BidiStreamingClient[int, int]   = (*GenericClientStream[int, int])(nil)
)

// Send sends one request.
func (x *GenericClientStream[Req, Res]) Send(m *Req) error { return x.ClientStream.SendMsg(m) }

// Recv receives the next response: io.EOF at the end of a call that ended
// OK, the status error otherwise.
func (x *GenericClientStream[Req, Res]) Recv() (*Res, error) {
	m := new(Res)
	if err := x.ClientStream.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

// CloseAndRecv half-closes the call and receives the one response.
func (x *GenericClientStream[Req, Res]) CloseAndRecv() (*Res, error) {
	if err := x.ClientStream.CloseSend(); err != nil {
		return nil, err
	}
	m := new(Res)
	if err := x.ClientStream.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

// GenericServerStream implements the three server stream interfaces over
// a ServerStream; generated handlers wrap the call's stream in it.
type GenericServerStream[Req, Res any] struct {
	ServerStream
}

var (
	_ ServerStreamingServer[int]      = (*GenericServerStream[int, int])(nil)
	_ ClientStreamingServer[int, int] = (*GenericServerStream[int, int])(nil)
	_ BidiStreamingServer[int, int]   = (*GenericServerStream[int, int])(nil)
)

// Send sends one response.
func (x *GenericServerStream[Req, Res]) Send(m *Res) error { return x.ServerStream.SendMsg(m) }

// SendAndClose sends the one response of a client-streaming call; the
// handler then returns nil, which ends the call with OK.
func (x *GenericServerStream[Req, Res]) SendAndClose(m *Res) error {
	return x.ServerStream.SendMsg(m)
}

// Recv receives the next request: io.EOF once the client has sent them
// all.
func (x *GenericServerStream[Req, Res]) Recv() (*Req, error) {
	m := new(Req)
	if err := x.ServerStream.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}
