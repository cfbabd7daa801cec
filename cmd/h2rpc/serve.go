package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/h2rpc/h2rpc/examples/messenger"
	"github.com/h2rpc/h2rpc/rpc"
)

func init() {
	register("serve", "serve the Learning Messenger example to any gRPC client (plaintext HTTP/2)", runServe)
}

// runServe is `h2rpc serve`: it serves the example's
// messenger.LearningMessenger over plaintext HTTP/2 (h2c with prior
// knowledge, as gRPC's insecure channels speak it). Once listening it prints
// the address (host:port) on a line of its own on stdout, then the server's
// lines, one per call event (-q silences them). SIGINT or
// SIGTERM starts a graceful stop: no new connections or calls, the calls in
// flight finish for up to -grace, then the rest are cancelled.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: h2rpc serve [flags]")
		fmt.Fprintln(fs.Output(), "Serves messenger.LearningMessenger (examples/messenger/messenger.proto) to any gRPC client over")
		fmt.Fprintln(fs.Output(), "plaintext HTTP/2. Prints the listening address on stdout, then a line per call event.")
		fmt.Fprintln(fs.Output(), "SIGINT or SIGTERM stops it gracefully.")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:50051", "`host:port` to listen on (port 0 picks a free one)")
	delay := fs.Duration("delay", messenger.LabDelay, "wait before each StreamLearnings update (simulated latency)")
	grace := fs.Duration("grace", 10*time.Second, "how long a graceful stop lets calls in flight finish")
	quiet := fs.Bool("q", false, "do not print a line per call event")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
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
	fmt.Fprintf(stderr, "🚀 gRPC server logic running on %s...\n", ln.Addr())
	srv := rpc.NewServer()
	messenger.RegisterLearningMessengerServer(srv, impl)
	return serveUntilDone(ctx, srv, ln, *grace)
}

// serveUntilDone serves ln until ctx ends, then stops srv gracefully,
// cancelling whatever is still running after grace. It returns once every
// goroutine it started has ended: nil after a stop, or the listener's error.
func serveUntilDone(ctx context.Context, srv *rpc.Server, ln net.Listener, grace time.Duration) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served: // the listener failed
		srv.Stop()
		return err
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		srv.GracefulStop()
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		srv.Stop() // cancels the handlers still running; GracefulStop then returns
		<-stopped
	}
	if err := <-served; !errors.Is(err, rpc.ErrServerStopped) { // stopped before Serve began
		return err
	}
	return nil
}
