//lint:file-ignore SA1019 v1alpha is deprecated, and still what older clients call: the test checks it answers.

package reflection_test

import (
	"context"
	"io"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/health"
	"github.com/h2rpc/h2rpc/internal/leakcheck"
	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/interoppb"
	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/interoppb/interoph2"
	"github.com/h2rpc/h2rpc/protobuf/reflection"
	"github.com/h2rpc/h2rpc/rpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	refv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	refv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

type catalog struct {
	interoph2.UnimplementedCatalogServer
}

func (catalog) Get(_ context.Context, in *interoppb.Item) (*interoppb.Item, error) {
	out := proto.CloneOf(in)
	out.Id = strings.ToUpper(in.Id)
	return out, nil
}

func (catalog) List(q *interoppb.Query, stream interoph2.Catalog_ListServer) error {
	for range q.Limit {
		if err := stream.Send(&interoppb.Item{Id: q.Prefix}); err != nil {
			return err
		}
	}
	return nil
}

// serve starts an h2rpc server with the Catalog, health and reflection.
func serve(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := rpc.NewServer()
	interoph2.RegisterCatalogServer(s, catalog{})
	health.Register(s, health.NewServer())
	reflection.Register(s)
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

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

var wantServices = []string{
	"grpc.health.v1.Health",
	"grpc.reflection.v1.ServerReflection",
	"grpc.reflection.v1alpha.ServerReflection",
	"h2rpc.interop.Catalog",
}

// grpc-go's v1 reflection client: every request kind, on one stream.
func TestV1(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := refv1.NewServerReflectionClient(dial(t, serve(t))).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(req *refv1.ServerReflectionRequest) *refv1.ServerReflectionResponse {
		t.Helper()
		req.Host = "example"
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.ValidHost != "example" || !proto.Equal(resp.OriginalRequest, req) {
			t.Errorf("response echoes host %q and request %v; want %v", resp.ValidHost, resp.OriginalRequest, req)
		}
		return resp
	}

	resp := ask(&refv1.ServerReflectionRequest{MessageRequest: &refv1.ServerReflectionRequest_ListServices{}})
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, wantServices) {
		t.Errorf("list_services = %v, want %v", names, wantServices)
	}

	files := func(resp *refv1.ServerReflectionResponse) []string {
		t.Helper()
		var names []string
		for _, b := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
			fd := new(descriptorpb.FileDescriptorProto)
			if err := proto.Unmarshal(b, fd); err != nil {
				t.Fatal(err)
			}
			names = append(names, fd.GetName())
		}
		return names
	}
	resp = ask(&refv1.ServerReflectionRequest{MessageRequest: &refv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "h2rpc.interop.Catalog"}})
	if got := files(resp); !slices.Equal(got, []string{"interop/interop.proto"}) {
		t.Errorf("file_containing_symbol(service) = %v", got)
	}
	// A method, a nested message and an enum value are symbols too; the
	// file was sent on this stream already, but the requested file always
	// comes back.
	for _, sym := range []string{"h2rpc.interop.Catalog.List", "h2rpc.interop.Item.Author", "h2rpc.interop.Kind"} {
		resp = ask(&refv1.ServerReflectionRequest{MessageRequest: &refv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: sym}})
		if got := files(resp); !slices.Equal(got, []string{"interop/interop.proto"}) {
			t.Errorf("file_containing_symbol(%s) = %v", sym, got)
		}
	}
	// The health service's descriptor comes from the module's own copy.
	resp = ask(&refv1.ServerReflectionRequest{MessageRequest: &refv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "grpc.health.v1.Health.Watch"}})
	if got := files(resp); !slices.Equal(got, []string{"grpc/health/v1/health.proto"}) {
		t.Errorf("file_containing_symbol(grpc.health.v1.Health.Watch) = %v", got)
	}
	// Dependencies come along, once per stream: descriptor.proto with the
	// first file that needs it.
	resp = ask(&refv1.ServerReflectionRequest{MessageRequest: &refv1.ServerReflectionRequest_FileByFilename{FileByFilename: "google/protobuf/descriptor.proto"}})
	if got := files(resp); !slices.Equal(got, []string{"google/protobuf/descriptor.proto"}) {
		t.Errorf("file_by_filename(descriptor.proto) = %v", got)
	}

	for _, req := range []*refv1.ServerReflectionRequest{
		{MessageRequest: &refv1.ServerReflectionRequest_FileByFilename{FileByFilename: "no/such.proto"}},
		{MessageRequest: &refv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "no.Such"}},
		{MessageRequest: &refv1.ServerReflectionRequest_FileContainingExtension{FileContainingExtension: &refv1.ExtensionRequest{ContainingType: "google.protobuf.MessageOptions", ExtensionNumber: 99999}}},
		{MessageRequest: &refv1.ServerReflectionRequest_AllExtensionNumbersOfType{AllExtensionNumbersOfType: "no.Such"}},
		{},
	} {
		resp = ask(req)
		if e := resp.GetErrorResponse(); e == nil || e.ErrorCode == 0 || e.ErrorMessage == "" {
			t.Errorf("request %v: response %v, want an error", req, resp)
		}
	}
	resp = ask(&refv1.ServerReflectionRequest{MessageRequest: &refv1.ServerReflectionRequest_AllExtensionNumbersOfType{AllExtensionNumbersOfType: "h2rpc.interop.Item"}})
	if r := resp.GetAllExtensionNumbersResponse(); r == nil || r.BaseTypeName != "h2rpc.interop.Item" || len(r.ExtensionNumber) != 0 {
		t.Errorf("all_extension_numbers_of_type = %v", resp)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("after CloseSend: %v, want io.EOF", err)
	}
}

// v1alpha answers the same.
func TestV1Alpha(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := refv1alpha.NewServerReflectionClient(dial(t, serve(t))).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&refv1alpha.ServerReflectionRequest{MessageRequest: &refv1alpha.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.GetListServicesResponse().GetService()); n != len(wantServices) {
		t.Errorf("v1alpha list_services: %v", resp)
	}
	stream.CloseSend()
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("after CloseSend: %v, want io.EOF", err)
	}
}

// grpcurl, a tool of this module, lists, describes and calls the server
// with no .proto file.
func TestGRPCurl(t *testing.T) {
	if testing.Short() {
		t.Skip("builds grpcurl")
	}
	addr := serve(t)
	grpcurl := func(args ...string) string {
		t.Helper()
		args = append([]string{"tool", "grpcurl", "-plaintext", "-connect-timeout=30", "-max-time=60"}, args...)
		// Standard output only: on a cold module cache the go command
		// writes "go: downloading …" lines to standard error.
		var stderr strings.Builder
		cmd := exec.Command("go", args...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("grpcurl %v: %v\n%s%s", args[2:], err, out, stderr.String())
		}
		return string(out)
	}
	if out := grpcurl(addr, "list"); strings.Fields(out) == nil || !slices.Equal(strings.Fields(out), wantServices) {
		t.Errorf("grpcurl list:\n%s\nwant %v", out, wantServices)
	}
	if out := grpcurl(addr, "list", "h2rpc.interop.Catalog"); !strings.Contains(out, "h2rpc.interop.Catalog.Chat") {
		t.Errorf("grpcurl list h2rpc.interop.Catalog:\n%s", out)
	}
	out := grpcurl(addr, "describe", "h2rpc.interop.Catalog")
	for _, want := range []string{"service Catalog", "rpc Get ( .h2rpc.interop.Item ) returns ( .h2rpc.interop.Item )", "rpc Chat ( stream .h2rpc.interop.Item ) returns ( stream .h2rpc.interop.Item )"} {
		if !strings.Contains(out, want) {
			t.Errorf("grpcurl describe h2rpc.interop.Catalog:\n%s\nwant %q", out, want)
		}
	}
	// Health is described from the module's own descriptors (this test
	// does not link grpc-go's health package), reflection from grpc-go's.
	out = grpcurl(addr, "describe")
	for _, want := range []string{"grpc.health.v1.Health is a service:", "rpc Watch ( .grpc.health.v1.HealthCheckRequest ) returns ( stream .grpc.health.v1.HealthCheckResponse );",
		"grpc.reflection.v1.ServerReflection is a service:", "grpc.reflection.v1alpha.ServerReflection is a service:", "h2rpc.interop.Catalog is a service:"} {
		if !strings.Contains(out, want) {
			t.Errorf("grpcurl describe:\n%s\nwant %q", out, want)
		}
	}
	if out := grpcurl("-d", `{"service": ""}`, addr, "grpc.health.v1.Health/Check"); !strings.Contains(out, `"status": "SERVING"`) {
		t.Errorf("grpcurl call Health/Check:\n%s", out)
	}
	if out := grpcurl(addr, "describe", "h2rpc.interop.Item"); !strings.Contains(out, "map<string, int32> counts = 5;") || !strings.Contains(out, "oneof body") {
		t.Errorf("grpcurl describe h2rpc.interop.Item:\n%s", out)
	}
	out = grpcurl("-d", `{"id": "abc", "kind": "KIND_NOTE", "counts": {"x": 1}}`, addr, "h2rpc.interop.Catalog/Get")
	for _, want := range []string{`"id": "ABC"`, `"kind": "KIND_NOTE"`, `"x": 1`} {
		if !strings.Contains(out, want) {
			t.Errorf("grpcurl call Get:\n%s\nwant %q", out, want)
		}
	}
	if out := grpcurl("-d", `{"prefix": "p", "limit": 3}`, addr, "h2rpc.interop.Catalog/List"); strings.Count(out, `"id": "p"`) != 3 {
		t.Errorf("grpcurl call List:\n%s\nwant three items", out)
	}
}
