package protobuf_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/protobuf"
	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/interoppb"
	"github.com/h2rpc/h2rpc/protobuf/internal/testpb/interoppb/interoph2"
	"github.com/h2rpc/h2rpc/rpc"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

var (
	badRequest = &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "id", Description: "must not be empty"}}}
	retryInfo  = &errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)}
	errorInfo  = &errdetails.ErrorInfo{Reason: "QUOTA", Domain: "example.com", Metadata: map[string]string{"limit": "10"}}
)

// failing answers every Get with a rich error.
type failingH2 struct {
	interoph2.UnimplementedCatalogServer
}

func (failingH2) Get(context.Context, *interoppb.Item) (*interoppb.Item, error) {
	return nil, protobuf.NewError(rpc.InvalidArgument, "bad item ✗", badRequest, retryInfo)
}

type failingGRPC struct {
	interoppb.UnimplementedCatalogServer
}

func (failingGRPC) Get(context.Context, *interoppb.Item) (*interoppb.Item, error) {
	st, err := status.New(codes.ResourceExhausted, "slow down").WithDetails(errorInfo, retryInfo)
	if err != nil {
		return nil, err
	}
	return nil, st.Err()
}

// grpc-go's status.FromError(err).Details() reads the details an h2rpc
// server sent.
func TestRichErrorH2ServerGRPCClient(t *testing.T) {
	addr := serveH2(t, func(s *rpc.Server) { interoph2.RegisterCatalogServer(s, failingH2{}) })
	_, err := interoppb.NewCatalogClient(dialGRPC(t, addr)).Get(context.Background(), &interoppb.Item{})
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument || st.Message() != "bad item ✗" {
		t.Fatalf("grpc-go client: %v", err)
	}
	details := st.Details()
	if len(details) != 2 || !proto.Equal(details[0].(proto.Message), badRequest) || !proto.Equal(details[1].(proto.Message), retryInfo) {
		t.Errorf("grpc-go Details() = %v, want %v and %v", details, badRequest, retryInfo)
	}
}

// The h2rpc client reads the details a grpc-go server sent.
func TestRichErrorGRPCServerH2Client(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	interoppb.RegisterCatalogServer(s, failingGRPC{})
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	defer func() { s.Stop(); <-served }()

	_, err = interoph2.NewCatalogClient(dialH2(t, lis.Addr().String())).Get(context.Background(), &interoppb.Item{})
	if rpc.CodeOf(err) != rpc.ResourceExhausted || rpc.StatusOf(err).Message != "slow down" {
		t.Fatalf("h2rpc client: %v", err)
	}
	details, derr := protobuf.Details(err)
	if derr != nil || len(details) != 2 || !proto.Equal(details[0], errorInfo) || !proto.Equal(details[1], retryInfo) {
		t.Errorf("Details = %v, %v; want %v and %v", details, derr, errorInfo, retryInfo)
	}
	ri, ok := protobuf.Detail[*errdetails.RetryInfo](err)
	if !ok || ri.RetryDelay.AsDuration() != 3*time.Second {
		t.Errorf("Detail[*RetryInfo] = %v, %v", ri, ok)
	}
	if _, ok := protobuf.Detail[*errdetails.BadRequest](err); ok {
		t.Error("Detail[*BadRequest] found a detail that is not there")
	}
}

func TestStatusProto(t *testing.T) {
	if p, err := protobuf.StatusProto(nil); p != nil || err != nil {
		t.Errorf("StatusProto(nil) = %v, %v", p, err)
	}
	// Without details: built from code and message.
	p, err := protobuf.StatusProto(rpc.Errorf(rpc.NotFound, "gone"))
	if err != nil || p.Code != int32(rpc.NotFound) || p.Message != "gone" || len(p.Details) != 0 {
		t.Errorf("StatusProto(NotFound) = %v, %v", p, err)
	}
	if d, err := protobuf.Details(rpc.Errorf(rpc.NotFound, "gone")); d != nil || err != nil {
		t.Errorf("Details without details = %v, %v", d, err)
	}

	// WithDetails adds to what is there, keeping code and message in step.
	st, err := protobuf.WithDetails(&rpc.Status{Code: rpc.Aborted, Message: "m"}, errorInfo)
	if err != nil {
		t.Fatal(err)
	}
	st, err = protobuf.WithDetails(st, retryInfo)
	if err != nil {
		t.Fatal(err)
	}
	d, err := protobuf.Details(st)
	if err != nil || len(d) != 2 || !proto.Equal(d[0], errorInfo) || !proto.Equal(d[1], retryInfo) {
		t.Errorf("Details after two WithDetails = %v, %v", d, err)
	}
	if _, err := protobuf.WithDetails(&rpc.Status{}, errorInfo); err == nil {
		t.Error("WithDetails on OK succeeded")
	}
	if err := protobuf.NewError(rpc.OK, "fine", errorInfo); err != nil {
		t.Errorf("NewError(OK) = %v", err)
	}

	// Details naming another code than the status are refused.
	mismatch, _ := proto.Marshal(&spb.Status{Code: int32(rpc.NotFound), Message: "m"})
	if _, err := protobuf.Details(&rpc.Status{Code: rpc.Internal, Details: mismatch}); err == nil || !strings.Contains(err.Error(), "code") {
		t.Errorf("Details with a mismatched code = %v", err)
	}
	if _, err := protobuf.Details(&rpc.Status{Code: rpc.Internal, Details: []byte{0x0a, 0x07}}); err == nil {
		t.Error("Details of malformed bytes succeeded")
	}

	// A detail of a type not linked in stays an Any.
	unknown := &anypb.Any{TypeUrl: "type.googleapis.com/no.Such", Value: []byte{8, 1}}
	st, err = protobuf.FromStatusProto(&spb.Status{Code: int32(rpc.Unavailable), Message: "x", Details: []*anypb.Any{unknown}})
	if err != nil || st.Code != rpc.Unavailable {
		t.Fatalf("FromStatusProto = %v, %v", st, err)
	}
	d, err = protobuf.Details(st)
	if err != nil || len(d) != 1 || !proto.Equal(d[0], unknown) {
		t.Errorf("Details with an unknown type = %v, %v", d, err)
	}
	if st, err := protobuf.FromStatusProto(&spb.Status{}); st != nil || err != nil {
		t.Errorf("FromStatusProto(OK) = %v, %v", st, err)
	}
}
