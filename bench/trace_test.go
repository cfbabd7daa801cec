//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/trace"
)

// BenchmarkExchangeTraced is BenchmarkExchange's h2rpc case with both ends
// traced to a JSON-lines file (off: the same without a tracer), so the
// difference is what tracing costs: each exchange's five frames are
// recorded twice, as written by one end and as read by the other: the
// difference in cpu-ns/exchange divided by 10 is the cost per recorded
// frame.
func BenchmarkExchangeTraced(b *testing.B) {
	for _, traced := range []bool{false, true} {
		for _, n := range []int{1, 16} {
			b.Run(fmt.Sprintf("traced=%v/c%d", traced, n), func(b *testing.B) {
				cfg := &conn.Config{MaxConcurrentStreams: exchangeMaxStreams}
				if traced {
					f, err := os.Create(filepath.Join(b.TempDir(), "exchange.jsonl"))
					if err != nil {
						b.Fatal(err)
					}
					w, err := trace.NewWriter(f, trace.Client, "bench")
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() {
						if err := w.Flush(); err != nil {
							b.Error(err)
						}
						f.Close()
					})
					cfg.Trace = func(ci conn.ConnInfo) conn.Tracer { return w.Conn(trace.EndpointOf(ci.Client)) }
				}
				runExchanges(b, startConnExchangeWith(b, cfg), n)
			})
		}
	}
}
