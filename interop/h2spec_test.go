package interop

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestH2spec runs the h2spec conformance suite (every generic, HTTP/2 and
// HPACK case, --timeout 2 per case) against `h2rpc h2serve` and fails on any
// failed case. It logs the counts and each failure, and writes the failures
// with h2spec's own explanation to the notes file (H2RPC_H2SPEC_NOTES, by
// default /tmp/h2rpc-notes/h2spec-failures.txt; "-" writes none) for whoever
// fixes conn. H2RPC_H2SPEC_ADDR=host:port runs it against a server already
// running there instead.
func TestH2spec(t *testing.T) {
	addr := os.Getenv("H2RPC_H2SPEC_ADDR")
	if addr == "" {
		addr = startH2serve(t)
	}
	run := runH2spec(t, addr)
	writeH2specNotes(t, run)
	t.Logf("h2spec against %s: %s (%v)", addr, run.report.summary(), run.elapsed.Round(time.Millisecond))
	for _, f := range run.report.failures() {
		t.Errorf("h2spec %s", f)
	}
	if t.Failed() {
		t.Logf("h2spec's own account of the failures:\n%s", run.failureText)
	}
	if run.report.total() == 0 {
		t.Fatalf("h2spec ran no case:\n%s", run.output)
	}
}

// h2specRun is one run of h2spec: its parsed JUnit report and its output.
type h2specRun struct {
	addr        string
	report      *junitReport
	output      string // everything h2spec printed
	failureText string // the "Failures:" section of output: each failure with the MUST it checks
	elapsed     time.Duration
}

// runH2spec runs `go tool h2spec` (pinned by this module's go.mod) against
// addr, with extra flags after ours. The run is bounded: h2spec gives each
// case at most 2s, and the whole run is killed after 8 minutes.
func runH2spec(t *testing.T, addr string, extra ...string) *h2specRun {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	reportPath := filepath.Join(t.TempDir(), "h2spec.xml")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(), append([]string{"tool", "h2spec", "-h", host, "-p", port, "--timeout", "2", "-j", reportPath}, extra...)...)
	cmd.WaitDelay = 10 * time.Second // the run's pipes close even if a grandchild lingers
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("h2spec did not finish within its bound (%v):\n%s", elapsed, out)
	}
	// h2spec exits 1 when a case fails; that is judged from the report.
	if err != nil && exitCode(err) != 1 {
		t.Fatalf("go tool h2spec: %v\n%s", err, out)
	}
	data, rerr := os.ReadFile(reportPath)
	if rerr != nil {
		t.Fatalf("h2spec wrote no report (%v; exit: %v):\n%s", rerr, err, out)
	}
	report, perr := parseJUnit(data)
	if perr != nil {
		t.Fatalf("h2spec report: %v", perr)
	}
	return &h2specRun{addr: addr, report: report, output: string(out), failureText: failureSection(string(out)), elapsed: elapsed}
}

// writeH2specNotes writes the failures of run to the notes file.
func writeH2specNotes(t *testing.T, run *h2specRun) {
	t.Helper()
	path := os.Getenv("H2RPC_H2SPEC_NOTES")
	switch path {
	case "-":
		return
	case "":
		path = "/tmp/h2rpc-notes/h2spec-failures.txt"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "h2spec v2.2.1 against `h2rpc h2serve` (%s) at %s; the run took %v\n", run.addr, time.Now().UTC().Format(time.RFC3339), run.elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "%s\n", run.report.summary())
	fs := run.report.failures()
	if len(fs) == 0 {
		b.WriteString("\nNo failures.\n")
	} else {
		b.WriteString("\nFailed cases (section, title, what h2spec expected, what it got):\n\n")
		for _, f := range fs {
			fmt.Fprintf(&b, "- %s\n", f)
		}
		b.WriteString("\nh2spec's own account (the MUST each case checks; Expected/Actual):\n\n")
		b.WriteString(run.failureText)
		b.WriteString("\n")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Errorf("notes: %v", err)
		return
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Errorf("notes: %v", err)
	}
}

// failureSection returns the part of h2spec's output that lists the
// failures again after the run, with each case's requirement and the
// expected and actual frames ("" when nothing failed).
func failureSection(out string) string {
	_, after, ok := strings.Cut(out, "\nFailures:")
	if !ok {
		return ""
	}
	if i := strings.Index(after, "\nFinished in"); i >= 0 {
		after = after[:i]
	}
	return strings.Trim(after, " \n")
}

// junitReport is the JUnit XML that h2spec writes with -j.
type junitReport struct {
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name    string      `xml:"name,attr"`    // "6.5.3. Settings Synchronization"
	Package string      `xml:"package,attr"` // "http2/6.5.3"
	Cases   []junitCase `xml:"testcase"`
}

type junitCase struct {
	Title   string        `xml:"classname,attr"` // h2spec puts the case's title here
	Error   *junitMessage `xml:"error"`          // h2spec reports a failed case as an error
	Failure *junitMessage `xml:"failure"`
	Skipped *junitMessage `xml:"skipped"`
}

type junitMessage struct {
	Text string `xml:",chardata"`
}

func parseJUnit(data []byte) (*junitReport, error) {
	var r junitReport
	if err := xml.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("parse JUnit XML: %w", err)
	}
	return &r, nil
}

// h2specFailure is one failed case.
type h2specFailure struct {
	Suite  string // package and section: "http2/6.5.3 Settings Synchronization"
	Title  string
	Detail string // expected frames, then what came instead
}

func (f h2specFailure) String() string {
	detail := strings.ReplaceAll(strings.TrimSpace(f.Detail), "\n", " | ")
	return fmt.Sprintf("%s: %s: %s", f.Suite, f.Title, detail)
}

func (r *junitReport) total() int {
	n := 0
	for _, s := range r.Suites {
		n += len(s.Cases)
	}
	return n
}

// counts returns how many cases passed, failed and were skipped.
func (r *junitReport) counts() (passed, failed, skipped int) {
	for _, s := range r.Suites {
		for _, c := range s.Cases {
			switch {
			case c.Error != nil || c.Failure != nil:
				failed++
			case c.Skipped != nil:
				skipped++
			default:
				passed++
			}
		}
	}
	return passed, failed, skipped
}

func (r *junitReport) summary() string {
	p, f, s := r.counts()
	return fmt.Sprintf("%d cases: %d passed, %d failed, %d skipped", r.total(), p, f, s)
}

func (r *junitReport) failures() []h2specFailure {
	var fs []h2specFailure
	for _, s := range r.Suites {
		_, section, _ := strings.Cut(s.Name, " ") // "6.5.3. Settings Synchronization" → the title
		for _, c := range s.Cases {
			m := c.Error
			if m == nil {
				m = c.Failure
			}
			if m == nil {
				continue
			}
			fs = append(fs, h2specFailure{Suite: s.Package + " " + section, Title: c.Title, Detail: m.Text})
		}
	}
	return fs
}

// TestH2specReportParsing checks the report parser on a real run of h2spec
// v2.2.1 against x/net/http2's h2c server (testdata), so a change in the
// format shows up here rather than as a silently passing conformance test.
func TestH2specReportParsing(t *testing.T) {
	data, err := os.ReadFile("testdata/h2spec-xnet-report.xml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseJUnit(data)
	if err != nil {
		t.Fatal(err)
	}
	p, f, s := r.counts()
	if r.total() != 145 || p != 139 || f != 5 || s != 1 {
		t.Errorf("counts: %s; want 145 cases: 139 passed, 5 failed, 1 skipped (the run's own last line)", r.summary())
	}
	fs := r.failures()
	if len(fs) != 5 {
		t.Fatalf("failures: got %d, want 5", len(fs))
	}
	want := h2specFailure{
		Suite: "http2/6.5.3 Settings Synchronization",
		Title: "Sends multiple values of SETTINGS_INITIAL_WINDOW_SIZE",
	}
	var found bool
	for _, got := range fs {
		if got.Suite == want.Suite && got.Title == want.Title {
			found = true
			if !strings.Contains(got.Detail, "SETTINGS Frame (length:0, flags:0x01, stream_id:0)") {
				t.Errorf("failure detail %q lacks the expected frame", got.Detail)
			}
		}
	}
	if !found {
		t.Errorf("failures %v lack %v", fs, want)
	}

	out, err := os.ReadFile("testdata/h2spec-xnet-output.txt")
	if err != nil {
		t.Fatal(err)
	}
	sec := failureSection(string(out))
	if got := strings.Count(sec, "×"); got != 5 {
		t.Errorf("failure section lists %d failures, want 5:\n%s", got, sec)
	}
	if !strings.Contains(sec, "The endpoint MUST process the values in the settings in the order they apper.") {
		t.Errorf("failure section lacks the requirement text:\n%s", sec)
	}
	if strings.Contains(sec, "Finished in") {
		t.Errorf("failure section runs past the failures:\n%s", sec)
	}
}
