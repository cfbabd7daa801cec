package protobuf_test

import (
	"context"
	"testing"

	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/shapes"
	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/shapes/shapesnoembed"
	"github.com/h2rpc/h2rpc/rpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// allShapes implements Shapes without embedding anything, which the stubs
// generated with require_unimplemented_servers=false allow.
type allShapes struct{}

var _ shapesnoembed.ShapesServer = allShapes{}

func (allShapes) Unary(_ context.Context, in *shapes.Request) (*shapes.Response, error) {
	// optional fields keep their presence: a set empty nickname is not none.
	if in.Nickname != nil {
		return &shapes.Response{Greeting: "hello " + in.Name + " aka [" + in.GetNickname() + "]"}, nil
	}
	return &shapes.Response{Greeting: "hello " + in.Name}, nil
}
func (allShapes) ServerStream(*shapes.Request, shapesnoembed.Shapes_ServerStreamServer) error {
	return nil
}
func (allShapes) ClientStream(shapesnoembed.Shapes_ClientStreamServer) error { return nil }
func (allShapes) Bidi(shapesnoembed.Shapes_BidiServer) error                 { return nil }
func (allShapes) Ping(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
func (allShapes) Old(ctx context.Context, in *shapes.Request) (*shapes.Response, error) {
	return allShapes{}.Unary(ctx, in)
}

func TestShapesWithoutEmbedding(t *testing.T) {
	addr := serveH2(t, func(s *rpc.Server) { shapesnoembed.RegisterShapesServer(s, allShapes{}) })
	c := shapesnoembed.NewShapesClient(dialH2(t, addr))
	ctx := context.Background()
	if _, err := c.Ping(ctx, &emptypb.Empty{}); err != nil {
		t.Errorf("Ping with a well-known type: %v", err)
	}
	for _, tc := range []struct {
		in   *shapes.Request
		want string
	}{
		{&shapes.Request{Name: "ada"}, "hello ada"},
		{&shapes.Request{Name: "ada", Nickname: proto.String("")}, "hello ada aka []"},
	} {
		resp, err := c.Unary(ctx, tc.in)
		if err != nil || resp.Greeting != tc.want {
			t.Errorf("Unary(%v) = %v, %v; want %q", tc.in, resp, err, tc.want)
		}
	}
	// The stubs of the other package, with the embedding required, reach
	// the same service: the names on the wire are the .proto's.
	if resp, err := shapes.NewShapesClient(dialH2(t, addr)).Unary(ctx, &shapes.Request{Name: "x"}); err != nil || resp.Greeting != "hello x" {
		t.Errorf("Unary through the other stubs = %v, %v", resp, err)
	}
}
