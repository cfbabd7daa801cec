package interop

// grpc.testing with messages generated on package wire (./wiretesting) on
// the h2rpc side, protobuf-go's on grpc-go's: grpc-go's interop client
// cases against an h2rpc server, and an h2rpc client against grpc-go's
// interop server.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/h2rpc/h2rpc/interop/wiretesting"
	"github.com/h2rpc/h2rpc/rpc"
)

// wireTestServer is grpc.testing.TestService on wire messages, enough of
// it for the interop cases run here.
type wireTestServer struct {
	wiretesting.UnimplementedTestServiceServer
}

func wirePayload(t wiretesting.PayloadType, size int32) (*wiretesting.Payload, error) {
	if t != wiretesting.PayloadType_COMPRESSABLE {
		return nil, rpc.Errorf(rpc.InvalidArgument, "unsupported payload type %v", t)
	}
	if size < 0 || size > 16<<20 {
		return nil, rpc.Errorf(rpc.InvalidArgument, "payload size %d out of range", size)
	}
	return &wiretesting.Payload{Type: t, Body: make([]byte, size)}, nil
}

func wireEchoStatus(st *wiretesting.EchoStatus) error {
	if st.GetCode() == 0 {
		return nil
	}
	return &rpc.Status{Code: rpc.Code(st.GetCode()), Message: st.GetMessage()}
}

func (wireTestServer) EmptyCall(context.Context, *wiretesting.Empty) (*wiretesting.Empty, error) {
	return new(wiretesting.Empty), nil
}

func (wireTestServer) UnaryCall(_ context.Context, in *wiretesting.SimpleRequest) (*wiretesting.SimpleResponse, error) {
	if err := wireEchoStatus(in.GetResponseStatus()); err != nil {
		return nil, err
	}
	pl, err := wirePayload(in.GetResponseType(), in.GetResponseSize())
	if err != nil {
		return nil, err
	}
	return &wiretesting.SimpleResponse{Payload: pl}, nil
}

func wireRespond(ss rpc.ServerStreamingServer[wiretesting.StreamingOutputCallResponse], in *wiretesting.StreamingOutputCallRequest) error {
	for _, p := range in.GetResponseParameters() {
		if us := p.GetIntervalUs(); us > 0 {
			t := time.NewTimer(time.Duration(us) * time.Microsecond)
			select {
			case <-t.C:
			case <-ss.Context().Done():
				t.Stop()
				return ss.Context().Err()
			}
		}
		pl, err := wirePayload(in.GetResponseType(), p.GetSize())
		if err != nil {
			return err
		}
		if err := ss.Send(&wiretesting.StreamingOutputCallResponse{Payload: pl}); err != nil {
			return err
		}
	}
	return nil
}

func (wireTestServer) StreamingOutputCall(in *wiretesting.StreamingOutputCallRequest, ss rpc.ServerStreamingServer[wiretesting.StreamingOutputCallResponse]) error {
	if err := wireEchoStatus(in.GetResponseStatus()); err != nil {
		return err
	}
	return wireRespond(ss, in)
}

func (wireTestServer) StreamingInputCall(ss rpc.ClientStreamingServer[wiretesting.StreamingInputCallRequest, wiretesting.StreamingInputCallResponse]) error {
	var sum int
	for {
		in, err := ss.Recv()
		if errors.Is(err, io.EOF) {
			return ss.SendAndClose(&wiretesting.StreamingInputCallResponse{AggregatedPayloadSize: int32(sum)})
		}
		if err != nil {
			return err
		}
		sum += len(in.GetPayload().GetBody())
	}
}

func (wireTestServer) FullDuplexCall(ss rpc.BidiStreamingServer[wiretesting.StreamingOutputCallRequest, wiretesting.StreamingOutputCallResponse]) error {
	for {
		in, err := ss.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := wireEchoStatus(in.GetResponseStatus()); err != nil {
			return err
		}
		if err := wireRespond(ss, in); err != nil {
			return err
		}
	}
}

// grpc-go's interop client cases, in-process, against an h2rpc server whose
// messages are generated on wire and which installs no codec of its own: the
// default codec takes wire.Message. A failed case ends the test binary
// (grpc-go's cases call log.Fatal), which fails the run.
func TestWireMessagesServeGRPCGoClient(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := rpc.NewServer()
	wiretesting.RegisterTestServiceServer(s, wireTestServer{})
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	defer func() {
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	cc := grpcGoClient(t, lis.Addr().String())
	tc := testgrpc.NewTestServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	for _, c := range []struct {
		name string
		run  func()
	}{
		{"empty_unary", func() { interop.DoEmptyUnaryCall(ctx, tc) }},
		{"large_unary", func() { interop.DoLargeUnaryCall(ctx, tc) }},
		{"client_streaming", func() { interop.DoClientStreaming(ctx, tc) }},
		{"server_streaming", func() { interop.DoServerStreaming(ctx, tc) }},
		{"ping_pong", func() { interop.DoPingPong(ctx, tc) }},
		{"empty_stream", func() { interop.DoEmptyStream(ctx, tc) }},
		{"timeout_on_sleeping_server", func() { interop.DoTimeoutOnSleepingServer(ctx, tc) }},
		{"cancel_after_begin", func() { interop.DoCancelAfterBegin(ctx, tc) }},
		{"cancel_after_first_response", func() { interop.DoCancelAfterFirstResponse(ctx, tc) }},
		{"status_code_and_message", func() { interop.DoStatusCodeAndMessage(ctx, tc) }},
		{"special_status_message", func() { interop.DoSpecialStatusMessage(ctx, tc) }},
		{"unimplemented_method", func() { interop.DoUnimplementedMethod(ctx, cc) }},
		{"unimplemented_service", func() { interop.DoUnimplementedService(ctx, testgrpc.NewUnimplementedServiceClient(cc)) }},
	} {
		t.Run(c.name, func(t *testing.T) { c.run() })
	}
}

// An h2rpc client with wire messages against grpc-go's interop server.
func TestWireMessagesCallGRPCGoServer(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(gs, interop.NewTestServer())
	go gs.Serve(lis)
	defer gs.Stop()

	cc, err := rpc.Dial(lis.Addr().String(), rpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := wiretesting.NewTestServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()

	if _, err := c.EmptyCall(ctx, new(wiretesting.Empty)); err != nil {
		t.Fatalf("EmptyCall: %v", err)
	}
	resp, err := c.UnaryCall(ctx, &wiretesting.SimpleRequest{
		ResponseType: wiretesting.PayloadType_COMPRESSABLE, ResponseSize: 314159,
		Payload: &wiretesting.Payload{Body: make([]byte, 271828)},
	})
	if err != nil || len(resp.GetPayload().GetBody()) != 314159 {
		t.Fatalf("UnaryCall: %d bytes, %v", len(resp.GetPayload().GetBody()), err)
	}

	// client_streaming
	up, err := c.StreamingInputCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{27182, 8, 1828, 45904}
	for _, n := range sizes {
		if err := up.Send(&wiretesting.StreamingInputCallRequest{Payload: &wiretesting.Payload{Body: make([]byte, n)}}); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := up.CloseAndRecv()
	if err != nil || sum.GetAggregatedPayloadSize() != 74922 {
		t.Fatalf("StreamingInputCall: %v, %v", sum, err)
	}

	// ping_pong
	bidi, err := c.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []int32{31415, 9, 2653, 58979} {
		req := &wiretesting.StreamingOutputCallRequest{
			ResponseType:       wiretesting.PayloadType_COMPRESSABLE,
			ResponseParameters: []*wiretesting.ResponseParameters{{Size: n}},
			Payload:            &wiretesting.Payload{Body: bytes.Repeat([]byte{byte(i)}, int(sizes[i]))},
		}
		if err := bidi.Send(req); err != nil {
			t.Fatal(err)
		}
		out, err := bidi.Recv()
		if err != nil || len(out.GetPayload().GetBody()) != int(n) {
			t.Fatalf("ping %d: %v, %v", i, out, err)
		}
	}
	if err := bidi.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := bidi.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after CloseSend: %v, want io.EOF", err)
	}

	// status_code_and_message
	_, err = c.UnaryCall(ctx, &wiretesting.SimpleRequest{ResponseStatus: &wiretesting.EchoStatus{Code: 2, Message: "test status message"}})
	var st *rpc.Status
	if !errors.As(err, &st) || st.Code != rpc.Unknown || st.Message != "test status message" {
		t.Fatalf("echoed status: %v", err)
	}
}
