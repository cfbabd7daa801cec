package wiremsg_test

import (
	"context"
	"net"
	"testing"
	"time"

	_ "github.com/h2rpc/h2rpc/protobuf/internal/testpb/wiremsg/p3" // registers wiremsg/proto3.proto
	"github.com/h2rpc/h2rpc/reflection"
	"github.com/h2rpc/h2rpc/rpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	refv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// A server of wire messages with the core's reflection service, which
// links no protobuf runtime, describes a file that imports the well-known
// types together with those files, and they are the descriptors
// protobuf-go registers for them: a reflection client can resolve every
// import.
func TestReflectionDescribesWellKnownTypes(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := rpc.NewServer()
	reflection.Register(s)
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	defer func() {
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := refv1.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&refv1.ServerReflectionRequest{MessageRequest: &refv1.ServerReflectionRequest_FileByFilename{FileByFilename: "wiremsg/proto3.proto"}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*descriptorpb.FileDescriptorProto{}
	for _, b := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
		fd := new(descriptorpb.FileDescriptorProto)
		if err := proto.Unmarshal(b, fd); err != nil {
			t.Fatal(err)
		}
		got[fd.GetName()] = fd
	}
	if got["wiremsg/proto3.proto"] == nil {
		t.Fatalf("file_by_filename(wiremsg/proto3.proto) sent %d files, not that one: %v", len(got), resp)
	}
	for _, f := range []protoreflect.FileDescriptor{
		anypb.File_google_protobuf_any_proto, durationpb.File_google_protobuf_duration_proto,
		emptypb.File_google_protobuf_empty_proto, fieldmaskpb.File_google_protobuf_field_mask_proto,
		structpb.File_google_protobuf_struct_proto, timestamppb.File_google_protobuf_timestamp_proto,
		wrapperspb.File_google_protobuf_wrappers_proto,
	} {
		fd := got[f.Path()]
		if fd == nil {
			t.Errorf("%s, imported by wiremsg/proto3.proto, was not sent", f.Path())
			continue
		}
		if want := protodesc.ToFileDescriptorProto(f); !proto.Equal(fd, want) {
			t.Errorf("%s differs from protobuf-go's:\nserved      %v\nprotobuf-go %v", f.Path(), fd, want)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
}
