// Command h2rpc is the route guide of ../grpcgo moved to h2rpc: the stubs
// come from protoc-gen-go-h2rpc instead of protoc-gen-go-grpc, and only the
// imports and the lines that serve and dial changed.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"

	pb "github.com/h2rpc/h2rpc/protobuf/examples/routeguide/h2rpc/pb"
	"github.com/h2rpc/h2rpc/rpc"
)

// features are the named points of the map.
var features = []*pb.Feature{
	{Name: "Lighthouse", Location: &pb.Point{Latitude: 1, Longitude: 1}},
	{Name: "Old mill", Location: &pb.Point{Latitude: 2, Longitude: 5}},
	{Name: "Bridge", Location: &pb.Point{Latitude: 4, Longitude: 3}},
}

type server struct {
	pb.UnimplementedRouteGuideServer
	mu    sync.Mutex
	notes map[string][]*pb.RouteNote
}

func (s *server) GetFeature(_ context.Context, p *pb.Point) (*pb.Feature, error) {
	for _, f := range features {
		if f.Location.Latitude == p.Latitude && f.Location.Longitude == p.Longitude {
			return f, nil
		}
	}
	return &pb.Feature{Location: p}, nil
}

func (s *server) ListFeatures(r *pb.Rectangle, stream pb.RouteGuide_ListFeaturesServer) error {
	for _, f := range features {
		l := f.Location
		if l.Latitude >= r.Lo.Latitude && l.Latitude <= r.Hi.Latitude && l.Longitude >= r.Lo.Longitude && l.Longitude <= r.Hi.Longitude {
			if err := stream.Send(f); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *server) RecordRoute(stream pb.RouteGuide_RecordRouteServer) error {
	var sum pb.RouteSummary
	var last *pb.Point
	for {
		p, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&sum)
		}
		if err != nil {
			return err
		}
		sum.PointCount++
		if f, _ := s.GetFeature(stream.Context(), p); f.Name != "" {
			sum.FeatureCount++
		}
		if last != nil {
			sum.Distance += abs(p.Latitude-last.Latitude) + abs(p.Longitude-last.Longitude)
		}
		last = p
	}
}

func (s *server) RouteChat(stream pb.RouteGuide_RouteChatServer) error {
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		key := fmt.Sprint(in.Location.Latitude, ",", in.Location.Longitude)
		s.mu.Lock()
		earlier := append([]*pb.RouteNote(nil), s.notes[key]...)
		s.notes[key] = append(s.notes[key], in)
		s.mu.Unlock()
		for _, n := range earlier {
			if err := stream.Send(n); err != nil {
				return err
			}
		}
	}
}

func abs(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

func runClient(ctx context.Context, c pb.RouteGuideClient) error {
	f, err := c.GetFeature(ctx, &pb.Point{Latitude: 2, Longitude: 5})
	if err != nil {
		return err
	}
	fmt.Printf("GetFeature: %q\n", f.Name)

	list, err := c.ListFeatures(ctx, &pb.Rectangle{Lo: &pb.Point{Latitude: 0, Longitude: 0}, Hi: &pb.Point{Latitude: 3, Longitude: 9}})
	if err != nil {
		return err
	}
	for {
		f, err := list.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		fmt.Printf("ListFeatures: %q\n", f.Name)
	}

	route, err := c.RecordRoute(ctx)
	if err != nil {
		return err
	}
	for _, p := range []*pb.Point{{Latitude: 1, Longitude: 1}, {Latitude: 1, Longitude: 4}, {Latitude: 4, Longitude: 3}} {
		if err := route.Send(p); err != nil {
			return err
		}
	}
	sum, err := route.CloseAndRecv()
	if err != nil {
		return err
	}
	fmt.Printf("RecordRoute: %d points, %d features, distance %d\n", sum.PointCount, sum.FeatureCount, sum.Distance)

	chat, err := c.RouteChat(ctx)
	if err != nil {
		return err
	}
	for _, msg := range []string{"first", "second", "third"} {
		if err := chat.Send(&pb.RouteNote{Location: &pb.Point{Latitude: 7, Longitude: 7}, Message: msg}); err != nil {
			return err
		}
	}
	if err := chat.CloseSend(); err != nil {
		return err
	}
	var got []string
	for {
		n, err := chat.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		got = append(got, n.Message)
	}
	fmt.Printf("RouteChat: %s\n", strings.Join(got, " "))
	return nil
}

func main() {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	s := rpc.NewServer()
	pb.RegisterRouteGuideServer(s, &server{notes: map[string][]*pb.RouteNote{}})
	go s.Serve(lis)
	defer s.Stop()

	conn, err := rpc.Dial(lis.Addr().String(), rpc.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	if err := runClient(context.Background(), pb.NewRouteGuideClient(conn)); err != nil {
		log.Fatal(err)
	}
}
