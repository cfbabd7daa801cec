// Command h2rpc-serve is `h2rpc serve` with the two services every
// deployed gRPC server carries: health (grpc.health.v1, for Kubernetes
// probes and grpc-health-probe) and reflection (grpc.reflection.v1 and
// v1alpha, for grpcurl). It serves the python-grpc lab's
// messenger.LearningMessenger over plaintext HTTP/2 and lives in the
// protobuf module because reflection needs protobuf-go, which the core
// module, and so its h2rpc command, does without.
//
//	go run github.com/h2rpc/h2rpc/protobuf/cmd/h2rpc-serve -addr 127.0.0.1:50051
//	grpcurl -plaintext 127.0.0.1:50051 list
//	grpc-health-probe -addr 127.0.0.1:50051
//
// Once listening it prints the address on a line of its own on stdout, then
// a line per call event (-q silences them). SIGINT or SIGTERM moves every
// health status to NOT_SERVING, then stops gracefully: calls in flight
// finish for up to -grace, the rest are cancelled.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/h2rpc/h2rpc/examples/messenger"
	"github.com/h2rpc/h2rpc/health"
	_ "github.com/h2rpc/h2rpc/protobuf/internal/messengerpb" // messenger.proto's descriptors, for reflection
	"github.com/h2rpc/h2rpc/protobuf/reflection"
	"github.com/h2rpc/h2rpc/rpc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "h2rpc-serve:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage error")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("h2rpc-serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: h2rpc-serve [flags]")
		fmt.Fprintln(fs.Output(), "Serves messenger.LearningMessenger, grpc.health.v1.Health and server reflection over plaintext HTTP/2.")
		fmt.Fprintln(fs.Output(), "Prints the listening address on stdout, then the server's log lines.")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:50051", "`host:port` to listen on (port 0 picks a free one)")
	delay := fs.Duration("delay", messenger.LabDelay, "wait before each StreamLearnings update (the lab's simulated latency)")
	grace := fs.Duration("grace", 10*time.Second, "how long a graceful stop lets calls in flight finish")
	quiet := fs.Bool("q", false, "do not print a line per call event")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q: %w", fs.Args(), errUsage)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, ln.Addr().String())
	impl := &messenger.Server{Delay: *delay}
	if !*quiet {
		impl.Log = stdout
	}
	srv := rpc.NewServer()
	messenger.RegisterLearningMessengerServer(srv, impl)
	hs := health.NewServer()
	hs.SetServingStatus(messenger.LearningMessenger_ServiceName, health.Serving)
	health.Register(srv, hs)
	reflection.Register(srv)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served: // the listener failed
		srv.Stop()
		return err
	case <-ctx.Done():
	}
	hs.Shutdown() // probes see NOT_SERVING while the calls in flight finish
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		srv.GracefulStop()
	}()
	t := time.NewTimer(*grace)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		srv.Stop()
		<-stopped
	}
	if err := <-served; !errors.Is(err, rpc.ErrServerStopped) {
		return err
	}
	return nil
}
