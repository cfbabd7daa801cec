package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/bench/runner/hist"
)

func TestRegisteredSystems(t *testing.T) {
	var names []string
	for _, s := range Systems() {
		names = append(names, s.Name())
	}
	slices.Sort(names)
	want := slices.Clone(DefaultOrder)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("registered systems %v, want %v", names, want)
	}
}

// TestEachSystem makes one unary call, one stream and a few round trips on
// every system, checking what comes back.
func TestEachSystem(t *testing.T) {
	for _, sys := range Systems() {
		t.Run(sys.Name(), func(t *testing.T) {
			srv, err := sys.Start()
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			c, err := sys.Dial(srv.Addr(), DialOptions{Pool: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()

			// Sizes either side of the tcp floor's copy limit and its read
			// buffers, up to the largest cell's.
			for _, size := range []int{0, 16, 1024, tcpCopyMax, tcpCopyMax + 1, 100_000, 1 << 20} {
				req := make([]byte, size)
				for i := range req {
					req[i] = byte(i % 251)
				}
				resp := []byte("stale contents")
				if err := c.Unary(ctx, req, &resp); err != nil {
					t.Fatalf("Unary(%d bytes): %v", size, err)
				}
				if !bytes.Equal(resp, req) {
					t.Fatalf("Unary(%d bytes) returned %d bytes, not the request", size, len(resp))
				}
			}

			var sizes []int
			err = c.ServerStream(ctx, 100, 7, func(n int) { sizes = append(sizes, n) })
			if sys.Supports(ShapeServerStream) {
				if err != nil {
					t.Fatalf("ServerStream: %v", err)
				}
				if want := []int{100, 100, 100, 100, 100, 100, 100}; !slices.Equal(sizes, want) {
					t.Fatalf("ServerStream delivered messages of %v bytes, want %v", sizes, want)
				}
				sizes = sizes[:0]
				if err := c.ServerStream(ctx, 64<<10, 9, func(n int) { sizes = append(sizes, n) }); err != nil {
					t.Fatalf("ServerStream of 64 KiB messages: %v", err)
				}
				if want := slices.Repeat([]int{64 << 10}, 9); !slices.Equal(sizes, want) {
					t.Fatalf("ServerStream delivered messages of %v bytes, want %v", sizes, want)
				}
			} else if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("ServerStream on a unary-only system: %v, want ErrUnsupported", err)
			}

			pp, err := c.PingPong(ctx)
			if !sys.Supports(ShapeBidi) {
				if !errors.Is(err, ErrUnsupported) {
					t.Fatalf("PingPong on a unary-only system: %v, want ErrUnsupported", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("PingPong: %v", err)
			}
			var resp []byte
			for i := range 3 {
				req := []byte{'p', byte(i)}
				if err := pp.Exchange(req, &resp); err != nil {
					t.Fatalf("Exchange %d: %v", i, err)
				}
				if !bytes.Equal(resp, req) {
					t.Fatalf("Exchange %d returned %q, want %q", i, resp, req)
				}
			}
			if err := pp.Close(); err != nil {
				t.Fatalf("PingPong Close: %v", err)
			}
			// The connection still works after the bidi call ended.
			if err := c.Unary(ctx, []byte("after"), &resp); err != nil || string(resp) != "after" {
				t.Fatalf("Unary after PingPong: %q, %v", resp, err)
			}
		})
	}
}

func TestParseStreamRequest(t *testing.T) {
	r := StreamRequest{Size: 65536, Count: 7}
	got, err := ParseStreamRequest(r.Append(nil))
	if err != nil || got != r {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, r)
	}
	for _, bad := range [][]byte{nil, make([]byte, 7), make([]byte, 9), StreamRequest{Size: maxStreamMsg + 1, Count: 1}.Append(nil)} {
		if _, err := ParseStreamRequest(bad); err == nil {
			t.Errorf("ParseStreamRequest(%x) accepted bad input", bad)
		}
	}
}

func TestMatrix(t *testing.T) {
	all := Matrix(false, nil, 1000)
	if n := len(all); n != 15 {
		t.Fatalf("default matrix has %d cells, want 15: %v", n, all)
	}
	names := map[string]bool{}
	for _, c := range all {
		if names[c.String()] {
			t.Fatalf("cell %s twice", c)
		}
		names[c.String()] = true
	}
	for _, want := range []string{"unary/size=16/conc=1", "unary/size=1024/conc=256", "unary/size=1048576/conc=16", "stream-bulk/size=65536", "conns/size=16/conns=1000", "handshakes/size=16/conc=4"} {
		if !names[want] {
			t.Errorf("default matrix lacks %s", want)
		}
	}
	if got := Matrix(true, []string{ScenarioPingPong}, 10); len(got) != 1 || got[0].Scenario != ScenarioPingPong {
		t.Errorf("quick pingpong matrix = %v", got)
	}
}

// fakeReport is a report with known figures for the writers' tests.
func fakeReport() *Report {
	h := hist.New()
	for i := int64(1); i <= 1000; i++ {
		h.Record(i * 1000)
	}
	mk := func(sys string, ops float64) SystemResult {
		return SystemResult{System: sys, Figures: Figures{Ops: uint64(ops), OpsPerSec: ops, P50: 500e3, P99: 990e3, P999: 999e3, AllocsPerOp: 10, BytesPerOp: 1000, PeakRSS: 20 << 20, HeapPerConn: ops}, CDF: h.CDF(100)}
	}
	rep := &Report{Machine: "test machine", Repeat: 1, Duration: time.Second, Systems: []string{"h2rpc", "grpc", "tcp"}}
	for _, cell := range Matrix(true, nil, 10) {
		cr := CellReport{Cell: cell, Results: []SystemResult{mk("h2rpc", 2000), mk("grpc", 1000), mk("tcp", 3000)}}
		setRatios(&cr)
		rep.Cells = append(rep.Cells, cr)
	}
	rep.Cells[0].Results = append(rep.Cells[0].Results, SystemResult{System: "broken", Err: "dial: refused | really"})
	return rep
}

func TestWriteMarkdown(t *testing.T) {
	rep := fakeReport()
	var b strings.Builder
	if err := WriteMarkdown(&b, rep); err != nil {
		t.Fatal(err)
	}
	out, checks, ok := strings.Cut(b.String(), "\n### h2rpc against the targets")
	if !ok || !strings.Contains(checks, "| calls/s ≥ 1.8× grpc |") {
		t.Errorf("report lacks the targets section:\n%s", b.String())
	}
	if !strings.HasPrefix(out, "Machine: test machine") {
		t.Errorf("report does not start with the machine line:\n%s", out)
	}
	rows, headers := 0, 0
	for line := range strings.Lines(out) {
		switch {
		case strings.HasPrefix(line, "| cell |"):
			headers++
		case strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "|---"):
			rows++
			if strings.Contains(line, "| h2rpc |") && !strings.Contains(line, "2.00×") {
				t.Errorf("h2rpc row lacks its 2.00× ratio: %s", line)
			}
		}
	}
	wantRows := 0
	for _, cr := range rep.Cells {
		wantRows += len(cr.Results)
	}
	if headers != len(Scenarios) || rows != wantRows {
		t.Errorf("%d tables with %d rows, want %d with %d:\n%s", headers, rows, len(Scenarios), wantRows, out)
	}
	if !strings.Contains(out, `dial: refused \| really`) {
		t.Errorf("error row not escaped:\n%s", out)
	}
}

func TestWriteJSON(t *testing.T) {
	rep := fakeReport()
	var b bytes.Buffer
	if err := WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Cells) != len(rep.Cells) || back.Cells[0].Results[0].OpsPerSec != 2000 || back.Cells[0].Results[0].Ratio != 2 ||
		len(back.Cells[0].Results[0].CDF) != 100 {
		t.Errorf("JSON round trip lost figures: %+v", back.Cells[0])
	}
}

// svgShapes counts what an SVG document draws.
type svgShapes struct {
	bars, memBars, lines int
	minBarHeight         float64 // of the throughput bars
	grpcBars             int     // throughput bars whose title names grpc
}

// svgCounts parses an SVG document and counts its bars and CDF lines.
func svgCounts(t *testing.T, r io.Reader) svgShapes {
	t.Helper()
	dec := xml.NewDecoder(r)
	root := ""
	got := svgShapes{minBarHeight: math.Inf(1)}
	inBar := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.CharData:
			if inBar && strings.HasPrefix(string(tok), "grpc ") {
				got.grpcBars++
			}
		case xml.EndElement:
			if tok.Name.Local == "rect" {
				inBar = false
			}
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
			class, height := "", ""
			for _, a := range tok.Attr {
				switch a.Name.Local {
				case "class":
					class = a.Value
				case "height":
					height = a.Value
				}
			}
			switch {
			case class == "bar" && tok.Name.Local == "rect":
				got.bars++
				inBar = true
				h, err := strconv.ParseFloat(height, 64)
				if err != nil {
					t.Fatalf("bar height %q: %v", height, err)
				}
				got.minBarHeight = math.Min(got.minBarHeight, h)
			case class == "membar" && tok.Name.Local == "rect":
				got.memBars++
			case class == "cdf" && tok.Name.Local == "polyline":
				got.lines++
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return got
}

func TestWriteSVG(t *testing.T) {
	rep := fakeReport()
	var b bytes.Buffer
	if err := WriteSVG(&b, rep); err != nil {
		t.Fatal(err)
	}
	got := svgCounts(t, &b)
	// The fake report has every scenario, three systems in each cell, and
	// latencies everywhere.
	scenarios := map[string]bool{}
	for _, cr := range rep.Cells {
		scenarios[cr.Cell.Scenario] = true
	}
	throughputCells := len(rep.Cells) - 1 // the conns cell has its own chart
	if want := 3 * throughputCells; got.bars != want {
		t.Errorf("%d throughput bars, want %d (one per system and cell with a ratio, conns aside)", got.bars, want)
	}
	if got.grpcBars != throughputCells {
		t.Errorf("%d grpc bars, want %d (grpc's 1× too)", got.grpcBars, throughputCells)
	}
	if got.minBarHeight < 10 {
		t.Errorf("the lowest throughput bar is %.1f px tall; every bar, grpc's 1× included, should show", got.minBarHeight)
	}
	if got.memBars != 3 {
		t.Errorf("%d bars of memory per idle connection, want 3 (one per system)", got.memBars)
	}
	if want := 3 * len(scenarios); got.lines != want {
		t.Errorf("%d CDF lines, want %d (one chart per scenario, a line per system)", got.lines, want)
	}
}

func TestHistogramMedianRun(t *testing.T) {
	runs := []Figures{{OpsPerSec: 3, P99: 30}, {OpsPerSec: 1, P99: 10}, {OpsPerSec: 2, P99: 50}}
	m := medianRun(runs)
	if m.OpsPerSec != 2 || m.P99 != 30 {
		t.Errorf("medianRun = %+v, want ops 2 and p99 30 (median per figure)", m)
	}
}

// TestQuick runs the quick matrix over three systems with tiny durations
// through the command line, and checks every output.
func TestQuick(t *testing.T) {
	dir := t.TempDir()
	jsonFile, svgFile := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.svg")
	var stdout, stderr bytes.Buffer
	code := main([]string{"--quick", "--systems", "tcp,grpc,h2rpc", "--duration", "30ms", "--warmup", "10ms", "--conns", "20",
		"--json", jsonFile, "--svg", svgFile}, &stdout, &stderr, false)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	cells := Matrix(true, nil, 20)
	// The systems' streaming support decides the progress lines: all three
	// run every cell.
	if got, want := strings.Count(stderr.String(), "bench: ["), 3*len(cells); got != want {
		t.Errorf("%d progress lines, want %d:\n%s", got, want, stderr.String())
	}
	tables, _, _ := strings.Cut(stdout.String(), "\n### h2rpc against")
	for _, sys := range []string{"tcp", "grpc", "h2rpc"} {
		if got := strings.Count(tables, "| "+sys+" |"); got != len(cells) {
			t.Errorf("%s has %d rows, want %d:\n%s", sys, got, len(cells), stdout.String())
		}
	}
	b, err := readFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Cells) != len(cells) {
		t.Fatalf("JSON has %d cells, want %d", len(rep.Cells), len(cells))
	}
	for _, cr := range rep.Cells {
		for _, r := range cr.Results {
			if r.Err != "" || r.Ops == 0 || r.Ratio <= 0 {
				t.Errorf("%s %s: ops %d, ratio %v, error %q", cr.Cell, r.System, r.Ops, r.Ratio, r.Err)
			}
			if cr.Cell.Scenario == ScenarioConns && (r.HeapPerConn <= 0 || r.ServerHeapPerConn <= 0) {
				t.Errorf("%s %s: heap per connection %v client side, %v server side", cr.Cell, r.System, r.HeapPerConn, r.ServerHeapPerConn)
			}
		}
	}
	f, err := openFile(svgFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := svgCounts(t, f); got.bars != 3*(len(cells)-1) || got.memBars != 3 {
		t.Errorf("SVG has %d throughput bars and %d memory bars, want %d and 3", got.bars, got.memBars, 3*(len(cells)-1))
	}
}

// TestFromJSON redraws a report saved with --json: the same tables, and
// the charts, without measuring.
func TestFromJSON(t *testing.T) {
	dir := t.TempDir()
	jsonFile, svgFile := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.svg")
	rep := fakeReport()
	rep.Cells[0].Results = rep.Cells[0].Results[:3] // no failed system: exit 0
	var want bytes.Buffer
	if err := WriteMarkdown(&want, rep); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(jsonFile, func(w io.Writer) error { return WriteJSON(w, rep) }); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := main([]string{"--from", jsonFile, "--svg", svgFile}, &stdout, &stderr, false); code != 0 {
		t.Fatalf("--from: exit %d\n%s", code, stderr.String())
	}
	if stdout.String() != want.String() {
		t.Errorf("--from printed\n%s\nwant the tables of the saved report:\n%s", stdout.String(), want.String())
	}
	f, err := openFile(svgFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := svgCounts(t, f); got.bars != 3*(len(rep.Cells)-1) {
		t.Errorf("--from --svg drew %d bars, want %d", got.bars, 3*(len(rep.Cells)-1))
	}

	for _, bad := range []string{filepath.Join(dir, "missing.json"), svgFile} {
		stderr.Reset()
		if code := main([]string{"--from", bad}, io.Discard, &stderr, false); code != 1 || !strings.HasPrefix(stderr.String(), "bench: ") {
			t.Errorf("--from %s: exit %d, stderr %q; want 1 and a message", filepath.Base(bad), code, stderr.String())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--systems", "nosuch"},
		{"--scenarios", "nosuch"},
		{"--bogus-flag"},
		{"extra-argument"},
	} {
		var stdout, stderr bytes.Buffer
		if code := main(args, &stdout, &stderr, false); code != 2 {
			t.Errorf("main(%q) = %d, want 2; stderr:\n%s", args, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := main([]string{"--target", "127.0.0.1:1", "--method", "nomethod"}, &stdout, &stderr, false); code != 1 {
		t.Errorf("bad --method: exit %d, want 1", code)
	}
}

// TestTarget loads the grpc system's server, a real grpc-go server, with
// both gRPC clients, through a good and an unknown method.
func TestTarget(t *testing.T) {
	srv, err := grpcSystem{}.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, client := range []string{"h2rpc", "grpc"} {
		rep, err := LoadTarget(TargetConfig{Target: srv.Addr(), Method: MethodUnary, PayloadSize: 10, Concurrency: 4, Duration: 50 * time.Millisecond, Client: client})
		if err != nil {
			t.Fatalf("%s: %v", client, err)
		}
		if rep.Calls == 0 || rep.Status["OK"] != rep.Calls || rep.FirstError != "" || rep.P50 <= 0 || rep.P99 < rep.P50 {
			t.Errorf("%s: %+v", client, rep)
		}
		rep, err = LoadTarget(TargetConfig{Target: srv.Addr(), Method: "/bench.Bench/NoSuch", Concurrency: 2, Duration: 20 * time.Millisecond, Client: client})
		if err == nil || rep == nil {
			t.Fatalf("%s: unknown method: report %v, error %v; want a report and an error (no call succeeded)", client, rep, err)
		}
		if rep.Status["Unimplemented"] != rep.Calls || rep.Calls == 0 {
			t.Errorf("%s: unknown method gave status counts %v", client, rep.Status)
		}
		var b strings.Builder
		if err := WriteTargetMarkdown(&b, rep); err != nil || !strings.Contains(b.String(), "| Unimplemented |") {
			t.Errorf("target report lacks the status table: %v\n%s", err, b.String())
		}
	}
	if _, err := LoadTarget(TargetConfig{Target: srv.Addr(), Method: MethodUnary, Client: "tcp", Duration: time.Millisecond}); err == nil {
		t.Error("LoadTarget with the tcp client: no error")
	}
}

func TestParseVmRSS(t *testing.T) {
	status := []byte("Name:\tx\nVmPeak:\t  999 kB\nVmHWM:\t 5000 kB\nVmRSS:\t   1234 kB\nRssAnon:\t 1 kB\n")
	if got := parseVmRSS(status); got != 1234<<10 {
		t.Errorf("parseVmRSS = %d, want %d", got, 1234<<10)
	}
	for _, bad := range []string{"", "VmRSS:", "VmRSS:\tkB\n", "VmHWM: 12 kB\n"} {
		if got := parseVmRSS([]byte(bad)); got != 0 {
			t.Errorf("parseVmRSS(%q) = %d, want 0", bad, got)
		}
	}
	if _, err := os.Stat("/proc/self/status"); err == nil {
		s := startRSSSampler()
		if peak := s.stop(); peak <= 0 || peak != max(peak, readRSS()/2) {
			t.Errorf("sampled peak RSS %d, readRSS %d", peak, readRSS())
		}
	}
}

func TestChecks(t *testing.T) {
	rep := fakeReport() // h2rpc at 2× grpc everywhere, same p99 and allocs
	checks := Checks(rep)
	byTarget := map[string]Check{}
	for _, c := range checks {
		byTarget[c.Cell+" "+c.Target] = c
	}
	for key, pass := range map[string]bool{
		"unary/size=16/conc=1 calls/s ahead of every other system":          true,
		"unary/size=16/conc=1 p99 ≤ grpc":                                   true,
		"unary/size=16/conc=1 p50 ≤ 1.15× tcp":                              true,
		"unary/size=16/conc=1 allocs/call ≤ ¼ grpc":                         false,
		"unary/size=16/conc=16 calls/s ≥ 1.8× grpc":                         true,
		"stream-small/size=16 messages/s ≥ 2× grpc":                         true,
		"stream-bulk/size=65536 MB/s ≥ 1.25× grpc":                          true,
		"stream-bulk/size=65536 MB/s ≥ 90% of tcp":                          true, // MB/s 0 for both: ratio 0
		"pingpong/size=16 round trips/s ≥ 1.2× grpc":                        true,
		"conns/size=16/conns=10 memory per idle client connection ≤ ¼ grpc": false,
	} {
		c, ok := byTarget[key]
		if !ok {
			t.Errorf("no check %q in %v", key, checks)
			continue
		}
		if key == "stream-bulk/size=65536 MB/s ≥ 90% of tcp" {
			pass = false // fakeReport has no MB/s: 0 of 0 is not a pass
		}
		if c.Pass != pass {
			t.Errorf("%s: pass %v, want %v (got %s)", key, c.Pass, pass, c.Got)
		}
	}
	var b strings.Builder
	if err := WriteChecks(&b, checks); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "targets: ") || strings.Count(b.String(), "\n| ") != len(checks)+1 {
		t.Errorf("checks table:\n%s", b.String())
	}
}

// TestChildServer runs a server in a child process as the conns scenario
// does: it serves calls, reports its memory, and has exited once closed.
func TestChildServer(t *testing.T) {
	sys, _ := Lookup("h2rpc")
	srv, err := startChild(sys)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := sys.Dial(srv.Addr(), DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var resp []byte
	if err := c.Unary(context.Background(), []byte("hello"), &resp); err != nil || string(resp) != "hello" {
		t.Errorf("Unary through the child = %q, %v", resp, err)
	}
	c.Close()
	if m, err := srv.mem(); err != nil || m.heap <= 0 {
		t.Errorf("child's memory = %+v, %v", m, err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if st := srv.cmd.ProcessState; st == nil || !st.Exited() || st.ExitCode() != 0 {
		t.Errorf("child after Close: %v", st)
	}

	// A child never starts another: a binary that does not serve as a
	// child would otherwise recurse.
	t.Setenv(childEnv, "h2rpc")
	if c, err := startChild(sys); err == nil {
		c.Close()
		t.Error("startChild in a child process succeeded")
	}
}

// TestSVGColoursDistinct checks that no two registered systems share a
// colour, so every chart can be read from its legend.
func TestSVGColoursDistinct(t *testing.T) {
	seen := map[string]string{}
	for _, s := range Systems() {
		c := systemColor(s.Name())
		if other, ok := seen[c]; ok {
			t.Errorf("%s and %s share the colour %s", other, s.Name(), c)
		}
		seen[c] = s.Name()
	}
	if len(seen) < 8 {
		t.Errorf("%d systems registered, want the runner's 8 (this test would prove nothing)", len(seen))
	}
}

// TestSVGLegendUnderTitle checks that, with every registered system in the
// report, each legend row sits below its chart's title rather than beside
// it, where a long title and many systems overlapped.
func TestSVGLegendUnderTitle(t *testing.T) {
	rep := fakeReport()
	rep.Systems = nil
	for _, s := range Systems() {
		rep.Systems = append(rep.Systems, s.Name())
	}
	var b bytes.Buffer
	if err := WriteSVG(&b, rep); err != nil {
		t.Fatal(err)
	}
	// Titles are bold text; legend swatches are 10×10 rects. Every swatch
	// must be lower than the title above it and higher than the next one.
	var titles []float64
	var swatches int
	dec := xml.NewDecoder(&b)
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := map[string]string{}
		for _, a := range se.Attr {
			attr[a.Name.Local] = a.Value
		}
		switch {
		case se.Name.Local == "text" && attr["font-size"] == "14":
			y, _ := strconv.ParseFloat(attr["y"], 64)
			titles = append(titles, y)
		case se.Name.Local == "rect" && attr["width"] == "10" && attr["height"] == "10":
			swatches++
			y, _ := strconv.ParseFloat(attr["y"], 64)
			if len(titles) == 0 {
				t.Fatalf("a legend swatch at y=%v comes before any title", y)
			}
			if title := titles[len(titles)-1]; y <= title {
				t.Errorf("legend swatch at y=%v is not under its title at y=%v", y, title)
			}
		}
	}
	if want := 2 * len(rep.Systems); swatches != want {
		t.Errorf("%d legend swatches, want %d (two legends, one per system each)", swatches, want)
	}
}
