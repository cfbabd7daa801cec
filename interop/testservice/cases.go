package testservice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"

	"github.com/h2rpc/h2rpc/rpc"
)

// Sizes of the standard cases (interop-test-descriptions.md).
var (
	reqSizes      = []int{27182, 8, 1828, 45904}
	respSizes     = []int{31415, 9, 2653, 58979}
	largeReqSize  = 271828
	largeRespSize = 314159
)

// Dial returns a ClientConn for a TestService server at addr ("host:port"),
// with Codec installed.
func Dial(addr string, opts ...rpc.DialOption) (*rpc.ClientConn, error) {
	return rpc.Dial(addr, append([]rpc.DialOption{rpc.WithInsecure(), rpc.WithCodec(Codec)}, opts...)...)
}

// Config holds the knobs of the cases that have any; the zero value gives
// grpc-go's interop client defaults where it has them.
type Config struct {
	// Dial opens a new ClientConn; channel_soak uses one per iteration.
	Dial func() (*rpc.ClientConn, error)

	SoakIterations             int           // default 10
	SoakMaxFailures            int           // iterations allowed to fail
	SoakPerIterationMaxLatency time.Duration // default 1s
	SoakOverallTimeout         time.Duration // default 10s
	SoakMinTimeBetweenRPCs     time.Duration
	SoakRequestSize            int // default 271828
	SoakResponseSize           int // default 314159

	// LenientCompressionProbe accepts a server that does not implement the
	// CompressedRequest feature: when the compression cases' feature probe
	// (an uncompressed request with expect_compressed set) succeeds instead
	// of failing with INVALID_ARGUMENT, the case goes on rather than fail.
	// grpc-go's interop server and this package's Server are such servers.
	LenientCompressionProbe bool
}

// caseFuncs maps the case names of interop-test-descriptions.md to their
// client procedures.
var caseFuncs = map[string]func(ctx context.Context, cc *rpc.ClientConn, cfg *Config) error{
	"empty_unary":                 emptyUnary,
	"large_unary":                 largeUnary,
	"client_streaming":            clientStreaming,
	"server_streaming":            serverStreaming,
	"ping_pong":                   pingPong,
	"empty_stream":                emptyStream,
	"timeout_on_sleeping_server":  timeoutOnSleepingServer,
	"cancel_after_begin":          cancelAfterBegin,
	"cancel_after_first_response": cancelAfterFirstResponse,
	"status_code_and_message":     statusCodeAndMessage,
	"special_status_message":      specialStatusMessage,
	"custom_metadata":             customMetadata,
	"unimplemented_method":        unimplementedMethod,
	"unimplemented_service":       unimplementedService,
	"rpc_soak":                    rpcSoak,
	"channel_soak":                channelSoak,
	"client_compressed_unary":     clientCompressedUnary,
	"server_compressed_unary":     serverCompressedUnary,
	"client_compressed_streaming": clientCompressedStreaming,
	"server_compressed_streaming": serverCompressedStreaming,
}

// Cases returns the names of the cases RunCase knows, sorted.
func Cases() []string {
	names := make([]string, 0, len(caseFuncs))
	for n := range caseFuncs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// RunCase runs the client side of one standard interop case over cc (made
// with Dial) and returns nil if every assertion of the case held.
func RunCase(ctx context.Context, cc *rpc.ClientConn, name string, cfg Config) error {
	f := caseFuncs[name]
	if f == nil {
		return fmt.Errorf("unknown test case %q", name)
	}
	if err := f(ctx, cc, &cfg); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func payload(n int) *testpb.Payload {
	return &testpb.Payload{Type: testpb.PayloadType_COMPRESSABLE, Body: make([]byte, n)}
}

// checkPayload asserts a COMPRESSABLE payload of n zero bytes.
func checkPayload(p *testpb.Payload, n int) error {
	if p.GetType() != testpb.PayloadType_COMPRESSABLE || len(p.GetBody()) != n {
		return fmt.Errorf("got a payload of type %v and %d bytes, want COMPRESSABLE and %d", p.GetType(), len(p.GetBody()), n)
	}
	if !bytes.Equal(p.GetBody(), make([]byte, n)) {
		return errors.New("the payload body is not all zeros")
	}
	return nil
}

func emptyUnary(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	out := new(testpb.Empty)
	if err := cc.Invoke(ctx, EmptyCallMethod, &testpb.Empty{}, out); err != nil {
		return err
	}
	if !proto.Equal(out, &testpb.Empty{}) {
		return fmt.Errorf("got %v, want an empty message", out)
	}
	return nil
}

func largeUnaryRequest() *testpb.SimpleRequest {
	return &testpb.SimpleRequest{
		ResponseType: testpb.PayloadType_COMPRESSABLE,
		ResponseSize: int32(largeRespSize),
		Payload:      payload(largeReqSize),
	}
}

func unary(ctx context.Context, cc *rpc.ClientConn, req *testpb.SimpleRequest, want int, opts ...rpc.CallOption) error {
	out := new(testpb.SimpleResponse)
	if err := cc.Invoke(ctx, UnaryCallMethod, req, out, opts...); err != nil {
		return err
	}
	return checkPayload(out.GetPayload(), want)
}

func largeUnary(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	return unary(ctx, cc, largeUnaryRequest(), largeRespSize)
}

func clientStreaming(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := cc.NewStream(ctx, streamingInputDesc, StreamingInputCallMethod)
	if err != nil {
		return err
	}
	sum := 0
	for _, n := range reqSizes {
		if err := cs.SendMsg(&testpb.StreamingInputCallRequest{Payload: payload(n)}); err != nil {
			return fmt.Errorf("sending %d bytes: %w", n, err)
		}
		sum += n
	}
	return closeAndCheckSum(cs, sum)
}

func closeAndCheckSum(cs rpc.ClientStream, sum int) error {
	if err := cs.CloseSend(); err != nil {
		return err
	}
	out := new(testpb.StreamingInputCallResponse)
	if err := cs.RecvMsg(out); err != nil {
		return err
	}
	if got := out.GetAggregatedPayloadSize(); got != int32(sum) {
		return fmt.Errorf("aggregated_payload_size %d, want %d", got, sum)
	}
	return nil
}

func serverStreaming(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	req := &testpb.StreamingOutputCallRequest{ResponseType: testpb.PayloadType_COMPRESSABLE}
	for _, n := range respSizes {
		req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{Size: int32(n)})
	}
	return streamingOutput(ctx, cc, req, respSizes)
}

// streamingOutput calls StreamingOutputCall with req and checks the
// responses have the sizes want, in order, and the call ends with OK.
func streamingOutput(ctx context.Context, cc *rpc.ClientConn, req *testpb.StreamingOutputCallRequest, want []int, opts ...rpc.CallOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := cc.NewStream(ctx, streamingOutputDesc, StreamingOutputCallMethod, opts...)
	if err != nil {
		return err
	}
	if err := cs.SendMsg(req); err != nil {
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	for i := 0; ; i++ {
		out := new(testpb.StreamingOutputCallResponse)
		err := cs.RecvMsg(out)
		if errors.Is(err, io.EOF) {
			if i != len(want) {
				return fmt.Errorf("%d responses, want %d", i, len(want))
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("response %d: %w", i+1, err)
		}
		if i >= len(want) {
			return fmt.Errorf("more than the %d responses asked for", len(want))
		}
		if err := checkPayload(out.GetPayload(), want[i]); err != nil {
			return fmt.Errorf("response %d: %w", i+1, err)
		}
	}
}

func pingPong(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := cc.NewStream(ctx, fullDuplexDesc, FullDuplexCallMethod)
	if err != nil {
		return err
	}
	for i := range reqSizes {
		req := &testpb.StreamingOutputCallRequest{
			ResponseType:       testpb.PayloadType_COMPRESSABLE,
			ResponseParameters: []*testpb.ResponseParameters{{Size: int32(respSizes[i])}},
			Payload:            payload(reqSizes[i]),
		}
		if err := cs.SendMsg(req); err != nil {
			return fmt.Errorf("ping %d: %w", i+1, err)
		}
		out := new(testpb.StreamingOutputCallResponse)
		if err := cs.RecvMsg(out); err != nil {
			return fmt.Errorf("pong %d: %w", i+1, err)
		}
		if err := checkPayload(out.GetPayload(), respSizes[i]); err != nil {
			return fmt.Errorf("pong %d: %w", i+1, err)
		}
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	if err := cs.RecvMsg(new(testpb.StreamingOutputCallResponse)); !errors.Is(err, io.EOF) {
		return fmt.Errorf("after the half-close: %v, want the end of the call with OK", err)
	}
	return nil
}

func emptyStream(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := cc.NewStream(ctx, fullDuplexDesc, FullDuplexCallMethod)
	if err != nil {
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	if err := cs.RecvMsg(new(testpb.StreamingOutputCallResponse)); !errors.Is(err, io.EOF) {
		return fmt.Errorf("got %v, want no response and OK", err)
	}
	return nil
}

func wantCode(err error, want rpc.Code) error {
	if got := rpc.CodeOf(err); got != want {
		return fmt.Errorf("status %v (%v), want %v", got, err, want)
	}
	return nil
}

// timeoutOnSleepingServer: a FullDuplexCall with a 1ms timeout "will end
// with the DeadlineExceeded status".
func timeoutOnSleepingServer(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	ctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	cs, err := cc.NewStream(ctx, fullDuplexDesc, FullDuplexCallMethod)
	if err != nil {
		return wantCode(err, rpc.DeadlineExceeded) // the deadline passed before the call began
	}
	req := &testpb.StreamingOutputCallRequest{ResponseType: testpb.PayloadType_COMPRESSABLE, Payload: payload(27182)}
	if err := cs.SendMsg(req); err != nil && !errors.Is(err, io.EOF) && rpc.CodeOf(err) != rpc.DeadlineExceeded {
		return fmt.Errorf("SendMsg: %w", err)
	}
	return wantCode(cs.RecvMsg(new(testpb.StreamingOutputCallResponse)), rpc.DeadlineExceeded)
}

// cancelAfterBegin: a StreamingInputCall cancelled before any message
// "completed with status CANCELLED".
func cancelAfterBegin(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	ctx, cancel := context.WithCancel(rpc.NewOutgoingContext(ctx, rpc.Pairs("key1", "value1", "key2", "value2")))
	defer cancel()
	cs, err := cc.NewStream(ctx, streamingInputDesc, StreamingInputCallMethod)
	if err != nil {
		return err
	}
	cancel()
	_ = cs.CloseSend() // may fail: the call is over
	return wantCode(cs.RecvMsg(new(testpb.StreamingInputCallResponse)), rpc.Canceled)
}

// cancelAfterFirstResponse: a FullDuplexCall cancelled after its first
// response "completed with status CANCELLED".
func cancelAfterFirstResponse(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := cc.NewStream(ctx, fullDuplexDesc, FullDuplexCallMethod)
	if err != nil {
		return err
	}
	req := &testpb.StreamingOutputCallRequest{
		ResponseType:       testpb.PayloadType_COMPRESSABLE,
		ResponseParameters: []*testpb.ResponseParameters{{Size: 31415}},
		Payload:            payload(27182),
	}
	if err := cs.SendMsg(req); err != nil {
		return err
	}
	if err := cs.RecvMsg(new(testpb.StreamingOutputCallResponse)); err != nil {
		return fmt.Errorf("first response: %w", err)
	}
	cancel()
	return wantCode(cs.RecvMsg(new(testpb.StreamingOutputCallResponse)), rpc.Canceled)
}

// wantStatus checks err is a status with exactly this code and message.
func wantStatus(err error, code rpc.Code, msg string) error {
	st := rpc.StatusOf(err)
	if st == nil || st.Code != code || st.Message != msg {
		return fmt.Errorf("got %v, want code %v and message %q", err, code, msg)
	}
	return nil
}

func echoStatusCalls(ctx context.Context, cc *rpc.ClientConn, code int32, msg string, stream bool) error {
	status := &testpb.EchoStatus{Code: code, Message: msg}
	if err := wantStatus(cc.Invoke(ctx, UnaryCallMethod, &testpb.SimpleRequest{ResponseStatus: status}, new(testpb.SimpleResponse)), rpc.Code(code), msg); err != nil {
		return fmt.Errorf("UnaryCall: %w", err)
	}
	if !stream {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := cc.NewStream(ctx, fullDuplexDesc, FullDuplexCallMethod)
	if err != nil {
		return err
	}
	if err := cs.SendMsg(&testpb.StreamingOutputCallRequest{ResponseStatus: status}); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	if err := wantStatus(cs.RecvMsg(new(testpb.StreamingOutputCallResponse)), rpc.Code(code), msg); err != nil {
		return fmt.Errorf("FullDuplexCall: %w", err)
	}
	return nil
}

func statusCodeAndMessage(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	return echoStatusCalls(ctx, cc, 2, "test status message", true)
}

func specialStatusMessage(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return echoStatusCalls(ctx, cc, 2, "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n", false)
}

const (
	echoInitialValue  = "test_initial_metadata_value"
	echoTrailingValue = "\xab\xab\xab"
)

func checkEchoed(header, trailer rpc.MD) error {
	if v := header.Get(EchoInitialKey); len(v) != 1 || v[0] != echoInitialValue {
		return fmt.Errorf("initial metadata %s = %q, want [%q]", EchoInitialKey, v, echoInitialValue)
	}
	if v := trailer.Get(EchoTrailingKey); len(v) != 1 || v[0] != echoTrailingValue {
		return fmt.Errorf("trailing metadata %s = %q, want [%q]", EchoTrailingKey, v, echoTrailingValue)
	}
	return nil
}

func customMetadata(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	ctx = rpc.NewOutgoingContext(ctx, rpc.Pairs(EchoInitialKey, echoInitialValue, EchoTrailingKey, echoTrailingValue))
	var header, trailer rpc.MD
	if err := unary(ctx, cc, largeUnaryRequest(), largeRespSize, rpc.Header(&header), rpc.Trailer(&trailer)); err != nil {
		return fmt.Errorf("UnaryCall: %w", err)
	}
	if err := checkEchoed(header, trailer); err != nil {
		return fmt.Errorf("UnaryCall: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := cc.NewStream(ctx, fullDuplexDesc, FullDuplexCallMethod)
	if err != nil {
		return err
	}
	req := &testpb.StreamingOutputCallRequest{
		ResponseType:       testpb.PayloadType_COMPRESSABLE,
		ResponseParameters: []*testpb.ResponseParameters{{Size: int32(largeRespSize)}},
		Payload:            payload(largeReqSize),
	}
	if err := cs.SendMsg(req); err != nil {
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	header, err = cs.Header()
	if err != nil {
		return fmt.Errorf("FullDuplexCall headers: %w", err)
	}
	out := new(testpb.StreamingOutputCallResponse)
	if err := cs.RecvMsg(out); err != nil {
		return fmt.Errorf("FullDuplexCall: %w", err)
	}
	if err := checkPayload(out.GetPayload(), largeRespSize); err != nil {
		return fmt.Errorf("FullDuplexCall: %w", err)
	}
	if err := cs.RecvMsg(out); !errors.Is(err, io.EOF) {
		return fmt.Errorf("FullDuplexCall: %v, want the end of the call with OK", err)
	}
	if err := checkEchoed(header, cs.Trailer()); err != nil {
		return fmt.Errorf("FullDuplexCall: %w", err)
	}
	return nil
}

func unimplementedMethod(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	return wantCode(cc.Invoke(ctx, UnimplementedCallMethod, &testpb.Empty{}, new(testpb.Empty)), rpc.Unimplemented)
}

func unimplementedService(ctx context.Context, cc *rpc.ClientConn, _ *Config) error {
	return wantCode(cc.Invoke(ctx, UnimplementedServiceCallMethod, &testpb.Empty{}, new(testpb.Empty)), rpc.Unimplemented)
}
