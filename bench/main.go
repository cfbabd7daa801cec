// Command bench measures h2rpc against the transports its users would
// otherwise pick (grpc-go, drpc, x/net's HTTP/2, raw TCP) on this machine, in
// one run, and prints a Markdown table; see package runner for the flags.
//
//	cd bench && go run . --quick
//	go run . --json rpc.json --svg rpc.svg
//	go run . --target localhost:10000 --method /grpc.testing.TestService/EmptyCall
//
// The go test benchmarks in this directory compare frames, connections and
// RPC cells side by side for benchstat:
//
//	go test -run '^$' -bench 'ReadFrame|WriteFrame' -benchmem -count 5 .
//
// It is a nested module so its dependencies stay out of the core module.
// See docs/BENCHMARKS.md for the figures.
package main

import (
	"os"

	"github.com/h2rpc/h2rpc/bench/runner"
)

func main() { os.Exit(runner.Main(os.Args[1:])) }
