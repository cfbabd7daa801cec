// Command h2rpc-soak holds h2rpc up under real traffic for a while and
// checks that nothing breaks: a mixed workload of every call shape (unary
// with long and short deadlines, cancellations, server and client
// streaming, bidirectional; messages up to 4 MiB; gzip) runs over several
// connections while, phase by phase, the server is killed and restarted,
// gracefully drained, or faced with peers that stop reading.
//
// Every message carries its call, its sequence number and a checksum, so
// each end checks each message it receives; every call must end with the
// status the gRPC spec allows for what happened to it (UNAVAILABLE only
// while the server was down or draining); and after each phase both
// processes' goroutines, file descriptors and memory must come back to
// their baseline. The server runs in a child process, this same binary
// re-executed, so that it can be killed.
//
// It prints a table per phase and exits 1 if anything was wrong:
//
//	h2rpc-soak --duration 30m
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	if addr, ok := os.LookupEnv(serverEnv); ok {
		os.Exit(serveChild(addr, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// runMain parses args, runs the soak and reports; it returns the exit code.
func runMain(args []string, stdout, stderr io.Writer) int {
	cfg := defaultConfig()
	cfg.log = stderr
	fs := flag.NewFlagSet("h2rpc-soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&cfg.duration, "duration", cfg.duration, "how long to run (at least one phase of each kind runs)")
	fs.DurationVar(&cfg.phase, "phase", cfg.phase, "the length of one phase")
	fs.IntVar(&cfg.conns, "conns", cfg.conns, "client connections carrying the workload")
	fs.IntVar(&cfg.workers, "workers", cfg.workers, "concurrent callers per connection")
	fs.IntVar(&cfg.big, "big", cfg.big, "the size in bytes of big messages")
	fs.DurationVar(&cfg.down, "down", cfg.down, "how long a killed server stays down")
	fs.DurationVar(&cfg.grace, "grace", cfg.grace, "how long after a restart calls may still fail UNAVAILABLE (reconnection backoff)")
	fs.BoolVar(&cfg.shared, "stall-shared", cfg.shared, "in the stall phase, also leave streams unread on a workload connection and check that its other calls go on")
	fs.Uint64Var(&cfg.seed, "seed", cfg.seed, "the workload's random seed")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: h2rpc-soak [flags]\n\nRuns a mixed gRPC workload against a server that is killed, drained and\nstalled in turn, checks every message, status and resource, and exits 1\non any violation.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || cfg.phase <= 0 || cfg.conns < 1 || cfg.workers < 1 || cfg.big < headerLen {
		fs.Usage()
		return 2
	}
	fmt.Fprintf(stderr, "soak: %v in phases of %v, %d connections × %d callers, seed %d\n",
		cfg.duration, cfg.phase, cfg.conns, cfg.workers, cfg.seed)
	start := time.Now()
	phases, err := run(cfg)
	n := report(stdout, phases)
	if err != nil {
		fmt.Fprintf(stdout, "soak stopped: %v\n", err)
		return 1
	}
	if n > 0 {
		fmt.Fprintf(stdout, "FAIL: %d violations in %v\n", n, time.Since(start).Round(time.Second))
		return 1
	}
	fmt.Fprintf(stdout, "PASS: no violations in %v\n", time.Since(start).Round(time.Second))
	return 0
}
