package interop

// Message counts per call shape against grpc-go, both ways. A peer that
// believes a method streams more than it does sends the wrong number of
// messages: grpc-go's client does with a StreamDesc claiming streaming, and
// grpc-go's server does with a method registered as streaming on its side
// only. statuscodes.md makes both violations UNIMPLEMENTED; grpc-go answers
// INTERNAL for its own side.
//
// Also here: a grpc-go client whose codec is not "proto" sends
// application/grpc+NAME, which our server reads with its proto codec, as
// grpc-go's server does.

import (
	"context"
	"fmt"
	"io"
	"net"
	"path"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/rpc"
)

const (
	unaryCallMethod           = "/grpc.testing.TestService/UnaryCall"
	streamingOutputCallMethod = "/grpc.testing.TestService/StreamingOutputCall"
)

func grpcGoClient(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// TestGRPCGoClientWrongRequestCount: grpc-go's client sends 0, 2 or 3
// requests on our unary and server-streaming methods.
func TestGRPCGoClientWrongRequestCount(t *testing.T) {
	cc := grpcGoClient(t, startH2RPCTestService(t))
	bidi := &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}
	for _, method := range []string{unaryCallMethod, streamingOutputCallMethod} {
		for _, n := range []int{0, 1, 2, 3} {
			t.Run(fmt.Sprintf("%s/%d", path.Base(method), n), func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				cs, err := cc.NewStream(ctx, bidi, method)
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < n; i++ {
					var req proto.Message = &testpb.SimpleRequest{ResponseSize: 10}
					if method == streamingOutputCallMethod {
						req = &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 10}}}
					}
					if err := cs.SendMsg(req); err != nil {
						break // the server ended the call: RecvMsg says why
					}
				}
				if err := cs.CloseSend(); err != nil {
					t.Fatal(err)
				}
				received := 0
				for {
					var resp proto.Message = &testpb.SimpleResponse{}
					if method == streamingOutputCallMethod {
						resp = &testpb.StreamingOutputCallResponse{}
					}
					if err = cs.RecvMsg(resp); err != nil {
						break
					}
					received++
				}
				if n == 1 {
					if err != io.EOF || received != 1 {
						t.Fatalf("one request: %d responses, %v", received, err)
					}
					return
				}
				if status.Code(err) != codes.Unimplemented || received != 0 {
					t.Fatalf("%d requests: %d responses, %v; want none and Unimplemented", n, received, err)
				}
			})
		}
	}
}

// countingService is registered on a grpc-go server with every method
// streaming both ways, whatever the client believes: each call reads the
// requests to their end and sends as many responses as the request's
// response_size says.
var countingServiceDesc = grpc.ServiceDesc{
	ServiceName: "test.Counting",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{
		{StreamName: "Unary", Handler: countingHandler, ServerStreams: true, ClientStreams: true},
		{StreamName: "ClientStream", Handler: countingHandler, ServerStreams: true, ClientStreams: true},
	},
}

func countingHandler(_ any, ss grpc.ServerStream) error {
	n := 0
	for {
		req := &testpb.SimpleRequest{}
		err := ss.RecvMsg(req)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		n = int(req.GetResponseSize())
	}
	for i := 0; i < n; i++ {
		if err := ss.SendMsg(&testpb.SimpleResponse{Username: "r"}); err != nil {
			return err
		}
	}
	return nil
}

// TestGRPCGoServerWrongResponseCount: grpc-go's server sends 0, 2 or 3
// responses to our unary and client-streaming calls.
func TestGRPCGoServerWrongResponseCount(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	s.RegisterService(&countingServiceDesc, struct{}{})
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("grpc-go Serve: %v", err)
		}
	})
	cc, err := rpc.Dial(lis.Addr().String(), rpc.WithInsecure(), rpc.WithCodec(testservice.Codec))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for _, n := range []int{0, 1, 2, 3} {
		want := rpc.Unimplemented
		if n == 1 {
			want = rpc.OK
		}
		req := &testpb.SimpleRequest{ResponseSize: int32(n)}
		err := cc.Invoke(context.Background(), "/test.Counting/Unary", req, &testpb.SimpleResponse{})
		if rpc.CodeOf(err) != want {
			t.Errorf("unary call, %d responses: %v, want %v", n, err, want)
		}

		ctx, cancel := context.WithCancel(context.Background())
		cs, err := cc.NewStream(ctx, &rpc.StreamDesc{ClientStreams: true}, "/test.Counting/ClientStream")
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.SendMsg(req); err != nil {
			t.Fatal(err)
		}
		cs.CloseSend()
		err = cs.RecvMsg(&testpb.SimpleResponse{})
		if err == nil {
			if err = cs.RecvMsg(&testpb.SimpleResponse{}); err == io.EOF {
				err = nil
			}
		}
		cancel()
		if rpc.CodeOf(err) != want {
			t.Errorf("client-streaming call, %d responses: %v, want %v", n, err, want)
		}
	}
}

// TestOurClientWrongRequestCountToGRPCGo: our client sends 0 or 2 requests
// on grpc-go's unary method; grpc-go answers INTERNAL (statuscodes.md says
// UNIMPLEMENTED), and our client reports the server's status as it came.
func TestOurClientWrongRequestCountToGRPCGo(t *testing.T) {
	addr, _ := startGRPCGoPeer(t)
	cc, err := rpc.Dial(addr, rpc.WithInsecure(), rpc.WithCodec(testservice.Codec))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for _, n := range []int{0, 2} {
		ctx, cancel := context.WithCancel(context.Background())
		cs, err := cc.NewStream(ctx, &rpc.StreamDesc{ClientStreams: true, ServerStreams: true}, unaryCallMethod)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if err := cs.SendMsg(&testpb.SimpleRequest{}); err != nil {
				break
			}
		}
		cs.CloseSend()
		err = cs.RecvMsg(&testpb.SimpleResponse{})
		cancel()
		if rpc.CodeOf(err) != rpc.Internal {
			t.Errorf("%d requests to grpc-go: %v, want grpc-go's Internal", n, err)
		}
	}
}

// rawSubtypeCodec is a grpc-go codec passing message bytes through, named "raw":
// grpc-go sends content-type application/grpc+raw with it.
type rawSubtypeCodec struct{}

func (rawSubtypeCodec) Name() string { return "raw" }

func (rawSubtypeCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("rawSubtypeCodec: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (rawSubtypeCodec) Unmarshal(data mem.BufferSlice, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawSubtypeCodec: cannot unmarshal into %T", v)
	}
	*p = data.Materialize()
	return nil
}

// TestGRPCGoRawCodecClient: a grpc-go client with a codec named "raw" is
// served by our server's proto codec, as grpc-go's server would serve it.
func TestGRPCGoRawCodecClient(t *testing.T) {
	cc := grpcGoClient(t, startH2RPCTestService(t))
	req, err := proto.Marshal(&testpb.SimpleRequest{ResponseSize: 31, Payload: &testpb.Payload{Body: make([]byte, 27)}})
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	if err := cc.Invoke(context.Background(), unaryCallMethod, req, &out, grpc.ForceCodecV2(rawSubtypeCodec{})); err != nil {
		t.Fatal(err)
	}
	var resp testpb.SimpleResponse
	if err := proto.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if n := len(resp.GetPayload().GetBody()); n != 31 {
		t.Fatalf("response payload %d bytes, want 31", n)
	}
}
