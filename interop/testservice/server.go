package testservice

import (
	"context"
	"errors"
	"io"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/h2rpc/h2rpc/rpc"
)

// The metadata keys of the Echo Metadata feature: "When the client sends
// metadata with the key "x-grpc-test-echo-initial" with its request, the
// server sends back exactly this key and the corresponding value back to the
// client as part of initial metadata. When the client sends metadata with
// the key "x-grpc-test-echo-trailing-bin" with its request, the server sends
// back exactly this key and the corresponding value back to the client as
// trailing metadata." (interop-test-descriptions.md, Echo Metadata)
const (
	EchoInitialKey  = "x-grpc-test-echo-initial"
	EchoTrailingKey = "x-grpc-test-echo-trailing-bin"
)

// Server implements the server features of grpc doc/interop-test-
// descriptions.md: EmptyCall, UnaryCall, StreamingInputCall,
// StreamingOutputCall, FullDuplexCall, HalfDuplexCall, Echo Status, Echo
// Metadata, ResponseParameters.interval_us and CompressedResponse (per
// call; see UnaryCall). CompressedRequest is not implemented: package rpc
// does not tell a handler whether a request message arrived compressed, so
// expect_compressed is ignored, as grpc-go's interop server ignores it.
// The zero value is ready to use.
type Server struct{}

// EmptyCall "immediately returns the empty message".
func (*Server) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	return new(testpb.Empty), nil
}

// UnaryCall "immediately returns a SimpleResponse with a payload body of
// size SimpleRequest.response_size bytes and type as appropriate for the
// SimpleRequest.response_type", after echoing metadata and, if asked,
// failing with the requested status. response_compressed set to true
// compresses the response with gzip (if the client accepts gzip); set to
// false it turns compression off even for a compressed request.
func (*Server) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if err := setResponseCompression(ctx, in.GetResponseCompressed()); err != nil {
		return nil, err
	}
	if err := echoMetadata(ctx, func(md rpc.MD) error { return rpc.SetHeader(ctx, md) }, func(md rpc.MD) { rpc.SetTrailer(ctx, md) }); err != nil {
		return nil, err
	}
	if err := echoStatus(in.GetResponseStatus()); err != nil {
		return nil, err
	}
	pl, err := newPayload(in.GetResponseType(), in.GetResponseSize())
	if err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{Payload: pl}, nil
}

// StreamingOutputCall replies "in order, with one StreamingOutputCallResponse
// for each ResponseParameters", each after its interval_us.
func (*Server) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, ss rpc.ServerStream) error {
	if err := echoStatus(in.GetResponseStatus()); err != nil {
		return err
	}
	if err := setStreamCompression(ss.Context(), in.GetResponseParameters()); err != nil {
		return err
	}
	return respond(ss, in)
}

// StreamingInputCall "upon half close immediately returns a
// StreamingInputCallResponse where aggregated_payload_size is the sum of all
// request payload bodies received".
func (*Server) StreamingInputCall(ss rpc.ServerStream) error {
	var sum int
	for {
		in := new(testpb.StreamingInputCallRequest)
		err := ss.RecvMsg(in)
		if errors.Is(err, io.EOF) {
			return ss.SendMsg(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(sum)})
		}
		if err != nil {
			return err
		}
		sum += len(in.GetPayload().GetBody())
	}
}

// FullDuplexCall answers each request as it arrives, with one response per
// ResponseParameters, and ends with OK after the client's half-close. A
// request carrying response_status ends the call with that status at once.
func (*Server) FullDuplexCall(ss rpc.ServerStream) error {
	if err := echoMetadata(ss.Context(), ss.SetHeader, ss.SetTrailer); err != nil {
		return err
	}
	first := true
	for {
		in := new(testpb.StreamingOutputCallRequest)
		err := ss.RecvMsg(in)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := echoStatus(in.GetResponseStatus()); err != nil {
			return err
		}
		if first {
			// Compression is chosen once per call, before the headers.
			first = false
			if err := setStreamCompression(ss.Context(), in.GetResponseParameters()); err != nil {
				return err
			}
		}
		if err := respond(ss, in); err != nil {
			return err
		}
	}
}

// HalfDuplexCall collects every request until the client half-closes, then
// answers them all in order.
func (*Server) HalfDuplexCall(ss rpc.ServerStream) error {
	var reqs []*testpb.StreamingOutputCallRequest
	for {
		in := new(testpb.StreamingOutputCallRequest)
		err := ss.RecvMsg(in)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if err := echoStatus(in.GetResponseStatus()); err != nil {
			return err
		}
		reqs = append(reqs, in)
	}
	for _, in := range reqs {
		if err := respond(ss, in); err != nil {
			return err
		}
	}
	return nil
}

// respond sends one response per ResponseParameters of in.
func respond(ss rpc.ServerStream, in *testpb.StreamingOutputCallRequest) error {
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
		pl, err := newPayload(in.GetResponseType(), p.GetSize())
		if err != nil {
			return err
		}
		if err := ss.SendMsg(&testpb.StreamingOutputCallResponse{Payload: pl}); err != nil {
			return err
		}
	}
	return nil
}

// maxPayload bounds the payloads a request may ask for: the interop cases
// use at most 314159 bytes, and a peer must not make us allocate gigabytes.
const maxPayload = 16 << 20

// newPayload returns a zero-filled COMPRESSABLE payload of size bytes. "If
// the server does not support the response_type, then it should fail the
// RPC with INVALID_ARGUMENT."
func newPayload(t testpb.PayloadType, size int32) (*testpb.Payload, error) {
	if t != testpb.PayloadType_COMPRESSABLE {
		return nil, rpc.Errorf(rpc.InvalidArgument, "unsupported payload type %v", t)
	}
	if size < 0 || size > maxPayload {
		return nil, rpc.Errorf(rpc.InvalidArgument, "payload size %d is outside [0, %d]", size, maxPayload)
	}
	return &testpb.Payload{Type: t, Body: make([]byte, size)}, nil
}

// echoStatus is the Echo Status feature: "When the client sends a
// response_status in the request payload, the server closes the stream with
// the status code and messsage contained within said response_status."
func echoStatus(st *testpb.EchoStatus) error {
	if st == nil || st.GetCode() == 0 {
		return nil
	}
	return &rpc.Status{Code: rpc.Code(st.GetCode()), Message: st.GetMessage()}
}

// echoMetadata is the Echo Metadata feature: the echo-initial value goes
// back in the response headers (sent with the first response, or before
// the trailers if there is none), the echo-trailing-bin value in the
// trailers.
func echoMetadata(ctx context.Context, setHeader func(rpc.MD) error, setTrailer func(rpc.MD)) error {
	md, _ := rpc.FromIncomingContext(ctx)
	if v := md.Get(EchoInitialKey); len(v) > 0 {
		if err := setHeader(rpc.Pairs(EchoInitialKey, v[0])); err != nil {
			return err
		}
	}
	if v := md.Get(EchoTrailingKey); len(v) > 0 {
		setTrailer(rpc.Pairs(EchoTrailingKey, v[0]))
	}
	return nil
}

// setResponseCompression is the CompressedResponse feature for a call:
// "When the client sets response_compressed to true, the server's response
// is sent back compressed." Unset leaves rpc's default (answer in kind).
func setResponseCompression(ctx context.Context, compressed *testpb.BoolValue) error {
	if compressed == nil {
		return nil
	}
	name := "identity"
	if compressed.GetValue() {
		name = "gzip"
	}
	return rpc.SetSendCompressor(ctx, name)
}

// setStreamCompression applies CompressedResponse to a streaming call.
// rpc compresses per call, not per message, so the first response's
// setting decides for the whole call.
func setStreamCompression(ctx context.Context, params []*testpb.ResponseParameters) error {
	if len(params) == 0 {
		return nil
	}
	return setResponseCompression(ctx, params[0].GetCompressed())
}
