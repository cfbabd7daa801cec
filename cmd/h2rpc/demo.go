package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/h2rpc/h2rpc/examples/messenger"
	"github.com/h2rpc/h2rpc/h2tls"
	"github.com/h2rpc/h2rpc/rpc"
	"github.com/h2rpc/h2rpc/trace"
)

func init() {
	register("demo", "run the Learning Messenger example: server and client in one process, all four call shapes", runDemo)
}

// serverPrefix marks the server's lines in the demo's output.
const serverPrefix = "[server] "

// runDemo is `h2rpc demo`: it serves the Learning Messenger on a loopback
// port, runs the example's client against it (unary, server streaming,
// client streaming, bidirectional) and prints what the client receives,
// with the server's own lines interleaved and prefixed with "[server] ".
// It exits once the four calls are done.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: h2rpc demo [flags]")
		fmt.Fprintln(fs.Output(), "Runs the Learning Messenger example in one process: a server on a loopback port and a client")
		fmt.Fprintln(fs.Output(), "calling it in the four call shapes (unary, server streaming, client streaming, bidirectional),")
		fmt.Fprintln(fs.Output(), "printing what the client receives and, prefixed, what the server sees.")
		fs.PrintDefaults()
	}
	delay := fs.Duration("delay", 150*time.Millisecond, "simulated latency between streamed items, on both sides (h2rpc serve uses 1s)")
	serverLog := fs.Bool("server-log", true, "print the server's lines too, prefixed with "+`"`+serverPrefix+`"`)
	remote := fs.String("addr", "", "call the server at `host:port` (h2rpc serve) instead of starting one")
	caFile := fs.String("ca", "", "with -addr: connect over TLS, verifying the server against the CAs of this PEM `file`")
	certFile := fs.String("cert", "", "with -ca: present this client certificate (PEM `file`) for mutual TLS")
	keyFile := fs.String("key", "", "the private key (PEM `file`) of -cert")
	tf := addTraceFlag(fs, "the client's connection")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	usage := func(w io.Writer) { fs.SetOutput(w); fs.Usage() }
	switch {
	case *caFile != "" && *remote == "":
		return usageError(stderr, "h2rpc demo: -ca needs -addr", usage)
	case (*certFile == "") != (*keyFile == ""):
		return usageError(stderr, "h2rpc demo: -cert and -key go together", usage)
	case *certFile != "" && *caFile == "":
		return usageError(stderr, "h2rpc demo: -cert needs -ca", usage)
	}
	if err := tf.start(trace.Client, "h2rpc demo: the four call shapes on one connection"); err != nil {
		return err
	}
	if *remote != "" {
		opts := []rpc.DialOption{rpc.WithConnConfig(tf.config(nil)), rpc.WithInsecure()}
		if *caFile != "" {
			pool, err := loadPool(*caFile)
			if err != nil {
				return fmt.Errorf("-ca: %w", err)
			}
			cfg := &tls.Config{RootCAs: pool}
			if *certFile != "" {
				cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
				if err != nil {
					return fmt.Errorf("-cert and -key: %w", err)
				}
				cfg.Certificates = []tls.Certificate{cert}
			}
			opts = append(opts, h2tls.Client(cfg)) // instead of h2c
		}
		err := runDemoClient(ctx, *remote, &lineWriter{w: stdout}, *delay, opts...)
		if terr := tf.finish(); err == nil {
			err = terr
		}
		return err
	}

	out := &lineWriter{w: stdout}
	impl := &messenger.Server{Delay: *delay}
	if *serverLog {
		impl.Log = &prefixWriter{prefix: serverPrefix, w: out}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := rpc.NewServer()
	messenger.RegisterLearningMessengerServer(srv, impl)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if *serverLog {
		fmt.Fprintf(impl.Log, "🚀 gRPC server logic running on %s...\n", ln.Addr())
	}

	runErr := runDemoClient(ctx, ln.Addr().String(), out, *delay, rpc.WithInsecure(), rpc.WithConnConfig(tf.config(nil)))
	if runErr != nil {
		srv.Stop() // a failed call may leave a handler waiting
	} else {
		srv.GracefulStop()
	}
	if err := <-served; err != nil && runErr == nil {
		runErr = err
	}
	if err := tf.finish(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// runDemoClient runs the example's client against addr.
func runDemoClient(ctx context.Context, addr string, out io.Writer, delay time.Duration, opts ...rpc.DialOption) error {
	cc, err := rpc.Dial(addr, opts...)
	if err != nil {
		return err
	}
	defer cc.Close()
	c := &messenger.Client{Stub: messenger.NewLearningMessengerClient(cc), Out: out, Delay: delay}
	return c.RunAll(ctx)
}

// lineWriter serializes writes, so the client's and the server's lines,
// each written whole, never interleave mid-line.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes each Write, one whole line, behind a prefix.
type prefixWriter struct {
	prefix string
	w      io.Writer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if _, err := p.w.Write(append([]byte(p.prefix), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}
