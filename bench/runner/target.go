package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/h2rpc/h2rpc/bench/runner/hist"
)

// A TargetClient calls any gRPC server with raw message bytes; the load
// generator (--target) uses one.
type TargetClient interface {
	// Call makes a unary call and returns its status code's name ("OK",
	// "Unavailable", …: rpc.Code's String) with the error.
	Call(ctx context.Context, method string, req []byte, resp *[]byte) (code string, err error)
	Close() error
}

// TargetDialer is implemented by systems that speak gRPC and so can load
// an external server.
type TargetDialer interface {
	DialTarget(target string) (TargetClient, error)
}

// TargetConfig is a load-generator run against an external server.
type TargetConfig struct {
	Target      string        // host:port
	Method      string        // "/package.Service/Method"
	PayloadSize int           // request bytes (zeros); 0 is a valid empty proto message
	Concurrency int           // calls in flight
	Duration    time.Duration // how long to send calls
	Timeout     time.Duration // per-call deadline
	Client      string        // the system whose client makes the calls: h2rpc or grpc
}

// TargetReport is what LoadTarget measured.
type TargetReport struct {
	Machine     string            `json:"machine"`
	Target      string            `json:"target"`
	Method      string            `json:"method"`
	Client      string            `json:"client"`
	PayloadSize int               `json:"payload_size"`
	Concurrency int               `json:"concurrency"`
	Calls       uint64            `json:"calls"`
	Elapsed     time.Duration     `json:"elapsed_ns"`
	CallsPerSec float64           `json:"calls_per_sec"`
	P50         int64             `json:"p50_ns"`
	P90         int64             `json:"p90_ns"`
	P99         int64             `json:"p99_ns"`
	P999        int64             `json:"p999_ns"`
	Max         int64             `json:"max_ns"`
	Status      map[string]uint64 `json:"status"` // calls per status code name
	FirstError  string            `json:"first_error,omitempty"`
}

// LoadTarget sends unary calls with a raw payload to cfg.Target from
// cfg.Concurrency goroutines over one client connection for cfg.Duration,
// as ghz does, and reports calls/s, latency percentiles and status counts.
// Failed calls are counted, not fatal, unless none succeeded.
func LoadTarget(cfg TargetConfig) (*TargetReport, error) {
	if cfg.Method == "" || !strings.HasPrefix(cfg.Method, "/") || strings.Count(cfg.Method, "/") != 2 {
		return nil, fmt.Errorf("method %q is not of the form /package.Service/Method", cfg.Method)
	}
	if cfg.PayloadSize < 0 || cfg.PayloadSize > maxStreamMsg {
		return nil, fmt.Errorf("payload size %d out of range 0..%d", cfg.PayloadSize, maxStreamMsg)
	}
	cfg.Concurrency = max(cfg.Concurrency, 1)
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	if cfg.Client == "" {
		cfg.Client = "h2rpc"
	}
	sys, ok := Lookup(cfg.Client)
	td, isTD := sys.(TargetDialer)
	if !ok || !isTD {
		return nil, fmt.Errorf("client %q cannot call gRPC servers (use h2rpc or grpc)", cfg.Client)
	}
	tc, err := td.DialTarget(cfg.Target)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", cfg.Target, err)
	}
	defer tc.Close()

	type worker struct {
		h      hist.Histogram
		status map[string]uint64
		err    error
	}
	workers := make([]worker, cfg.Concurrency)
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		w.status = map[string]uint64{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := make([]byte, cfg.PayloadSize)
			var resp []byte
			for time.Now().Before(deadline) {
				ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
				t := time.Now()
				code, err := tc.Call(ctx, cfg.Method, req, &resp)
				w.h.RecordDuration(time.Since(t))
				cancel()
				w.status[code]++
				if err != nil && w.err == nil {
					w.err = err
				}
			}
		}()
	}
	wg.Wait()
	rep := &TargetReport{Machine: Machine(), Target: cfg.Target, Method: cfg.Method, Client: cfg.Client,
		PayloadSize: cfg.PayloadSize, Concurrency: cfg.Concurrency, Elapsed: time.Since(start), Status: map[string]uint64{}}
	var h hist.Histogram
	var errs []error
	for i := range workers {
		h.Merge(&workers[i].h)
		for k, v := range workers[i].status {
			rep.Status[k] += v
		}
		if workers[i].err != nil {
			errs = append(errs, workers[i].err)
		}
	}
	if len(errs) > 0 {
		rep.FirstError = errs[0].Error()
	}
	rep.Calls = h.Count()
	rep.CallsPerSec = float64(rep.Calls) / rep.Elapsed.Seconds()
	rep.P50, rep.P90, rep.P99, rep.P999, rep.Max = h.Quantile(0.5), h.Quantile(0.9), h.Quantile(0.99), h.Quantile(0.999), h.Max()
	if rep.Calls == 0 {
		return rep, errors.New("no call completed")
	}
	if rep.Status["OK"] == 0 {
		return rep, fmt.Errorf("no call succeeded: %s", rep.FirstError)
	}
	return rep, nil
}

// WriteTargetMarkdown writes a load-generator report as Markdown.
func WriteTargetMarkdown(w io.Writer, rep *TargetReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s  \n", rep.Machine)
	fmt.Fprintf(&b, "Target %s %s, client %s, payload %d B, %d in flight, %v.\n\n", rep.Target, rep.Method, rep.Client, rep.PayloadSize, rep.Concurrency, rep.Elapsed.Round(time.Millisecond))
	b.WriteString("| calls | calls/s | p50 | p90 | p99 | p999 | max |\n|--:|--:|--:|--:|--:|--:|--:|\n")
	fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s |\n\n", rep.Calls, formatCount(rep.CallsPerSec),
		formatNanos(rep.P50), formatNanos(rep.P90), formatNanos(rep.P99), formatNanos(rep.P999), formatNanos(rep.Max))
	b.WriteString("| status | calls |\n|---|--:|\n")
	for _, k := range slices.Sorted(maps.Keys(rep.Status)) {
		fmt.Fprintf(&b, "| %s | %d |\n", k, rep.Status[k])
	}
	if rep.FirstError != "" {
		fmt.Fprintf(&b, "\nFirst error: %s\n", escapeCell(rep.FirstError))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
