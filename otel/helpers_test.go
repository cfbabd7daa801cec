package otelrpc_test

import "time"

// waitABit yields to the goroutines that end spans.
func waitABit() { time.Sleep(5 * time.Millisecond) }
