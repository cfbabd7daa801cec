// Command server serves grpc.testing.TestService on h2rpc over plaintext
// HTTP/2, for gRPC's interoperability tests: the h2rpc counterpart of
// grpc-go's interop/server, with the same flags.
//
//	server --port 10000
//
// Once listening it prints "listening on HOST:PORT" on stdout (with --port
// 0 the port is a free one). SIGINT or SIGTERM stops it gracefully.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/rpc"
)

func main() {
	port := flag.Int("port", 10000, "the port to listen on (0: a free one)")
	host := flag.String("host", "127.0.0.1", "the address to listen on (\"\" for every interface)")
	useTLS := flag.Bool("use_tls", false, "use TLS (not supported: h2rpc speaks plaintext HTTP/2)")
	flag.Parse()
	if *useTLS {
		fmt.Fprintln(os.Stderr, "server: --use_tls=true is not supported")
		os.Exit(2)
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
	srv := rpc.NewServer(rpc.ServerCodec(testservice.Codec))
	testservice.Register(srv, &testservice.Server{})
	fmt.Printf("listening on %s\n", lis.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case err := <-served:
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		srv.Stop()
		<-stopped
	}
	<-served
}
