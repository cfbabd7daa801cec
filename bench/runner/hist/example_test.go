package hist_test

import (
	"fmt"
	"time"

	"github.com/h2rpc/h2rpc/bench/runner/hist"
)

// Each goroutine records into its own Histogram; Merge combines them.
func ExampleHistogram() {
	var a, b hist.Histogram
	for i := 1; i <= 900; i++ {
		a.RecordDuration(20 * time.Microsecond)
	}
	for i := 1; i <= 100; i++ {
		b.RecordDuration(time.Duration(i) * time.Millisecond)
	}
	a.Merge(&b)
	fmt.Println("calls:", a.Count())
	fmt.Println("p50:", time.Duration(a.Quantile(0.5)).Round(time.Microsecond)) // within a bucket: 1/64 of the value
	fmt.Println("p99 within 3%:", abs(a.Quantile(0.99)-int64(90*time.Millisecond)) < int64(3*time.Millisecond))
	fmt.Println("max:", time.Duration(a.Max()))
	// Output:
	// calls: 1000
	// p50: 20µs
	// p99 within 3%: true
	// max: 100ms
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
