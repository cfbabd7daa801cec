package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteJSON writes the report's raw figures as indented JSON.
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteMarkdown writes the report as Markdown: the machine line, one table
// per scenario with a row per system and cell, then h2rpc's standing
// against the targets (Checks).
func WriteMarkdown(w io.Writer, rep *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s  \n", rep.Machine)
	fmt.Fprintf(&b, "Runs: %v measured after %v warm-up, median of %d, systems interleaved; ratios (×grpc) to grpc in the same run (to grpc-tls for the -tls systems). Took %v.\n",
		rep.Duration, rep.Warmup, rep.Repeat, rep.Took.Round(time.Second))
	scenario := ""
	for _, cr := range rep.Cells {
		if cr.Cell.Scenario != scenario {
			scenario = cr.Cell.Scenario
			fmt.Fprintf(&b, "\n### %s\n\n", scenarioTitle(scenario))
			if scenario == ScenarioConns {
				b.WriteString("| cell | system | client heap/conn | ×grpc | client RSS/conn | server heap/conn | calls/s | ×grpc | p50 | p99 | client allocs/op | client peak RSS |\n")
				b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
			} else {
				b.WriteString("| cell | system | throughput | ×grpc | p50 | p99 | p999 | p99 ×grpc | allocs/op | B/op | peak RSS |\n")
				b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
			}
		}
		for _, r := range cr.Results {
			name := r.System
			if r.Pool > 1 {
				name = fmt.Sprintf("%s (pool %d)", r.System, r.Pool)
			}
			if r.Err != "" {
				fmt.Fprintf(&b, "| %s | %s | error: %s |\n", cr.Cell.Params(), name, escapeCell(r.Err))
				continue
			}
			if scenario == ScenarioConns {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f | %s |\n",
					cr.Cell.Params(), name, formatBytes(r.HeapPerConn), formatRatio(r.MemRatio), formatBytes(r.RSSPerConn),
					formatBytes(r.ServerHeapPerConn), formatCount(r.OpsPerSec), formatRatio(r.Ratio), formatNanos(r.P50), formatNanos(r.P99), r.AllocsPerOp, formatBytes(float64(r.PeakRSS)))
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %.1f | %s | %s |\n",
				cr.Cell.Params(), name, formatThroughput(cr.Cell, r.Figures), formatRatio(r.Ratio),
				formatNanos(r.P50), formatNanos(r.P99), formatNanos(r.P999), formatRatio(r.P99Ratio),
				r.AllocsPerOp, formatBytes(r.BytesPerOp), formatBytes(float64(r.PeakRSS)))
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return WriteChecks(w, Checks(rep))
}

func scenarioTitle(s string) string {
	switch s {
	case ScenarioUnary:
		return "unary: calls/s, calls in flight on one connection"
	case ScenarioStreamSmall:
		return "stream-small: server streaming, messages/s (latency: gap between messages)"
	case ScenarioStreamBulk:
		return "stream-bulk: server streaming, payload MB/s (latency: gap between messages)"
	case ScenarioPingPong:
		return "pingpong: bidi round trips/s on one call"
	case ScenarioConns:
		return "conns: memory per idle client connection (client side only: the server runs in a child process), then unary calls on all"
	case ScenarioHandshakes:
		return "handshakes: new connections/s, each dialled (TLS handshake included for the -tls systems), one unary call, closed"
	}
	return s
}

func escapeCell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(s, "\n", " ")
}

// formatThroughput gives MB/s for bulk streaming, operations per second
// otherwise.
func formatThroughput(c Cell, r Figures) string {
	switch c.Scenario {
	case ScenarioStreamBulk:
		return fmt.Sprintf("%.0f MB/s", r.MBPerSec)
	case ScenarioStreamSmall:
		return formatCount(r.OpsPerSec) + " msg/s"
	case ScenarioPingPong:
		return formatCount(r.OpsPerSec) + " rt/s"
	case ScenarioHandshakes:
		return formatCount(r.OpsPerSec) + " conns/s"
	}
	return formatCount(r.OpsPerSec) + " calls/s"
}

func formatCount(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func formatRatio(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v)
}

func formatNanos(ns int64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2fs", float64(ns)/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2fms", float64(ns)/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1fµs", float64(ns)/1e3)
	}
	return fmt.Sprintf("%dns", ns)
}

func formatBytes(v float64) string {
	switch {
	case v >= 1<<30 || v <= -(1<<30):
		return fmt.Sprintf("%.2f GiB", v/(1<<30))
	case v >= 1<<20 || v <= -(1<<20):
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case v >= 1<<10 || v <= -(1<<10):
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}
