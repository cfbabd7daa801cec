// Command h2bench measures h2rpc against grpc-go, drpc, x/net's HTTP/2 and
// raw TCP on this machine and prints a Markdown table; see package runner.
//
//	cd bench && go run ./cmd/h2bench --quick
//	go run ./cmd/h2bench --json rpc.json --svg rpc.svg
//	go run ./cmd/h2bench --target localhost:10000 --method /grpc.testing.TestService/EmptyCall
package main

import (
	"os"

	"github.com/h2rpc/h2rpc/bench/runner"
)

func main() { os.Exit(runner.Main(os.Args[1:])) }
