package interop

// Hedging of a streaming call across implementations: an h2rpc client
// hedges a bidi call against a grpc-go server whose first attempt never
// answers. (grpc-go's client does not hedge, so there is no other way
// round.)

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/h2rpc/h2rpc/rpc"
)

func TestH2RPCClientHedgesStreamAgainstGRPCGo(t *testing.T) {
	checkNoLeaks(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan string, 4)
	loserEnded := make(chan error, 1)
	var mu sync.Mutex
	var winnerGot []string
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}))
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "hedge.Echo",
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{StreamName: "Bidi", ServerStreams: true, ClientStreams: true,
			Handler: func(_ any, ss grpc.ServerStream) error {
				md, _ := metadata.FromIncomingContext(ss.Context())
				prev := strings.Join(md["grpc-previous-rpc-attempts"], ",")
				started <- prev
				for {
					var m []byte
					if err := ss.RecvMsg(&m); err != nil {
						if prev == "" {
							<-ss.Context().Done()
							loserEnded <- ss.Context().Err()
						}
						return nil
					}
					if prev == "" {
						continue // the first attempt never answers
					}
					mu.Lock()
					winnerGot = append(winnerGot, string(m))
					mu.Unlock()
					if err := ss.SendMsg(m); err != nil {
						return err
					}
				}
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
	cc, err := rpc.Dial(lis.Addr().String(), rpc.WithInsecure(), rpc.WithServiceConfig(`{"methodConfig": [{
	  "name": [{"service": "hedge.Echo"}],
	  "hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": "0.05s", "nonFatalStatusCodes": ["UNAVAILABLE"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	desc := &rpc.StreamDesc{ServerStreams: true, ClientStreams: true}
	s, err := cc.NewStream(context.Background(), desc, "/hedge.Echo/Bidi")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg([]byte("a")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the hedged attempt never reached the server")
		}
	}
	if err := s.SendMsg([]byte("b")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a", "b"} {
		var m []byte
		if err := s.RecvMsg(&m); err != nil || string(m) != want {
			t.Fatalf("RecvMsg: %q, %v; want %q", m, err, want)
		}
	}
	s.CloseSend()
	var m []byte
	if err := s.RecvMsg(&m); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
	mu.Lock()
	got := strings.Join(winnerGot, " ")
	mu.Unlock()
	if got != "a b" {
		t.Errorf("the winning attempt got %q, want a b", got)
	}
	select {
	case err := <-loserEnded:
		if err != context.Canceled {
			t.Errorf("the loser's context ended with %v, want Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the losing attempt's handler never saw its context end")
	}
}
