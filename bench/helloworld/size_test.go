package helloworld

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/bench/helloworld/grpcpb"
	"github.com/h2rpc/h2rpc/bench/helloworld/wirepb"
	"github.com/h2rpc/h2rpc/rpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func build(t *testing.T, pkg string) (path string, size int64) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	return bin, fi.Size()
}

// The stripped h2rpc hello-world server with wire messages holds no
// protobuf-go and is at most a third of grpc-go's size. It links no
// crypto/tls or crypto/x509 (TLS is in package h2tls, which it does not
// import), and no client code (rpc registers no resolver at init).
func TestBinarySize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two servers")
	}
	ours, ourSize := build(t, "github.com/h2rpc/h2rpc/bench/helloworld/h2rpc-server")
	_, grpcSize := build(t, "github.com/h2rpc/h2rpc/bench/helloworld/grpcgo-server")
	out, err := exec.Command("go", "version", "-m", ours).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "google.golang.org/protobuf") {
		t.Errorf("the h2rpc server's binary holds protobuf-go:\n%s", out)
	}
	t.Logf("stripped: h2rpc + wire messages %d bytes (%.1f MB), grpc-go + protobuf-go %d bytes (%.1f MB), ratio %.3f",
		ourSize, float64(ourSize)/1e6, grpcSize, float64(grpcSize)/1e6, float64(ourSize)/float64(grpcSize))
	if ourSize*3 > grpcSize {
		t.Errorf("h2rpc server %d bytes, more than a third of grpc-go's %d", ourSize, grpcSize)
	}
	// An import is enough to link a package's init and what it reaches.
	deps, err := exec.Command("go", "list", "-deps", "github.com/h2rpc/h2rpc/bench/helloworld/h2rpc-server").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, deps)
	}
	for _, dep := range strings.Fields(string(deps)) {
		if dep == "crypto/tls" || dep == "crypto/x509" {
			t.Errorf("the h2rpc server imports %s, with no TLS asked for", dep)
		}
	}
}

type greeter struct {
	wirepb.UnimplementedGreeterServer
}

func (greeter) SayHello(_ context.Context, in *wirepb.HelloRequest) (*wirepb.HelloReply, error) {
	return &wirepb.HelloReply{Message: "Hello " + in.GetName()}, nil
}

// The two speak to each other: grpc-go's client greets the h2rpc server.
func TestGreeterInterop(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := rpc.NewServer()
	wirepb.RegisterGreeterServer(s, greeter{})
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
	reply, err := grpcpb.NewGreeterClient(cc).SayHello(context.Background(), &grpcpb.HelloRequest{Name: "world"})
	if err != nil || reply.GetMessage() != "Hello world" {
		t.Fatalf("SayHello = %v, %v", reply, err)
	}
}
