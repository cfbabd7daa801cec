package runner

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// systemColor gives each system the same colour in every chart.
func systemColor(name string) string {
	palette := map[string]string{"h2rpc": "#d62728", "grpc": "#1f77b4", "drpc": "#2ca02c", "xnet": "#9467bd", "tcp": "#7f7f7f"}
	if c, ok := palette[name]; ok {
		return c
	}
	extra := []string{"#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22"}
	h := 0
	for _, r := range name {
		h = h*31 + int(r)
	}
	return extra[(h%len(extra)+len(extra))%len(extra)]
}

// WriteSVG draws two charts: each system's throughput as a ratio to grpc,
// cell by cell (a bar per system, a dashed line at 1×), and the latency
// CDF of the first unary cell (or the first cell with latencies), on a
// logarithmic time axis.
func WriteSVG(w io.Writer, rep *Report) error {
	const (
		width  = 960
		barH   = 380
		cdfH   = 380
		left   = 60
		right  = 20
		top    = 40
		gap    = 110
		height = top + barH + gap + cdfH + 60
	)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", width, height, width, height)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14" font-weight="bold">Throughput ÷ grpc (same run, median of %d)</text>`+"\n", left, rep.Repeat)
	legend(&b, rep.Systems, width-right-90*len(rep.Systems), 14)

	// Bar chart.
	maxRatio := 1.0
	for _, cr := range rep.Cells {
		for _, r := range cr.Results {
			maxRatio = math.Max(maxRatio, r.Ratio)
		}
	}
	maxRatio = math.Ceil(maxRatio*1.1*2) / 2
	plotW := float64(width - left - right)
	y := func(v float64) float64 { return top + barH - v/maxRatio*barH }
	for t := 0.0; t <= maxRatio+1e-9; t += tickStep(maxRatio) {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%.1f×</text>`+"\n", left, width-right, y(t), y(t), left-4, y(t)+4, t)
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="black" stroke-dasharray="4 3"/>`+"\n", left, width-right, y(1), y(1))
	if n := len(rep.Cells); n > 0 {
		groupW := plotW / float64(n)
		for i, cr := range rep.Cells {
			x0 := float64(left) + float64(i)*groupW
			barW := groupW * 0.8 / float64(max(len(cr.Results), 1))
			for j, r := range cr.Results {
				if r.Ratio <= 0 {
					continue
				}
				x := x0 + groupW*0.1 + float64(j)*barW
				fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %.2f×</title></rect>`+"\n",
					x, y(r.Ratio), barW*0.9, y(0)-y(r.Ratio), systemColor(r.System), html.EscapeString(r.System), html.EscapeString(cr.Cell.String()), r.Ratio)
			}
			cx := x0 + groupW/2
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="end" transform="rotate(-35 %.1f %d)">%s</text>`+"\n", cx, top+barH+14, cx, top+barH+14, html.EscapeString(cr.Cell.String()))
		}
	}

	// Latency CDF.
	cdfTop := top + barH + gap
	cell := cdfCell(rep)
	if cell == nil {
		b.WriteString("</svg>\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="14" font-weight="bold">Latency CDF: %s</text>`+"\n", left, cdfTop-14, html.EscapeString(cell.Cell.String()))
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range cell.Results {
		for _, p := range r.CDF {
			v := math.Max(float64(p.Value), 1)
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	xOf := func(ns float64) float64 {
		return float64(left) + (math.Log10(math.Max(ns, lo))-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*plotW
	}
	yOf := func(f float64) float64 { return float64(cdfTop) + (1-f)*cdfH }
	for d := lo; d <= hi*1.0001; d *= 10 {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n",
			xOf(d), xOf(d), cdfTop, cdfTop+cdfH, xOf(d), cdfTop+cdfH+14, formatNanos(int64(d)))
	}
	for _, f := range []float64{0, 0.5, 0.9, 0.99, 1} {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", left, width-right, yOf(f), yOf(f), left-4, yOf(f)+4, f)
	}
	for _, r := range cell.Results {
		if len(r.CDF) == 0 {
			continue
		}
		var pts strings.Builder
		for _, p := range r.CDF {
			fmt.Fprintf(&pts, "%.1f,%.1f ", xOf(float64(p.Value)), yOf(p.Fraction))
		}
		fmt.Fprintf(&b, `<polyline class="cdf" fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>`+"\n", systemColor(r.System), strings.TrimSpace(pts.String()), html.EscapeString(r.System))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">%s</text>`+"\n", left, height-10, html.EscapeString(rep.Machine))
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func tickStep(maxRatio float64) float64 {
	switch {
	case maxRatio <= 2:
		return 0.25
	case maxRatio <= 5:
		return 0.5
	case maxRatio <= 10:
		return 1
	}
	return math.Ceil(maxRatio / 10)
}

func legend(b *strings.Builder, systems []string, x, y int) {
	for i, s := range systems {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", x+i*90, y-9, systemColor(s), x+i*90+14, y, html.EscapeString(s))
	}
}

// cdfCell picks the cell the latency chart shows: the first unary cell,
// else the first with latencies.
func cdfCell(rep *Report) *CellReport {
	var first *CellReport
	for i := range rep.Cells {
		cr := &rep.Cells[i]
		has := false
		for _, r := range cr.Results {
			has = has || len(r.CDF) > 0
		}
		if !has {
			continue
		}
		if cr.Cell.Scenario == ScenarioUnary {
			return cr
		}
		if first == nil {
			first = cr
		}
	}
	return first
}
