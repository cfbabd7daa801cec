package interop

import (
	"context"
	"net"
	"slices"
	"testing"

	refv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/h2rpc/h2rpc/interop/wiretesting"
	"github.com/h2rpc/h2rpc/reflection"
	"github.com/h2rpc/h2rpc/rpc"
)

// With messages generated on wire, grpc-go's reflection client resolves
// the service and every message type its methods use, though the messages
// live in files without services (grpc/testing/messages.proto, empty.proto),
// whose descriptors only their _wire.pb.go registers.
func TestWireMessagesReflection(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := rpc.NewServer()
	wiretesting.RegisterTestServiceServer(s, wireTestServer{})
	reflection.Register(s)
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	defer func() {
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	stream, err := refv1.NewServerReflectionClient(grpcGoClient(t, lis.Addr().String())).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.CloseSend()
	// got holds the files received, by name; ask fetches more.
	got := map[string]*descriptorpb.FileDescriptorProto{}
	ask := func(req *refv1.ServerReflectionRequest) {
		t.Helper()
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if e := resp.GetErrorResponse(); e != nil {
			t.Fatalf("%v: error %d %s", req.MessageRequest, e.ErrorCode, e.ErrorMessage)
		}
		for _, b := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
			fd := new(descriptorpb.FileDescriptorProto)
			if err := proto.Unmarshal(b, fd); err != nil {
				t.Fatal(err)
			}
			got[fd.GetName()] = fd
		}
	}
	ask(&refv1.ServerReflectionRequest{MessageRequest: &refv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "grpc.testing.TestService"}})
	// Fetch dependencies the way a client does, until none is missing.
	for again := true; again; {
		again = false
		for _, fd := range got {
			for _, dep := range fd.GetDependency() {
				if got[dep] == nil {
					ask(&refv1.ServerReflectionRequest{MessageRequest: &refv1.ServerReflectionRequest_FileByFilename{FileByFilename: dep}})
					again = true
				}
			}
		}
	}
	var names []string
	set := new(descriptorpb.FileDescriptorSet)
	for name, fd := range got {
		names = append(names, name)
		set.File = append(set.File, fd)
	}
	slices.Sort(names)
	if want := []string{"grpc/testing/empty.proto", "grpc/testing/messages.proto", "grpc/testing/test.proto"}; !slices.Equal(names, want) {
		t.Errorf("files = %v, want %v", names, want)
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		t.Fatalf("the files do not resolve: %v", err)
	}
	d, err := files.FindDescriptorByName("grpc.testing.TestService")
	if err != nil {
		t.Fatal(err)
	}
	sd := d.(protoreflect.ServiceDescriptor)
	for _, name := range []protoreflect.Name{"EmptyCall", "UnaryCall", "FullDuplexCall"} {
		md := sd.Methods().ByName(name)
		if md == nil {
			t.Errorf("TestService has no method %s", name)
			continue
		}
		for _, m := range []protoreflect.MessageDescriptor{md.Input(), md.Output()} {
			if m.IsPlaceholder() || m.Fields().Len() == 0 && m.FullName() != "grpc.testing.Empty" {
				t.Errorf("%s: message %s is not resolved", name, m.FullName())
			}
		}
	}
	// A message type alone, as grpcurl asks for a request's type.
	delete(got, "grpc/testing/messages.proto")
	ask(&refv1.ServerReflectionRequest{MessageRequest: &refv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "grpc.testing.SimpleRequest"}})
	if got["grpc/testing/messages.proto"] == nil {
		t.Errorf("file_containing_symbol grpc.testing.SimpleRequest did not return grpc/testing/messages.proto")
	}
}
