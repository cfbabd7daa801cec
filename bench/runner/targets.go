package runner

import (
	"fmt"
	"io"
	"strings"
)

// A Check is one of h2rpc's targets, judged on a report.
type Check struct {
	Target string `json:"target"`
	Cell   string `json:"cell"`
	Got    string `json:"got"`
	Pass   bool   `json:"pass"`
}

// Checks judges h2rpc against its targets (docs/BENCHMARKS.md) on the
// cells of rep where h2rpc and the systems compared both ran.
func Checks(rep *Report) []Check {
	var out []Check
	for _, cr := range rep.Cells {
		get := func(name string) *SystemResult {
			for i := range cr.Results {
				if r := &cr.Results[i]; r.System == name && r.Err == "" {
					return r
				}
			}
			return nil
		}
		h, g, d, tcp := get("h2rpc"), get(Baseline), get("drpc"), get("tcp")
		ht, gt := get("h2rpc-tls"), get(BaselineTLS)
		add := func(target, got string, pass bool) {
			out = append(out, Check{Target: target, Cell: cr.Cell.String(), Got: got, Pass: pass})
		}
		// Over TLS, h2rpc keeps at least the lead over grpc-go it has on
		// h2c, and sets up new connections at least as fast.
		switch {
		case ht == nil || gt == nil:
		case cr.Cell.Scenario == ScenarioHandshakes:
			add("new TLS connections/s ≥ grpc-tls", fmt.Sprintf("%.2f×", ht.Ratio), ht.Ratio >= 1)
		case h != nil && g != nil && (cr.Cell.Scenario == ScenarioUnary && cr.Cell.Concurrency == 16 || cr.Cell.Scenario == ScenarioStreamBulk):
			add("TLS ratio to grpc-tls ≥ h2c ratio to grpc", fmt.Sprintf("%.2f× (h2c %.2f×)", ht.Ratio, h.Ratio), ht.Ratio >= h.Ratio)
		}
		if h == nil {
			continue
		}
		// best is the highest throughput among the other systems (not the
		// tcp floor) in the cell.
		best := func() (name string, v float64) {
			for _, r := range cr.Results {
				if r.Err != "" || r.System == "h2rpc" || r.System == "tcp" || strings.HasSuffix(r.System, "-tls") {
					continue
				}
				if x := throughput(cr.Cell, &r); x > v {
					name, v = r.System, x
				}
			}
			return name, v
		}
		aheadOfAll := func(what string) {
			if name, v := best(); name != "" {
				hv := throughput(cr.Cell, h)
				add(what+" ahead of every other system", fmt.Sprintf("%.2f× %s", ratio(hv, v), name), hv > v)
			}
		}
		switch cr.Cell.Scenario {
		case ScenarioUnary:
			large := cr.Cell.Size >= 64<<10
			if g != nil {
				switch {
				case large:
					add("calls/s ≥ 1.5× grpc", fmt.Sprintf("%.2f×", h.Ratio), h.Ratio >= 1.5)
				case cr.Cell.Concurrency >= 16:
					add("calls/s ≥ 1.8× grpc", fmt.Sprintf("%.2f×", h.Ratio), h.Ratio >= 1.8)
				default:
					add("p99 ≤ grpc", fmt.Sprintf("%.2f×", h.P99Ratio), h.P99Ratio <= 1)
				}
				add("allocs/call ≤ ¼ grpc", fmt.Sprintf("%.2f×", h.AllocsRatio), h.AllocsRatio <= 0.25)
			}
			if !large && cr.Cell.Concurrency == 1 {
				aheadOfAll("calls/s")
				if tcp != nil && tcp.P50 > 0 {
					r := float64(h.P50) / float64(tcp.P50)
					add("p50 ≤ 1.15× tcp", fmt.Sprintf("%.2f×", r), r <= 1.15)
				}
			}
			if d != nil && !large {
				add("allocs/call ≤ 2× drpc", fmt.Sprintf("%.2f×", ratio(h.AllocsPerOp, d.AllocsPerOp)), h.AllocsPerOp <= 2*d.AllocsPerOp)
				if cr.Cell.Concurrency > 1 {
					add("calls/s ahead of drpc", fmt.Sprintf("%.2f×", ratio(h.OpsPerSec, d.OpsPerSec)), h.OpsPerSec > d.OpsPerSec)
				}
			}
		case ScenarioStreamSmall:
			if g != nil {
				add("messages/s ≥ 2× grpc", fmt.Sprintf("%.2f×", h.Ratio), h.Ratio >= 2)
			}
		case ScenarioStreamBulk:
			if g != nil {
				add("MB/s ≥ 1.25× grpc", fmt.Sprintf("%.2f×", h.Ratio), h.Ratio >= 1.25)
			}
			aheadOfAll("MB/s")
			if tcp != nil {
				r := ratio(h.MBPerSec, tcp.MBPerSec)
				add("MB/s ≥ 90% of tcp", fmt.Sprintf("%.0f%%", 100*r), r >= 0.9)
			}
		case ScenarioPingPong:
			if g != nil {
				add("round trips/s ≥ 1.2× grpc", fmt.Sprintf("%.2f×", h.Ratio), h.Ratio >= 1.2)
			}
			if d != nil {
				add("round trips/s ahead of drpc", fmt.Sprintf("%.2f×", ratio(h.OpsPerSec, d.OpsPerSec)), h.OpsPerSec > d.OpsPerSec)
			}
		case ScenarioConns:
			if g != nil {
				// HeapPerConn is the client side's alone (see measure).
				add("memory per idle client connection ≤ ¼ grpc",
					fmt.Sprintf("%.2f× (%s against %s)", h.MemRatio, formatBytes(h.HeapPerConn), formatBytes(g.HeapPerConn)),
					h.MemRatio > 0 && h.MemRatio <= 0.25)
			}
		}
	}
	return out
}

// throughput is the figure a cell ranks systems by: MB/s for bulk
// streaming, operations per second otherwise.
func throughput(c Cell, r *SystemResult) float64 {
	if c.Scenario == ScenarioStreamBulk {
		return r.MBPerSec
	}
	return r.OpsPerSec
}

// WriteChecks writes the checks as a Markdown table, with a count of those
// met; nothing if there are none.
func WriteChecks(w io.Writer, checks []Check) error {
	if len(checks) == 0 {
		return nil
	}
	var b strings.Builder
	met := 0
	for _, c := range checks {
		if c.Pass {
			met++
		}
	}
	fmt.Fprintf(&b, "\n### h2rpc against the targets: %d of %d met\n\n| cell | target | h2rpc | met |\n|---|---|--:|:-:|\n", met, len(checks))
	for _, c := range checks {
		mark := "no"
		if c.Pass {
			mark = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.Cell, c.Target, c.Got, mark)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
