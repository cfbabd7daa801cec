package interop

// Retries by service config across implementations (grpc proposal A6): a
// grpc-go client retrying against an h2rpc server, and an h2rpc client
// retrying against a grpc-go server, each server failing the first two
// attempts with UNAVAILABLE and seeing grpc-previous-rpc-attempts count
// them.

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/h2rpc/h2rpc/internal/cluster"
	"github.com/h2rpc/h2rpc/rpc"
)

const interopRetryConfig = `{"methodConfig": [{
  "name": [{"service": "cluster.Backend"}],
  "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.01s", "maxBackoff": "0.05s",
    "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`

// failTwice answers the third attempt of a call and fails the two before,
// recording each attempt's grpc-previous-rpc-attempts.
type failTwice struct {
	mu   sync.Mutex
	prev []string
}

func (f *failTwice) attempt(prev []string) (fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prev = append(f.prev, strings.Join(prev, ","))
	return len(f.prev) <= 2
}

func (f *failTwice) seen() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.prev, " ")
}

func TestGRPCGoClientRetriesAgainstH2RPC(t *testing.T) {
	checkNoLeaks(t)
	f := new(failTwice)
	srv := rpc.NewServer()
	srv.RegisterService(&rpc.ServiceDesc{
		ServiceName: "cluster.Backend",
		Methods: []rpc.MethodDesc{{MethodName: "Call", Handler: func(_ any, ctx context.Context, dec func(any) error, _ rpc.UnaryServerInterceptor) (any, error) {
			var req []byte
			if err := dec(&req); err != nil {
				return nil, err
			}
			md, _ := rpc.FromIncomingContext(ctx)
			if f.attempt(md["grpc-previous-rpc-attempts"]) {
				return nil, rpc.Errorf(rpc.Unavailable, "failing this attempt")
			}
			return req, nil
		}}},
	}, nil)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() {
		srv.Stop()
		<-served
	}()
	cc, err := grpc.NewClient("passthrough:///"+lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(interopRetryConfig),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var reply []byte
	if err := cc.Invoke(context.Background(), cluster.Method, []byte("x"), &reply); err != nil {
		t.Fatal(err)
	}
	if got := f.seen(); got != " 1 2" {
		t.Errorf("grpc-previous-rpc-attempts of the attempts: %q, want \"\", 1, 2", got)
	}
}

func TestH2RPCClientRetriesAgainstGRPCGo(t *testing.T) {
	checkNoLeaks(t)
	f := new(failTwice)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}))
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "cluster.Backend",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Call", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var req []byte
			if err := dec(&req); err != nil {
				return nil, err
			}
			md, _ := metadata.FromIncomingContext(ctx)
			if f.attempt(md["grpc-previous-rpc-attempts"]) {
				return nil, grpcstatus.Error(codes.Unavailable, "failing this attempt")
			}
			return req, nil
		}}},
	}, struct{}{})
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(lis)
	}()
	defer func() {
		srv.Stop()
		<-served
	}()
	cc, err := rpc.Dial(lis.Addr().String(), rpc.WithInsecure(), rpc.WithServiceConfig(interopRetryConfig))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var reply []byte
	if err := cc.Invoke(context.Background(), cluster.Method, []byte("x"), &reply); err != nil || string(reply) != "x" {
		t.Fatalf("%q, %v", reply, err)
	}
	if got := f.seen(); got != " 1 2" {
		t.Errorf("grpc-previous-rpc-attempts of the attempts: %q, want \"\", 1, 2", got)
	}
}
