//go:build linux

package main

import (
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/h2rpc/h2rpc/bench/benchpb/gopb"
	"github.com/h2rpc/h2rpc/bench/benchpb/wirepb"
	"google.golang.org/protobuf/proto"
)

// BenchmarkSmallUnmarshalBursts decodes the small value with the wire message and
// with protobuf-go in alternated bursts of 2,000 in one process, so that
// the load of the machine and the collector's phases fall on both alike,
// and reports each one's time per decode twice: by the wall clock, and by
// the CPU clock of the decoding thread (the goroutine is locked to it),
// which time spent descheduled, or in the collector's and scavenger's own
// goroutines, does not count. b.N is the number of rounds (one burst of
// each).
//
//	go test -run '^$' -bench SmallUnmarshalBursts -benchtime 5000x
func BenchmarkSmallUnmarshalBursts(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	data, err := proto.Marshal(smallValue())
	if err != nil {
		b.Fatal(err)
	}
	const burst = 2000
	wm, pm := new(wirepb.Small), new(gopb.Small)
	decode := [2]func(){
		func() {
			for range burst {
				if err := wm.UnmarshalWire(data); err != nil {
					b.Fatal(err)
				}
			}
		},
		func() {
			for range burst {
				if err := proto.Unmarshal(data, pm); err != nil {
					b.Fatal(err)
				}
			}
		},
	}
	var wall, cpu [2]time.Duration
	r := 0
	for b.Loop() {
		for j := range 2 {
			k := (j + r) % 2 // each goes first every other round
			w, c := time.Now(), threadCPU()
			decode[k]()
			cpu[k] += threadCPU() - c
			wall[k] += time.Since(w)
		}
		r++
	}
	n := float64(r * burst)
	b.ReportMetric(float64(wall[0])/n, "wire-ns/decode")
	b.ReportMetric(float64(wall[1])/n, "pbgo-ns/decode")
	b.ReportMetric(float64(wall[1])/float64(wall[0]), "pbgo/wire")
	b.ReportMetric(float64(cpu[0])/n, "wire-cpu-ns/decode")
	b.ReportMetric(float64(cpu[1])/n, "pbgo-cpu-ns/decode")
	b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "pbgo/wire-cpu")
	b.ReportMetric(0, "ns/op")
}

// threadCPU is the CPU time the calling thread has used.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		panic(e)
	}
	return time.Duration(ts.Nano())
}
