// Command h2rpc-server is the hello-world Greeter on h2rpc with messages
// generated on package wire: the binary the size test measures (it holds no
// protobuf runtime).
package main

import (
	"context"
	"flag"
	"log"
	"net"

	"github.com/h2rpc/h2rpc/bench/helloworld/wirepb"
	"github.com/h2rpc/h2rpc/rpc"
)

type greeter struct {
	wirepb.UnimplementedGreeterServer
}

func (greeter) SayHello(_ context.Context, in *wirepb.HelloRequest) (*wirepb.HelloReply, error) {
	return &wirepb.HelloReply{Message: "Hello " + in.GetName()}, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "address to listen on")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	s := rpc.NewServer()
	wirepb.RegisterGreeterServer(s, greeter{})
	log.Printf("listening on %v", lis.Addr())
	if err := s.Serve(lis); err != nil {
		log.Fatal(err)
	}
}
