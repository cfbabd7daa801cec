package runner

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"
)

// Main is bench's command line (cd bench && go run . [flags]): it parses
// args (without the program name),
// runs the matrix or the load generator, writes the report to stdout and
// progress to stderr, and returns the exit code.
//
// The conns scenario re-executes the program to run its server in a child
// process; there, Main serves instead (the environment says so) and
// ignores args. A program calling Run with that scenario must therefore
// call Main first thing in main, as bench's does.
func Main(args []string) int {
	if name, ok := childSystem(); ok {
		return serveChild(name, os.Stdin, os.Stdout, os.Stderr)
	}
	return main(args, os.Stdout, os.Stderr, isTerminal(os.Stderr))
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func main(args []string, stdout, stderr io.Writer, bar bool) int {
	fs := flag.NewFlagSet(progName, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `The h2rpc benchmark runner measures h2rpc against grpc-go, drpc, x/net's HTTP/2 and raw TCP,
and h2rpc against grpc-go over TLS (h2rpc-tls, grpc-tls), on this machine, every system in turn
in each cell, and prints the figures as Markdown tables.
Run it from the bench directory of the h2rpc repository:

  go run . [--quick] [--systems h2rpc,grpc] [--scenarios unary,pingpong] [--json FILE] [--svg FILE]
  go run . --from FILE [--svg FILE]      (the tables and charts of a run saved with --json)
  go run . --target host:port --method /pkg.Svc/Method [--payload-size N] [--concurrency N] [--duration D]

Systems: %s. Scenarios: %s.

`, strings.Join(systemNames(), ", "), strings.Join(Scenarios, ", "))
		fs.PrintDefaults()
	}
	var (
		systems   = fs.String("systems", "", "comma-separated systems to run (default all)")
		scenarios = fs.String("scenarios", "", "comma-separated scenarios to run (default all)")
		quick     = fs.Bool("quick", false, "run the small matrix (under a minute)")
		duration  = fs.Duration("duration", 0, "measured time per run (default 1s; 250ms with --quick; 5s with --target)")
		warmup    = fs.Duration("warmup", 0, "warm-up per run (default 300ms; 100ms with --quick)")
		repeat    = fs.Int("repeat", 0, "runs per system and cell, median reported (default 3; 1 with --quick)")
		conns     = fs.Int("conns", 1000, "client connections in the conns scenario")
		jsonFile  = fs.String("json", "", "write the raw figures as JSON to `FILE`")
		svgFile   = fs.String("svg", "", "write the charts as SVG to `FILE`")
		fromFile  = fs.String("from", "", "measure nothing: read the report --json wrote to `FILE` and write its tables (and --svg)")
		noProg    = fs.Bool("no-progress", false, "print no progress on stderr")
		cpuProf   = fs.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE` (go tool pprof)")

		target      = fs.String("target", "", "load-generate against the gRPC server at `host:port` instead of running the matrix")
		method      = fs.String("method", "", "with --target: the full method, /package.Service/Method")
		payloadSize = fs.Int("payload-size", 0, "with --target: request payload bytes (zeros)")
		concurrency = fs.Int("concurrency", 16, "with --target: calls in flight")
		client      = fs.String("client", "h2rpc", "with --target: the client making the calls (h2rpc or grpc)")
		timeout     = fs.Duration("timeout", 20*time.Second, "with --target: per-call deadline")
	)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q\n", progName, fs.Args())
		fs.Usage()
		return 2
	}
	if *fromFile != "" {
		rep, err := readReport(*fromFile)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", progName, err)
			return 1
		}
		return writeReport(rep, stdout, stderr, *jsonFile, *svgFile)
	}
	if *target != "" {
		d := *duration
		if d <= 0 {
			d = 5 * time.Second
		}
		rep, err := LoadTarget(TargetConfig{Target: *target, Method: *method, PayloadSize: *payloadSize,
			Concurrency: *concurrency, Duration: d, Timeout: *timeout, Client: *client})
		if rep != nil {
			WriteTargetMarkdown(stdout, rep) //nolint:errcheck // nothing to do about stdout
			if *jsonFile != "" {
				if werr := writeFile(*jsonFile, func(w io.Writer) error { return writeJSONValue(w, rep) }); werr != nil {
					fmt.Fprintf(stderr, "%s: %v\n", progName, werr)
					return 1
				}
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", progName, err)
			return 1
		}
		return 0
	}

	cfg := Config{Systems: splitList(*systems), Scenarios: splitList(*scenarios), Quick: *quick,
		Duration: *duration, Warmup: *warmup, Repeat: *repeat, Conns: *conns, Bar: bar}
	if cfg.Duration <= 0 {
		cfg.Duration = map[bool]time.Duration{false: time.Second, true: 250 * time.Millisecond}[cfg.Quick]
	}
	if cfg.Warmup <= 0 {
		cfg.Warmup = map[bool]time.Duration{false: 300 * time.Millisecond, true: 100 * time.Millisecond}[cfg.Quick]
	}
	if cfg.Repeat <= 0 {
		cfg.Repeat = map[bool]int{false: 3, true: 1}[cfg.Quick]
	}
	if !*noProg {
		cfg.Progress = stderr
	}
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", progName, err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			fmt.Fprintf(stderr, "%s: %v\n", progName, err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	rep, err := Run(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", progName, err)
		return 2
	}
	rep.Command = "go run . " + strings.Join(args, " ")
	return writeReport(rep, stdout, stderr, *jsonFile, *svgFile)
}

// progName prefixes the runner's messages.
const progName = "bench"

// writeReport writes rep's tables to stdout, and its figures as JSON to
// jsonFile and its charts to svgFile when they are not empty. It returns
// the exit code: 1 if a file could not be written or a system failed in a
// cell, else 0.
func writeReport(rep *Report, stdout, stderr io.Writer, jsonFile, svgFile string) int {
	if err := WriteMarkdown(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", progName, err)
		return 1
	}
	if jsonFile != "" {
		if err := writeFile(jsonFile, func(w io.Writer) error { return WriteJSON(w, rep) }); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", progName, err)
			return 1
		}
	}
	if svgFile != "" {
		if err := writeFile(svgFile, func(w io.Writer) error { return WriteSVG(w, rep) }); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", progName, err)
			return 1
		}
	}
	for _, cr := range rep.Cells {
		for _, r := range cr.Results {
			if r.Err != "" {
				return 1
			}
		}
	}
	return 0
}

// readReport reads a report written by WriteJSON.
func readReport(name string) (*Report, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: not a report written by --json: %w", name, err)
	}
	if len(rep.Cells) == 0 {
		return nil, fmt.Errorf("%s: a report with no cells", name)
	}
	return &rep, nil
}

func writeJSONValue(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return f.Close()
}
