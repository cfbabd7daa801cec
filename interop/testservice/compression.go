package testservice

import (
	"context"
	"errors"
	"fmt"

	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/h2rpc/h2rpc/rpc"
)

// The compression cases. Package rpc compresses per call (UseCompressor on
// the client, SetSendCompressor on the server) and does not show a caller
// the Compressed-Flag of a received message, so here:
//   - the client cannot assert the flag of the server's responses
//     (server_compressed_*): it asserts the calls succeed with the right
//     payloads; the interop module's tests check the compression itself
//     from the peer's side (grpc-go's stats handlers);
//   - client_compressed_streaming sends its last message compressed too,
//     with expect_compressed false (the spec sends it uncompressed), which
//     a server implementing CompressedRequest accepts all the same.

var gzipCall = rpc.UseCompressor("gzip")

// probeCompression sends the feature probe, an uncompressed request with
// expect_compressed set, which a server implementing CompressedRequest
// fails with INVALID_ARGUMENT.
func probeCompression(cfg *Config, call func() error) error {
	err := call()
	switch {
	case rpc.CodeOf(err) == rpc.InvalidArgument:
		return nil
	case err == nil && cfg.LenientCompressionProbe:
		return nil // the server does not implement CompressedRequest
	case err == nil:
		return errors.New("feature probe: the server accepted an uncompressed request with expect_compressed set; want INVALID_ARGUMENT (the server does not implement CompressedRequest)")
	}
	return fmt.Errorf("feature probe: %w", err)
}

func clientCompressedUnary(ctx context.Context, cc *rpc.ClientConn, cfg *Config) error {
	req := func(expect bool) *testpb.SimpleRequest {
		r := largeUnaryRequest()
		r.ExpectCompressed = &testpb.BoolValue{Value: expect}
		return r
	}
	if err := probeCompression(cfg, func() error { return unary(ctx, cc, req(true), largeRespSize) }); err != nil {
		return err
	}
	if err := unary(ctx, cc, req(true), largeRespSize, gzipCall); err != nil {
		return fmt.Errorf("compressed call: %w", err)
	}
	if err := unary(ctx, cc, req(false), largeRespSize); err != nil {
		return fmt.Errorf("uncompressed call: %w", err)
	}
	return nil
}

func serverCompressedUnary(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	for _, compressed := range []bool{true, false} {
		r := largeUnaryRequest()
		r.ResponseCompressed = &testpb.BoolValue{Value: compressed}
		if err := unary(ctx, cc, r, largeRespSize); err != nil {
			return fmt.Errorf("response_compressed %v: %w", compressed, err)
		}
	}
	return nil
}

func clientCompressedStreaming(ctx context.Context, cc *rpc.ClientConn, cfg *Config) error {
	err := probeCompression(cfg, func() error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		cs, err := cc.NewStream(ctx, streamingInputDesc, StreamingInputCallMethod)
		if err != nil {
			return err
		}
		if err := cs.SendMsg(&testpb.StreamingInputCallRequest{Payload: payload(27182), ExpectCompressed: &testpb.BoolValue{Value: true}}); err != nil {
			return err
		}
		return closeAndCheckSum(cs, 27182)
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := cc.NewStream(ctx, streamingInputDesc, StreamingInputCallMethod, gzipCall)
	if err != nil {
		return err
	}
	for _, m := range []*testpb.StreamingInputCallRequest{
		{Payload: payload(27182), ExpectCompressed: &testpb.BoolValue{Value: true}},
		{Payload: payload(45904), ExpectCompressed: &testpb.BoolValue{Value: false}},
	} {
		if err := cs.SendMsg(m); err != nil {
			return err
		}
	}
	return closeAndCheckSum(cs, 73086)
}

func serverCompressedStreaming(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	req := &testpb.StreamingOutputCallRequest{
		ResponseType: testpb.PayloadType_COMPRESSABLE,
		ResponseParameters: []*testpb.ResponseParameters{
			{Size: 31415, Compressed: &testpb.BoolValue{Value: true}},
			{Size: 92653, Compressed: &testpb.BoolValue{Value: false}},
		},
	}
	return streamingOutput(ctx, cc, req, []int{31415, 92653})
}
