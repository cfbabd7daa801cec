// Command grpcgo-server is the hello-world Greeter on grpc-go with
// protobuf-go's messages, as grpc-go's examples write it: the binary the
// size test compares h2rpc-server with.
package main

import (
	"context"
	"flag"
	"log"
	"net"

	"google.golang.org/grpc"

	"github.com/h2rpc/h2rpc/bench/helloworld/grpcpb"
)

type greeter struct {
	grpcpb.UnimplementedGreeterServer
}

func (greeter) SayHello(_ context.Context, in *grpcpb.HelloRequest) (*grpcpb.HelloReply, error) {
	return &grpcpb.HelloReply{Message: "Hello " + in.GetName()}, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "address to listen on")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer()
	grpcpb.RegisterGreeterServer(s, greeter{})
	log.Printf("listening on %v", lis.Addr())
	if err := s.Serve(lis); err != nil {
		log.Fatal(err)
	}
}
