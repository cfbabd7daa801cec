package interop

// A grpc-go peer for the compression cases. grpc-go v1.85.0's interop
// binaries register no gzip codec and implement neither CompressedRequest
// nor CompressedResponse, so this file builds, in process, a grpc-go
// TestService server that has them: grpc-go's own interop.NewTestServer
// plus gzip (google.golang.org/grpc/encoding/gzip) and a wrapper that
// checks expect_compressed and honours response_compressed. Both it and
// the grpc-go clients of the tests carry a stats.Handler recording, per
// call, the grpc-encoding seen and whether each message travelled
// compressed, which is how the tests see compression happen on the wire.

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // registers "gzip" with grpc-go
	"google.golang.org/grpc/interop"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// wireMsg is one message as a stats handler saw it.
type wireMsg struct {
	length           int // after decompression
	compressedLength int // on the wire; equal to length for an uncompressed message
}

// compressed reports whether the message travelled compressed. grpc-go
// reports CompressedLength equal to Length for an uncompressed message;
// the payloads of these tests are zeros, which gzip always changes in size.
func (m wireMsg) compressed() bool { return m.compressedLength != m.length }

// callRecord is what a stats handler saw of one call.
type callRecord struct {
	method string

	mu         sync.Mutex
	inEncoding string    // guarded by mu: grpc-encoding of the received headers
	in         []wireMsg // guarded by mu: received messages, in order
	out        []wireMsg // guarded by mu: sent messages, in order
}

func (r *callRecord) snapshot() (inEncoding string, in, out []wireMsg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inEncoding, append([]wireMsg(nil), r.in...), append([]wireMsg(nil), r.out...)
}

// lastIn returns the last message received, which in a handler is the one
// RecvMsg just returned: grpc-go reports InPayload before RecvMsg returns.
func (r *callRecord) lastIn() (wireMsg, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.in) == 0 {
		return wireMsg{}, false
	}
	return r.in[len(r.in)-1], true
}

// recorder is a grpc-go stats.Handler keeping a callRecord per call.
type recorder struct {
	mu    sync.Mutex
	calls []*callRecord // guarded by mu
}

type recordKey struct{}

func (rc *recorder) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	r := &callRecord{method: info.FullMethodName}
	rc.mu.Lock()
	rc.calls = append(rc.calls, r)
	rc.mu.Unlock()
	return context.WithValue(ctx, recordKey{}, r)
}

func (rc *recorder) HandleRPC(ctx context.Context, s stats.RPCStats) {
	r, _ := ctx.Value(recordKey{}).(*callRecord)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch s := s.(type) {
	case *stats.InHeader:
		r.inEncoding = s.Compression
	case *stats.InPayload:
		r.in = append(r.in, wireMsg{s.Length, s.CompressedLength})
	case *stats.OutPayload:
		r.out = append(r.out, wireMsg{s.Length, s.CompressedLength})
	}
}

func (*recorder) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (*recorder) HandleConn(context.Context, stats.ConnStats)                       {}

// take returns the calls recorded so far and forgets them.
func (rc *recorder) take() []*callRecord {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	calls := rc.calls
	rc.calls = nil
	return calls
}

// compressionServer is grpc-go's interop TestService with the
// CompressedRequest and CompressedResponse features added.
type compressionServer struct {
	testpb.TestServiceServer
}

func recordOf(ctx context.Context) *callRecord {
	r, _ := ctx.Value(recordKey{}).(*callRecord)
	return r
}

// checkExpectCompressed is CompressedRequest: "When the client sets
// expect_compressed to true, the server expects the client request to be
// compressed. If it's not, it fails the RPC with INVALID_ARGUMENT."
func checkExpectCompressed(ctx context.Context, expect *testpb.BoolValue) error {
	if !expect.GetValue() {
		return nil
	}
	r := recordOf(ctx)
	if r == nil {
		return status.Error(codes.Internal, "no stats record for the call")
	}
	m, ok := r.lastIn()
	if !ok {
		return status.Error(codes.Internal, "no message recorded for the call")
	}
	if !m.compressed() {
		return status.Error(codes.InvalidArgument, "expected a compressed request")
	}
	return nil
}

// setSendCompression is CompressedResponse.
func setSendCompression(ctx context.Context, compressed *testpb.BoolValue) error {
	if compressed == nil {
		return nil
	}
	name := "identity"
	if compressed.GetValue() {
		name = "gzip"
	}
	return grpc.SetSendCompressor(ctx, name)
}

func (s compressionServer) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if err := checkExpectCompressed(ctx, in.GetExpectCompressed()); err != nil {
		return nil, err
	}
	if err := setSendCompression(ctx, in.GetResponseCompressed()); err != nil {
		return nil, err
	}
	return s.TestServiceServer.UnaryCall(ctx, in)
}

func (s compressionServer) StreamingInputCall(stream testpb.TestService_StreamingInputCallServer) error {
	sum := 0
	for {
		in, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(sum)})
		}
		if err != nil {
			return err
		}
		if err := checkExpectCompressed(stream.Context(), in.GetExpectCompressed()); err != nil {
			return err
		}
		sum += len(in.GetPayload().GetBody())
	}
}

// StreamingOutputCall compresses the whole call if the first response asks
// for it: grpc-go, like rpc, chooses compression per call.
func (s compressionServer) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, stream testpb.TestService_StreamingOutputCallServer) error {
	if p := in.GetResponseParameters(); len(p) > 0 {
		if err := setSendCompression(stream.Context(), p[0].GetCompressed()); err != nil {
			return err
		}
	}
	return s.TestServiceServer.StreamingOutputCall(in, stream)
}

// startGRPCGoPeer serves compressionServer on a loopback port until the
// test ends, recording every call in the returned recorder.
func startGRPCGoPeer(t *testing.T) (addr string, rec *recorder) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec = &recorder{}
	s := grpc.NewServer(grpc.StatsHandler(rec))
	testpb.RegisterTestServiceServer(s, compressionServer{interop.NewTestServer()})
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("grpc-go Serve: %v", err)
		}
	})
	return lis.Addr().String(), rec
}
