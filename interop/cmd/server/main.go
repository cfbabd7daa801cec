// Command server serves grpc.testing.TestService on h2rpc, over h2c or
// TLS, for gRPC's interoperability tests: the h2rpc counterpart of
// grpc-go's interop/server, with the same flags.
//
//	server --port 10000
//	server --port 10000 --use_tls --tls_cert_file server.pem --tls_key_file server.key
//
// Once listening it prints "listening on HOST:PORT" on stdout (with --port
// 0 the port is a free one). SIGINT or SIGTERM stops it gracefully.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/h2rpc/h2rpc/h2tls"
	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/rpc"
)

func main() {
	port := flag.Int("port", 10000, "the port to listen on (0: a free one)")
	host := flag.String("host", "127.0.0.1", "the address to listen on (\"\" for every interface)")
	useTLS := flag.Bool("use_tls", false, "serve TLS instead of h2c")
	certFile := flag.String("tls_cert_file", "", "the PEM certificate (chain) to serve with --use_tls")
	keyFile := flag.String("tls_key_file", "", "the PEM private key of --tls_cert_file")
	flag.Parse()
	opts := []rpc.ServerOption{rpc.ServerCodec(testservice.Codec)}
	if *useTLS {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "server: --use_tls needs --tls_cert_file and --tls_key_file:", err)
			os.Exit(2)
		}
		opts = append(opts, h2tls.Server(&tls.Config{Certificates: []tls.Certificate{cert}}))
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
	srv := rpc.NewServer(opts...)
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
