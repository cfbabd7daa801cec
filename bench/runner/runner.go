// Package runner measures h2rpc against the transports its users would
// otherwise pick — grpc-go, drpc, x/net's HTTP/2 and raw TCP, and grpc-go
// over TLS — in one run on one machine, and reports a Markdown table, raw JSON figures and an SVG
// chart. Main is the command line (bench's main package: cd bench && go run .);
// Run is the same as a library call.
//
// Each system implements System in one file (sys_*.go). Each cell of the
// matrix (a scenario with its payload size and concurrency) runs every
// system in turn, A B C A B C …, each run starting its own server and
// client, warming up, then measuring for a fixed time; the reported figure
// is the median of the repeats, and ratios compare to grpc (for the TLS
// systems, to grpc-tls) in the same run so that machine drift hits all
// systems alike. Client and server share the
// process, so allocations per operation count both sides; except in the
// conns scenario, which measures the memory of idle client connections
// and so runs the server in a child process (the runner's own binary
// re-executed: see Main).
package runner

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/h2rpc/h2rpc/bench/runner/hist"
)

// Baseline is the system ratios compare against; the TLS systems compare
// against BaselineTLS (baselineOf).
const (
	Baseline    = "grpc"
	BaselineTLS = "grpc-tls"
)

// baselineOf names the system the ratios of system compare against.
func baselineOf(system string) string {
	if strings.HasSuffix(system, "-tls") {
		return BaselineTLS
	}
	return Baseline
}

// DefaultOrder is the report order of the systems this package registers.
var DefaultOrder = []string{"h2rpc", "grpc", "grpc-perf", "drpc", "xnet", "tcp", "h2rpc-tls", "grpc-tls"}

// Config is what Run measures.
type Config struct {
	Systems   []string      // system names; empty: all registered, in DefaultOrder
	Scenarios []string      // scenario names; empty: all
	Quick     bool          // the small matrix
	Duration  time.Duration // measured time per run
	Warmup    time.Duration // unmeasured time before it
	Repeat    int           // runs per system and cell; the median is reported
	Conns     int           // client connections of the conns scenario
	// Progress, if not nil, receives progress: a bar if Bar is set (a
	// terminal), otherwise one line per run.
	Progress io.Writer
	Bar      bool
}

// Report is the result of Run.
type Report struct {
	Machine  string        `json:"machine"`
	Command  string        `json:"command,omitempty"`
	Started  time.Time     `json:"started"`
	Took     time.Duration `json:"took_ns"`
	Duration time.Duration `json:"duration_ns"`
	Warmup   time.Duration `json:"warmup_ns"`
	Repeat   int           `json:"repeat"`
	Systems  []string      `json:"systems"`
	Cells    []CellReport  `json:"cells"`
	Checks   []Check       `json:"checks,omitempty"` // h2rpc against the targets
}

// CellReport holds one cell's results, one per system.
type CellReport struct {
	Cell    Cell           `json:"cell"`
	Results []SystemResult `json:"results"`
}

// SystemResult is one system's figures in one cell: the median of its
// runs, and its ratios to the baseline's medians.
type SystemResult struct {
	System  string `json:"system"`
	Figures        // medians of the runs
	// Ratios to grpc in this cell (0 when grpc did not run or this
	// system failed): throughput, p99 latency, allocations per op, and
	// heap per connection (conns).
	Ratio       float64      `json:"ratio"`
	P99Ratio    float64      `json:"p99_ratio"`
	AllocsRatio float64      `json:"allocs_ratio"`
	MemRatio    float64      `json:"mem_ratio,omitempty"`
	Runs        []Figures    `json:"runs"`          // every run of the kept variant
	CDF         []hist.Point `json:"cdf,omitempty"` // latency of the median run
	Err         string       `json:"error,omitempty"`
}

// Machine describes the machine: CPU model, cores, OS, Go version.
func Machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimLeft(name, " \t:"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores (GOMAXPROCS %d), %s/%s, %s", cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// resolveSystems returns the systems cfg names, in report order.
func resolveSystems(names []string) ([]System, error) {
	if len(names) == 0 {
		all := Systems()
		slices.SortStableFunc(all, func(a, b System) int { return orderOf(a.Name()) - orderOf(b.Name()) })
		return all, nil
	}
	var out []System
	for _, n := range names {
		s, ok := Lookup(n)
		if !ok {
			return nil, fmt.Errorf("unknown system %q (have %s)", n, strings.Join(systemNames(), ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func orderOf(name string) int {
	if i := slices.Index(DefaultOrder, name); i >= 0 {
		return i
	}
	return len(DefaultOrder)
}

func systemNames() []string {
	var names []string
	for _, s := range Systems() {
		names = append(names, s.Name())
	}
	return names
}

// A job is one run of the matrix: one system (variant) in one cell.
type job struct {
	cell   int
	system System
	pool   int
}

// Run measures the matrix cfg describes. Its conns scenario runs servers in
// child processes that only Main (or a TestMain doing the same) serves.
func Run(cfg Config) (*Report, error) {
	if cfg.Repeat < 1 {
		cfg.Repeat = 1
	}
	if cfg.Conns < 1 {
		cfg.Conns = 1000
	}
	for _, s := range cfg.Scenarios {
		if !slices.Contains(Scenarios, s) {
			return nil, fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(Scenarios, ", "))
		}
	}
	systems, err := resolveSystems(cfg.Systems)
	if err != nil {
		return nil, err
	}
	cells := Matrix(cfg.Quick, cfg.Scenarios, cfg.Conns)
	rep := &Report{Machine: Machine(), Started: time.Now(), Duration: cfg.Duration, Warmup: cfg.Warmup, Repeat: cfg.Repeat}
	for _, s := range systems {
		rep.Systems = append(rep.Systems, s.Name())
	}

	// The jobs of one repeat, cell by cell, systems interleaved.
	var round []job
	for ci, cell := range cells {
		for _, s := range systems {
			if !s.Supports(cell.Shape()) {
				continue
			}
			pools := []int{0}
			if p, ok := s.(Pooler); ok && cell.Scenario == ScenarioUnary {
				pools = p.PoolSizes(cell.Concurrency)
			}
			for _, pool := range pools {
				round = append(round, job{cell: ci, system: s, pool: pool})
			}
		}
	}
	type key struct {
		cell   int
		system string
		pool   int
	}
	runs := map[key][]Figures{}
	errs := map[key]error{}
	prog := newProgress(cfg.Progress, cfg.Bar, len(round)*cfg.Repeat)
	// Repeats are outermost within a cell: cell 1 (A B A B A B), cell 2 ….
	for ci := range cells {
		for r := 0; r < cfg.Repeat; r++ {
			for _, j := range round {
				if j.cell != ci {
					continue
				}
				k := key{j.cell, j.system.Name(), j.pool}
				if errs[k] != nil {
					prog.step(cells[ci], j.system.Name(), nil, errs[k])
					continue
				}
				prog.begin(cells[ci], j.system.Name())
				run, err := measure(j.system, cells[ci], j.pool, cfg.Warmup, cfg.Duration)
				if err != nil {
					errs[k] = err
				} else {
					runs[k] = append(runs[k], run)
				}
				prog.step(cells[ci], j.system.Name(), &run, err)
			}
		}
	}
	prog.done()

	for ci, cell := range cells {
		cr := CellReport{Cell: cell}
		for _, s := range systems {
			if !s.Supports(cell.Shape()) {
				continue
			}
			var best *SystemResult
			for _, j := range round {
				if j.cell != ci || j.system != s {
					continue
				}
				k := key{ci, s.Name(), j.pool}
				res := SystemResult{System: s.Name()}
				if err := errs[k]; err != nil {
					res.Err = err.Error()
				} else {
					res.Runs = runs[k]
					res.Figures = medianRun(res.Runs)
					if h := medianHist(res.Runs); h != nil {
						res.CDF = h.CDF(200)
					}
				}
				if best == nil || (best.Err != "" && res.Err == "") || (res.Err == "" && res.OpsPerSec > best.OpsPerSec) {
					best = &res
				}
			}
			cr.Results = append(cr.Results, *best)
		}
		setRatios(&cr)
		rep.Cells = append(rep.Cells, cr)
	}
	rep.Checks = Checks(rep)
	rep.Took = time.Since(rep.Started)
	return rep, nil
}

// setRatios fills in the ratios to each system's baseline (baselineOf).
func setRatios(cr *CellReport) {
	for j := range cr.Results {
		r := &cr.Results[j]
		if r.Err != "" {
			continue
		}
		i := slices.IndexFunc(cr.Results, func(b SystemResult) bool { return b.System == baselineOf(r.System) && b.Err == "" })
		if i < 0 {
			continue
		}
		base := cr.Results[i]
		r.Ratio = ratio(r.OpsPerSec, base.OpsPerSec)
		r.P99Ratio = ratio(float64(r.P99), float64(base.P99))
		r.AllocsRatio = ratio(r.AllocsPerOp, base.AllocsPerOp)
		r.MemRatio = ratio(r.HeapPerConn, base.HeapPerConn)
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// medianRun returns, field by field, the median of the runs (the lower
// middle for an even count).
func medianRun(runs []Figures) Figures {
	if len(runs) == 0 {
		return Figures{}
	}
	med := func(f func(Figures) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[(len(v)-1)/2]
	}
	return Figures{
		Pool:        runs[0].Pool,
		Ops:         uint64(med(func(r Figures) float64 { return float64(r.Ops) })),
		Elapsed:     time.Duration(med(func(r Figures) float64 { return float64(r.Elapsed) })),
		OpsPerSec:   med(func(r Figures) float64 { return r.OpsPerSec }),
		MBPerSec:    med(func(r Figures) float64 { return r.MBPerSec }),
		P50:         int64(med(func(r Figures) float64 { return float64(r.P50) })),
		P99:         int64(med(func(r Figures) float64 { return float64(r.P99) })),
		P999:        int64(med(func(r Figures) float64 { return float64(r.P999) })),
		AllocsPerOp: med(func(r Figures) float64 { return r.AllocsPerOp }),
		BytesPerOp:  med(func(r Figures) float64 { return r.BytesPerOp }),
		PeakRSS:     int64(med(func(r Figures) float64 { return float64(r.PeakRSS) })),
		HeapPerConn: med(func(r Figures) float64 { return r.HeapPerConn }),
		RSSPerConn:  med(func(r Figures) float64 { return r.RSSPerConn }),

		ServerHeapPerConn: med(func(r Figures) float64 { return r.ServerHeapPerConn }),
	}
}

// medianHist returns the histogram of the run with the median throughput.
func medianHist(runs []Figures) *hist.Histogram {
	if len(runs) == 0 {
		return nil
	}
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b Figures) int {
		switch {
		case a.OpsPerSec < b.OpsPerSec:
			return -1
		case a.OpsPerSec > b.OpsPerSec:
			return 1
		}
		return 0
	})
	return sorted[(len(sorted)-1)/2].hist
}
