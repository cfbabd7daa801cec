package messenger_test

import (
	"context"
	"log"
	"net"
	"os"

	"github.com/h2rpc/h2rpc/examples/messenger"
	"github.com/h2rpc/h2rpc/rpc"
)

// The lab's unary call: serve the Learning Messenger on a loopback port and
// run client.py's run_unary against it.
func Example() {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := rpc.NewServer()
	messenger.RegisterLearningMessengerServer(srv, &messenger.Server{})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	defer func() {
		srv.GracefulStop()
		<-done
	}()

	cc, err := rpc.Dial(lis.Addr().String(), rpc.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	c := &messenger.Client{Stub: messenger.NewLearningMessengerClient(cc), Out: os.Stdout}
	if err := c.RunUnary(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// --- Unary Request ---
	// Server Response: System ready for research. Status check OK. (Active: True)
}
