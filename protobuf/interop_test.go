package protobuf_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/internal/leakcheck"
	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/interoppb"
	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/interoppb/interoph2"
	"github.com/h2rpc/h2rpc/rpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// sample builds item i, with every kind of field set: nested messages,
// repeated fields, both maps, a oneof (rotating through its three cases)
// and an optional.
func sample(i int) *interoppb.Item {
	it := &interoppb.Item{
		Id:        fmt.Sprintf("item-%d", i),
		Kind:      interoppb.Kind(1 + i%2),
		Author:    &interoppb.Item_Author{Name: "ada", Emails: []string{"ada@example.com", fmt.Sprint(i)}},
		Scores:    []int64{int64(i), -1, 1 << 40},
		Counts:    map[string]int32{"a": int32(i), "b": 2},
		Reviewers: map[int32]*interoppb.Item_Author{7: {Name: "bob"}},
	}
	switch i % 3 {
	case 0:
		it.Body = &interoppb.Item_Text{Text: "text ✓"}
	case 1:
		it.Body = &interoppb.Item_Blob{Blob: []byte{0, 1, 2, 255}}
	default:
		it.Body = &interoppb.Item_Child{Child: &interoppb.Item{Id: "child", Kind: interoppb.Kind_KIND_NOTE}}
	}
	if i%2 == 0 {
		it.Weight = proto.Float64(0) // set, to its default: presence must survive
	}
	return it
}

// The service's semantics, shared by both servers.

func get(in *interoppb.Item) *interoppb.Item {
	out := proto.CloneOf(in)
	out.Id = strings.ToUpper(out.Id)
	return out
}

func list(q *interoppb.Query) []*interoppb.Item {
	var items []*interoppb.Item
	for i := range int(q.Limit) {
		it := sample(i)
		it.Id = q.Prefix + it.Id
		if len(q.Kinds) > 0 {
			it.Kind = q.Kinds[i%len(q.Kinds)]
		}
		items = append(items, it)
	}
	return items
}

func summarize(items []*interoppb.Item) *interoppb.Summary {
	s := &interoppb.Summary{ById: map[string]*interoppb.Item{}}
	for _, it := range items {
		s.Count++
		s.ById[it.Id] = it
		s.LastKind = it.Kind
	}
	return s
}

// h2Catalog is the service on h2rpc.
type h2Catalog struct {
	interoph2.UnimplementedCatalogServer
}

func (h2Catalog) Get(_ context.Context, in *interoppb.Item) (*interoppb.Item, error) {
	return get(in), nil
}

func (h2Catalog) List(q *interoppb.Query, stream interoph2.Catalog_ListServer) error {
	for _, it := range list(q) {
		if err := stream.Send(it); err != nil {
			return err
		}
	}
	return nil
}

func (h2Catalog) Put(stream interoph2.Catalog_PutServer) error {
	var items []*interoppb.Item
	for {
		it, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(summarize(items))
		}
		if err != nil {
			return err
		}
		items = append(items, it)
	}
}

func (h2Catalog) Chat(stream interoph2.Catalog_ChatServer) error {
	for {
		it, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(get(it)); err != nil {
			return err
		}
	}
}

// grpcCatalog is the same service on grpc-go, from protoc-gen-go-grpc.
type grpcCatalog struct {
	interoppb.UnimplementedCatalogServer
}

func (grpcCatalog) Get(_ context.Context, in *interoppb.Item) (*interoppb.Item, error) {
	return get(in), nil
}

func (grpcCatalog) List(q *interoppb.Query, stream grpc.ServerStreamingServer[interoppb.Item]) error {
	for _, it := range list(q) {
		if err := stream.Send(it); err != nil {
			return err
		}
	}
	return nil
}

func (grpcCatalog) Put(stream grpc.ClientStreamingServer[interoppb.Item, interoppb.Summary]) error {
	var items []*interoppb.Item
	for {
		it, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(summarize(items))
		}
		if err != nil {
			return err
		}
		items = append(items, it)
	}
}

func (grpcCatalog) Chat(stream grpc.BidiStreamingServer[interoppb.Item, interoppb.Item]) error {
	for {
		it, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(get(it)); err != nil {
			return err
		}
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// serveH2 serves the h2rpc Catalog and returns its address; registration
// is the generated function and nothing else: no codec option.
func serveH2(t *testing.T, register func(*rpc.Server)) string {
	t.Helper()
	lis := listen(t)
	s := rpc.NewServer()
	register(s)
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return lis.Addr().String()
}

func serveGRPC(t *testing.T) string {
	t.Helper()
	lis := listen(t)
	s := grpc.NewServer()
	interoppb.RegisterCatalogServer(s, grpcCatalog{})
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("grpc Serve: %v", err)
		}
	})
	return lis.Addr().String()
}

func dialH2(t *testing.T, addr string) *rpc.ClientConn {
	t.Helper()
	cc, err := rpc.Dial(addr, rpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func dialGRPC(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// catalog is what both generated clients offer, reduced to plain calls
// so one test body checks either.
type catalog struct {
	get  func(context.Context, *interoppb.Item) (*interoppb.Item, error)
	list func(context.Context, *interoppb.Query) ([]*interoppb.Item, error)
	put  func(context.Context, []*interoppb.Item) (*interoppb.Summary, error)
	chat func(context.Context, []*interoppb.Item) ([]*interoppb.Item, error)
}

func h2Client(c interoph2.CatalogClient) catalog {
	return catalog{
		get: func(ctx context.Context, in *interoppb.Item) (*interoppb.Item, error) { return c.Get(ctx, in) },
		list: func(ctx context.Context, q *interoppb.Query) ([]*interoppb.Item, error) {
			stream, err := c.List(ctx, q)
			if err != nil {
				return nil, err
			}
			return recvAll(stream.Recv)
		},
		put: func(ctx context.Context, items []*interoppb.Item) (*interoppb.Summary, error) {
			stream, err := c.Put(ctx)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				if err := stream.Send(it); err != nil {
					return nil, err
				}
			}
			return stream.CloseAndRecv()
		},
		chat: func(ctx context.Context, items []*interoppb.Item) ([]*interoppb.Item, error) {
			stream, err := c.Chat(ctx)
			if err != nil {
				return nil, err
			}
			return pingPong(items, stream.Send, stream.Recv, stream.CloseSend)
		},
	}
}

func grpcClient(c interoppb.CatalogClient) catalog {
	return catalog{
		get: func(ctx context.Context, in *interoppb.Item) (*interoppb.Item, error) { return c.Get(ctx, in) },
		list: func(ctx context.Context, q *interoppb.Query) ([]*interoppb.Item, error) {
			stream, err := c.List(ctx, q)
			if err != nil {
				return nil, err
			}
			return recvAll(stream.Recv)
		},
		put: func(ctx context.Context, items []*interoppb.Item) (*interoppb.Summary, error) {
			stream, err := c.Put(ctx)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				if err := stream.Send(it); err != nil {
					return nil, err
				}
			}
			return stream.CloseAndRecv()
		},
		chat: func(ctx context.Context, items []*interoppb.Item) ([]*interoppb.Item, error) {
			stream, err := c.Chat(ctx)
			if err != nil {
				return nil, err
			}
			return pingPong(items, stream.Send, stream.Recv, stream.CloseSend)
		},
	}
}

func recvAll(recv func() (*interoppb.Item, error)) ([]*interoppb.Item, error) {
	var items []*interoppb.Item
	for {
		it, err := recv()
		if err == io.EOF {
			return items, nil
		}
		if err != nil {
			return items, err
		}
		items = append(items, it)
	}
}

// pingPong sends each item and waits for its echo before the next, then
// half-closes and expects the end of the stream.
func pingPong(items []*interoppb.Item, send func(*interoppb.Item) error, recv func() (*interoppb.Item, error), closeSend func() error) ([]*interoppb.Item, error) {
	var got []*interoppb.Item
	for _, it := range items {
		if err := send(it); err != nil {
			return got, err
		}
		echo, err := recv()
		if err != nil {
			return got, err
		}
		got = append(got, echo)
	}
	if err := closeSend(); err != nil {
		return got, err
	}
	if _, err := recv(); err != io.EOF {
		return got, fmt.Errorf("after CloseSend: Recv = %v, want io.EOF", err)
	}
	return got, nil
}

func checkCatalog(t *testing.T, c catalog) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var items []*interoppb.Item
	for i := range 6 {
		items = append(items, sample(i))
	}

	for _, in := range items {
		got, err := c.get(ctx, in)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if want := get(in); !proto.Equal(got, want) {
			t.Errorf("Get(%v) = %v, want %v", in, got, want)
		}
	}

	q := &interoppb.Query{Prefix: "p/", Limit: 5, Kinds: []interoppb.Kind{interoppb.Kind_KIND_QUESTION, interoppb.Kind_KIND_NOTE}}
	got, err := c.list(ctx, q)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if want := list(q); !equalItems(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}

	sum, err := c.put(ctx, items)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if want := summarize(items); !proto.Equal(sum, want) {
		t.Errorf("Put = %v, want %v", sum, want)
	}
	if sum, err := c.put(ctx, nil); err != nil || sum.Count != 0 {
		t.Errorf("Put of nothing = %v, %v; want an empty summary", sum, err)
	}

	echoes, err := c.chat(ctx, items)
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	var want []*interoppb.Item
	for _, it := range items {
		want = append(want, get(it))
	}
	if !equalItems(echoes, want) {
		t.Errorf("Chat = %v, want %v", echoes, want)
	}
}

func equalItems(a, b []*interoppb.Item) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestH2ClientGRPCServer: the stubs protoc-gen-go-h2rpc generates call a
// grpc-go server generated by protoc-gen-go-grpc from the same .proto.
func TestH2ClientGRPCServer(t *testing.T) {
	checkCatalog(t, h2Client(interoph2.NewCatalogClient(dialH2(t, serveGRPC(t)))))
}

// TestGRPCClientH2Server: a grpc-go client calls the h2rpc server.
func TestGRPCClientH2Server(t *testing.T) {
	addr := serveH2(t, func(s *rpc.Server) { interoph2.RegisterCatalogServer(s, h2Catalog{}) })
	checkCatalog(t, grpcClient(interoppb.NewCatalogClient(dialGRPC(t, addr))))
}

// TestH2ClientH2Server: h2rpc on both ends, protobuf-go messages, no codec
// named anywhere.
func TestH2ClientH2Server(t *testing.T) {
	addr := serveH2(t, func(s *rpc.Server) { interoph2.RegisterCatalogServer(s, h2Catalog{}) })
	checkCatalog(t, h2Client(interoph2.NewCatalogClient(dialH2(t, addr))))
}

// An unimplemented method answers UNIMPLEMENTED through the generated
// Unimplemented…Server, to either client.
func TestUnimplemented(t *testing.T) {
	addr := serveH2(t, func(s *rpc.Server) {
		interoph2.RegisterCatalogServer(s, struct {
			interoph2.UnimplementedCatalogServer
		}{})
	})
	ctx := context.Background()
	_, err := interoph2.NewCatalogClient(dialH2(t, addr)).Get(ctx, sample(0))
	if rpc.CodeOf(err) != rpc.Unimplemented {
		t.Errorf("h2rpc client: Get = %v, want UNIMPLEMENTED", err)
	}
	stream, err := interoppb.NewCatalogClient(dialGRPC(t, addr)).List(ctx, &interoppb.Query{})
	if err == nil {
		_, err = stream.Recv()
	}
	if err == nil || !strings.Contains(err.Error(), "Unimplemented") || !strings.Contains(err.Error(), "method List not implemented") {
		t.Errorf("grpc-go client: List = %v, want Unimplemented", err)
	}
}

// A nil pointer embedded as the Unimplemented…Server panics at
// registration, not at the first call.
func TestRegisterNilEmbedPanics(t *testing.T) {
	type impl struct {
		*interoph2.UnimplementedCatalogServer
	}
	defer func() {
		if recover() == nil {
			t.Error("RegisterCatalogServer with a nil embedded pointer did not panic")
		}
	}()
	interoph2.RegisterCatalogServer(rpc.NewServer(), impl{})
}
