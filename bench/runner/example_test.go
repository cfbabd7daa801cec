package runner_test

import (
	"os"
	"time"

	"github.com/h2rpc/h2rpc/bench/runner"
)

// Run measures a matrix and the writers print it; here unary calls and
// round trips of h2rpc against grpc, one short run each.
func ExampleRun() {
	rep, err := runner.Run(runner.Config{
		Systems:   []string{"h2rpc", "grpc"},
		Scenarios: []string{runner.ScenarioUnary, runner.ScenarioPingPong},
		Quick:     true,
		Duration:  200 * time.Millisecond,
		Warmup:    50 * time.Millisecond,
		Repeat:    1,
	})
	if err != nil {
		panic(err)
	}
	runner.WriteMarkdown(os.Stdout, rep)
}

// Main is the whole command line, for a main package:
//
//	func main() { os.Exit(runner.Main(os.Args[1:])) }
func ExampleMain() {
	os.Exit(runner.Main([]string{"--quick", "--systems", "h2rpc,grpc,tcp", "--svg", "rpc.svg"}))
}
