package messenger

// This file is the "generated" stub code of messenger.proto, written by hand
// in the shape protoc-gen-go-grpc gives grpc-go code, but over package rpc:
// a client type with one method per RPC, a server interface, a registration
// function and the ServiceDesc they share. Messages are the wire.Message
// types of ./pb, which rpc.DefaultCodec marshals as protobuf.

import (
	"context"

	"github.com/h2rpc/h2rpc/examples/messenger/pb"
	"github.com/h2rpc/h2rpc/rpc"
)

// ServiceName is the fully-qualified name of the service in messenger.proto.
const ServiceName = "messenger.LearningMessenger"

// The full method names, as they travel in :path.
const (
	GetLearningStatusMethod   = "/messenger.LearningMessenger/GetLearningStatus"
	StreamLearningsMethod     = "/messenger.LearningMessenger/StreamLearnings"
	SubmitResearchNotesMethod = "/messenger.LearningMessenger/SubmitResearchNotes"
	CollaborativeFeedMethod   = "/messenger.LearningMessenger/CollaborativeFeed"
)

// LearningMessengerClient is the client API of the LearningMessenger
// service: one method per RPC of messenger.proto.
type LearningMessengerClient interface {
	// GetLearningStatus is unary: one request, one response.
	GetLearningStatus(ctx context.Context, in *pb.StatusRequest, opts ...rpc.CallOption) (*pb.StatusResponse, error)
	// StreamLearnings is server streaming: one request, then Recv until
	// io.EOF.
	StreamLearnings(ctx context.Context, in *pb.TopicRequest, opts ...rpc.CallOption) (StreamLearningsClient, error)
	// SubmitResearchNotes is client streaming: Send the notes, then
	// CloseAndRecv the summary.
	SubmitResearchNotes(ctx context.Context, opts ...rpc.CallOption) (SubmitResearchNotesClient, error)
	// CollaborativeFeed is bidirectional: Send and Recv independently,
	// CloseSend when done sending, Recv until io.EOF.
	CollaborativeFeed(ctx context.Context, opts ...rpc.CallOption) (CollaborativeFeedClient, error)
}

type learningMessengerClient struct {
	cc *rpc.ClientConn
}

// NewLearningMessengerClient returns a client calling the service over cc.
func NewLearningMessengerClient(cc *rpc.ClientConn) LearningMessengerClient {
	return &learningMessengerClient{cc: cc}
}

func (c *learningMessengerClient) GetLearningStatus(ctx context.Context, in *pb.StatusRequest, opts ...rpc.CallOption) (*pb.StatusResponse, error) {
	out := new(pb.StatusResponse)
	if err := c.cc.Invoke(ctx, GetLearningStatusMethod, in, out, opts...); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *learningMessengerClient) StreamLearnings(ctx context.Context, in *pb.TopicRequest, opts ...rpc.CallOption) (StreamLearningsClient, error) {
	stream, err := c.cc.NewStream(ctx, &LearningMessengerServiceDesc.Streams[0], StreamLearningsMethod, opts...)
	if err != nil {
		return nil, err
	}
	x := &streamLearningsClient{stream}
	if err := x.SendMsg(in); err != nil {
		return nil, err
	}
	if err := x.CloseSend(); err != nil {
		return nil, err
	}
	return x, nil
}

// StreamLearningsClient receives the updates of a StreamLearnings call.
type StreamLearningsClient interface {
	// Recv returns the next update; io.EOF after the last one.
	Recv() (*pb.LearningUpdate, error)
	rpc.ClientStream
}

type streamLearningsClient struct{ rpc.ClientStream }

func (x *streamLearningsClient) Recv() (*pb.LearningUpdate, error) {
	m := new(pb.LearningUpdate)
	if err := x.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

func (c *learningMessengerClient) SubmitResearchNotes(ctx context.Context, opts ...rpc.CallOption) (SubmitResearchNotesClient, error) {
	stream, err := c.cc.NewStream(ctx, &LearningMessengerServiceDesc.Streams[1], SubmitResearchNotesMethod, opts...)
	if err != nil {
		return nil, err
	}
	return &submitResearchNotesClient{stream}, nil
}

// SubmitResearchNotesClient uploads the notes of a SubmitResearchNotes call.
type SubmitResearchNotesClient interface {
	Send(*pb.ResearchNote) error
	// CloseAndRecv ends the upload and returns the server's summary.
	CloseAndRecv() (*pb.SummaryResponse, error)
	rpc.ClientStream
}

type submitResearchNotesClient struct{ rpc.ClientStream }

func (x *submitResearchNotesClient) Send(m *pb.ResearchNote) error { return x.SendMsg(m) }

func (x *submitResearchNotesClient) CloseAndRecv() (*pb.SummaryResponse, error) {
	if err := x.CloseSend(); err != nil {
		return nil, err
	}
	m := new(pb.SummaryResponse)
	if err := x.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

func (c *learningMessengerClient) CollaborativeFeed(ctx context.Context, opts ...rpc.CallOption) (CollaborativeFeedClient, error) {
	stream, err := c.cc.NewStream(ctx, &LearningMessengerServiceDesc.Streams[2], CollaborativeFeedMethod, opts...)
	if err != nil {
		return nil, err
	}
	return &collaborativeFeedClient{stream}, nil
}

// CollaborativeFeedClient is the client side of a CollaborativeFeed call.
// Send and Recv may run on different goroutines.
type CollaborativeFeedClient interface {
	Send(*pb.FeedUpdate) error
	// Recv returns the next update from the server; io.EOF at the end.
	Recv() (*pb.FeedUpdate, error)
	rpc.ClientStream
}

type collaborativeFeedClient struct{ rpc.ClientStream }

func (x *collaborativeFeedClient) Send(m *pb.FeedUpdate) error { return x.SendMsg(m) }

func (x *collaborativeFeedClient) Recv() (*pb.FeedUpdate, error) {
	m := new(pb.FeedUpdate)
	if err := x.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

// LearningMessengerServer is the server API of the LearningMessenger
// service. Implementations should embed UnimplementedLearningMessengerServer
// so that methods added to the service later answer UNIMPLEMENTED instead
// of breaking the build.
type LearningMessengerServer interface {
	GetLearningStatus(context.Context, *pb.StatusRequest) (*pb.StatusResponse, error)
	StreamLearnings(*pb.TopicRequest, StreamLearningsServer) error
	SubmitResearchNotes(SubmitResearchNotesServer) error
	CollaborativeFeed(CollaborativeFeedServer) error
}

// UnimplementedLearningMessengerServer answers every method with
// UNIMPLEMENTED.
type UnimplementedLearningMessengerServer struct{}

func (UnimplementedLearningMessengerServer) GetLearningStatus(context.Context, *pb.StatusRequest) (*pb.StatusResponse, error) {
	return nil, rpc.Errorf(rpc.Unimplemented, "method GetLearningStatus not implemented")
}

func (UnimplementedLearningMessengerServer) StreamLearnings(*pb.TopicRequest, StreamLearningsServer) error {
	return rpc.Errorf(rpc.Unimplemented, "method StreamLearnings not implemented")
}

func (UnimplementedLearningMessengerServer) SubmitResearchNotes(SubmitResearchNotesServer) error {
	return rpc.Errorf(rpc.Unimplemented, "method SubmitResearchNotes not implemented")
}

func (UnimplementedLearningMessengerServer) CollaborativeFeed(CollaborativeFeedServer) error {
	return rpc.Errorf(rpc.Unimplemented, "method CollaborativeFeed not implemented")
}

// RegisterLearningMessengerServer registers srv with s. Call it before
// s.Serve.
func RegisterLearningMessengerServer(s *rpc.Server, srv LearningMessengerServer) {
	s.RegisterService(&LearningMessengerServiceDesc, srv)
}

// StreamLearningsServer sends the updates of a StreamLearnings call.
type StreamLearningsServer interface {
	Send(*pb.LearningUpdate) error
	rpc.ServerStream
}

type streamLearningsServer struct{ rpc.ServerStream }

func (x *streamLearningsServer) Send(m *pb.LearningUpdate) error { return x.SendMsg(m) }

// SubmitResearchNotesServer receives the notes of a SubmitResearchNotes
// call and answers once.
type SubmitResearchNotesServer interface {
	// Recv returns the next note; io.EOF once the client has sent them all.
	Recv() (*pb.ResearchNote, error)
	// SendAndClose sends the one response; the handler then returns nil.
	SendAndClose(*pb.SummaryResponse) error
	rpc.ServerStream
}

type submitResearchNotesServer struct{ rpc.ServerStream }

func (x *submitResearchNotesServer) Recv() (*pb.ResearchNote, error) {
	m := new(pb.ResearchNote)
	if err := x.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

func (x *submitResearchNotesServer) SendAndClose(m *pb.SummaryResponse) error { return x.SendMsg(m) }

// CollaborativeFeedServer is the server side of a CollaborativeFeed call.
type CollaborativeFeedServer interface {
	Send(*pb.FeedUpdate) error
	// Recv returns the next update from the client; io.EOF at its end.
	Recv() (*pb.FeedUpdate, error)
	rpc.ServerStream
}

type collaborativeFeedServer struct{ rpc.ServerStream }

func (x *collaborativeFeedServer) Send(m *pb.FeedUpdate) error { return x.SendMsg(m) }

func (x *collaborativeFeedServer) Recv() (*pb.FeedUpdate, error) {
	m := new(pb.FeedUpdate)
	if err := x.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

func getLearningStatusHandler(srv any, ctx context.Context, dec func(any) error, interceptor rpc.UnaryServerInterceptor) (any, error) {
	in := new(pb.StatusRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(LearningMessengerServer).GetLearningStatus(ctx, in)
	}
	info := &rpc.UnaryServerInfo{Server: srv, FullMethod: GetLearningStatusMethod}
	return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
		return srv.(LearningMessengerServer).GetLearningStatus(ctx, req.(*pb.StatusRequest))
	})
}

func streamLearningsHandler(srv any, stream rpc.ServerStream) error {
	in := new(pb.TopicRequest)
	if err := stream.RecvMsg(in); err != nil {
		return err
	}
	return srv.(LearningMessengerServer).StreamLearnings(in, &streamLearningsServer{stream})
}

func submitResearchNotesHandler(srv any, stream rpc.ServerStream) error {
	return srv.(LearningMessengerServer).SubmitResearchNotes(&submitResearchNotesServer{stream})
}

func collaborativeFeedHandler(srv any, stream rpc.ServerStream) error {
	return srv.(LearningMessengerServer).CollaborativeFeed(&collaborativeFeedServer{stream})
}

// LearningMessengerServiceDesc describes the service for
// rpc.Server.RegisterService and its streams for rpc.ClientConn.NewStream.
// Do not modify it.
var LearningMessengerServiceDesc = rpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*LearningMessengerServer)(nil),
	Methods: []rpc.MethodDesc{
		{MethodName: "GetLearningStatus", Handler: getLearningStatusHandler},
	},
	Streams: []rpc.StreamDesc{
		{StreamName: "StreamLearnings", Handler: streamLearningsHandler, ServerStreams: true},
		{StreamName: "SubmitResearchNotes", Handler: submitResearchNotesHandler, ClientStreams: true},
		{StreamName: "CollaborativeFeed", Handler: collaborativeFeedHandler, ServerStreams: true, ClientStreams: true},
	},
	Metadata: "messenger.proto",
}
