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
	"github.com/h2rpc/h2rpc/h2tls"
	"github.com/h2rpc/h2rpc/health"
	"github.com/h2rpc/h2rpc/reflection"
	"github.com/h2rpc/h2rpc/rpc"
	"github.com/h2rpc/h2rpc/trace"
)

func init() {
	register("serve", "serve the Learning Messenger example, with health and reflection, to any gRPC client (h2c, TLS or mutual TLS)", runServe)
}

// runServe is `h2rpc serve`: it serves the example's
// messenger.LearningMessenger over plaintext HTTP/2 (h2c with prior
// knowledge, as gRPC's insecure channels speak it), or over TLS with
// -tls-cert and -tls-key (reloaded when the files change), requiring client
// certificates of -client-ca's authorities too, beside the health service
// (grpc.health.v1: the server and the messenger SERVING) and server
// reflection (v1 and v1alpha, for grpcurl). Once listening it prints
// the address (host:port) on a line of its own on stdout, then the server's
// lines, one per call event (-q silences them). SIGINT or
// SIGTERM starts a graceful stop: every health status NOT_SERVING, then no
// new connections or calls, the calls in flight finish for up to -grace,
// then the rest are cancelled.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: h2rpc serve [flags]")
		fmt.Fprintln(fs.Output(), "Serves messenger.LearningMessenger (examples/messenger/messenger.proto) to any gRPC client over")
		fmt.Fprintln(fs.Output(), "plaintext HTTP/2, or TLS with -tls-cert and -tls-key (mutual TLS with -client-ca; see h2rpc certs).")
		fmt.Fprintln(fs.Output(), "Serves grpc.health.v1.Health and server reflection too (grpc-health-probe, grpcurl).")
		fmt.Fprintln(fs.Output(), "Prints the listening address on stdout, then a line per call event.")
		fmt.Fprintln(fs.Output(), "SIGINT or SIGTERM stops it gracefully, health NOT_SERVING first.")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:50051", "`host:port` to listen on (port 0 picks a free one)")
	delay := fs.Duration("delay", messenger.LabDelay, "wait before each StreamLearnings update (simulated latency)")
	grace := fs.Duration("grace", 10*time.Second, "how long a graceful stop lets calls in flight finish")
	quiet := fs.Bool("q", false, "do not print a line per call event")
	tf := addTLSFlags(fs)
	trf := addTraceFlag(fs, "every connection")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if err := tf.check(); err != nil {
		return usageError(stderr, "h2rpc serve: "+err.Error(), func(w io.Writer) { fs.SetOutput(w); fs.Usage() })
	}
	tlsCfg, reloader, err := tf.serverConfig()
	if err != nil {
		return err
	}
	var opts []rpc.ServerOption
	if tlsCfg != nil {
		defer reloader.Close()
		opts = append(opts, h2tls.Server(tlsCfg))
	}
	if tf.clientCA != "" && !*quiet {
		opts = append(opts, logCaller(stdout))
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
	fmt.Fprintf(stderr, "🚀 gRPC server logic running on %s (%s)...\n", ln.Addr(), tf.describe())
	if err := trf.start(trace.Server, "h2rpc serve on "+ln.Addr().String()); err != nil {
		ln.Close()
		return err
	}
	if cfg := trf.config(nil); cfg != nil {
		opts = append(opts, rpc.ServerConnConfig(cfg))
	}
	srv := rpc.NewServer(opts...)
	messenger.RegisterLearningMessengerServer(srv, impl)
	hs := health.NewServer()
	hs.SetServingStatus(messenger.LearningMessenger_ServiceName, health.Serving)
	health.Register(srv, hs)
	reflection.Register(srv) // messenger.proto's descriptor is registered by its stubs
	err = serveUntilDone(ctx, srv, ln, *grace, hs.Shutdown)
	if terr := trf.finish(); err == nil {
		err = terr
	}
	return err
}

// serveUntilDone serves ln until ctx ends, then calls beforeStop (which
// tells health checkers the server is going) and stops srv gracefully,
// cancelling whatever is still running after grace. It returns once every
// goroutine it started has ended: nil after a stop, or the listener's error.
func serveUntilDone(ctx context.Context, srv *rpc.Server, ln net.Listener, grace time.Duration, beforeStop func()) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served: // the listener failed
		srv.Stop()
		return err
	case <-ctx.Done():
	}
	beforeStop()
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

// logCaller prints the verified identity of every call's client.
func logCaller(w io.Writer) rpc.ServerOption {
	line := func(ctx context.Context, method string) {
		if p, ok := rpc.PeerFromContext(ctx); ok {
			fmt.Fprintf(w, "🔐 %s from %s (%s)\n", method, p.Identity, p.Addr)
		}
	}
	return rpc.CheckCallCredentials(func(ctx context.Context, method string, _ rpc.MD) (context.Context, error) {
		line(ctx, method)
		return ctx, nil
	})
}
