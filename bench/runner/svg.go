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
// cell by cell, on a logarithmic axis so that 2× and 0.5× look alike (a bar
// per system from the 1× line), and the latency distribution of the first
// unary cell (or the first cell with latencies) as percentile curves: time
// on a logarithmic axis against the fraction of operations at or under it,
// on a "nines" axis (0.9, 0.99, 0.999) that gives the tail room.
func WriteSVG(w io.Writer, rep *Report) error {
	const (
		width  = 960
		barH   = 360
		cdfH   = 360
		left   = 110
		right  = 20
		top    = 40
		gap    = 190
		height = top + barH + gap + cdfH + 60
	)
	plotW := float64(width - left - right)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", width, height, width, height)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14" font-weight="bold">Throughput ÷ grpc (same run, median of %d)</text>`+"\n", left, rep.Repeat)
	legend(&b, rep.Systems, width-right-80*len(rep.Systems), 18)

	// Bar chart on a log2 axis spanning at least 0.5× to 2×.
	lo, hi := 0.5, 2.0
	for _, cr := range rep.Cells {
		for _, r := range cr.Results {
			if r.Ratio > 0 {
				lo, hi = math.Min(lo, r.Ratio), math.Max(hi, r.Ratio)
			}
		}
	}
	lo = math.Pow(2, math.Floor(math.Log2(lo)))
	hi = math.Pow(2, math.Ceil(math.Log2(hi)))
	y := func(v float64) float64 {
		return top + (math.Log2(hi)-math.Log2(v))/(math.Log2(hi)-math.Log2(lo))*barH
	}
	for t := lo; t <= hi*1.0001; t *= 2 {
		stroke := "#ddd"
		if t == 1 {
			stroke = "black"
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s"/><text x="%d" y="%.1f" text-anchor="end">%s×</text>`+"\n",
			left, width-right, y(t), y(t), stroke, left-4, y(t)+4, strconvRatio(t))
	}
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
				y0, y1 := y(1), y(r.Ratio)
				fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %.2f×</title></rect>`+"\n",
					x, math.Min(y0, y1), barW*0.9, math.Max(math.Abs(y0-y1), 1), systemColor(r.System), html.EscapeString(r.System), html.EscapeString(cr.Cell.String()), r.Ratio)
				ty := y1 - 3
				if r.Ratio < 1 {
					ty = y1 + 10
				}
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="9" text-anchor="middle">%.1f</text>`+"\n", x+barW*0.45, ty, r.Ratio)
			}
			cx := x0 + groupW/2
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="end" transform="rotate(-35 %.1f %d)">%s</text>`+"\n", cx, top+barH+16, cx, top+barH+16, html.EscapeString(cr.Cell.String()))
		}
	}

	// Latency percentiles.
	cdfTop := top + barH + gap
	cell := cdfCell(rep)
	if cell == nil {
		b.WriteString("</svg>\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="14" font-weight="bold">Latency distribution: %s</text>`+"\n", left, cdfTop-22, html.EscapeString(cell.Cell.String()))
	legend(&b, rep.Systems, width-right-80*len(rep.Systems), cdfTop-18)
	tlo, thi := math.Inf(1), math.Inf(-1)
	for _, r := range cell.Results {
		for _, p := range r.CDF {
			v := math.Max(float64(p.Value), 1)
			tlo, thi = math.Min(tlo, v), math.Max(thi, v)
		}
	}
	tlo = math.Pow(10, math.Floor(math.Log10(tlo)))
	thi = math.Pow(10, math.Ceil(math.Log10(thi)))
	if thi <= tlo {
		thi = tlo * 10
	}
	xOf := func(ns float64) float64 {
		return float64(left) + (math.Log10(math.Max(ns, tlo))-math.Log10(tlo))/(math.Log10(thi)-math.Log10(tlo))*plotW
	}
	const nines = 4 // the axis ends at 0.9999
	yOf := func(f float64) float64 {
		n := math.Min(-math.Log10(math.Max(1-f, 1e-12)), nines)
		return float64(cdfTop) + (1-n/nines)*cdfH
	}
	for d := tlo; d <= thi*1.0001; d *= 10 {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n",
			xOf(d), xOf(d), cdfTop, cdfTop+cdfH, xOf(d), cdfTop+cdfH+14, tickNanos(d))
	}
	for _, f := range []float64{0, 0.5, 0.9, 0.99, 0.999, 0.9999} {
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
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">latency (log scale); vertical: fraction of operations at or under it</text>`+"\n", left+int(plotW/2), cdfTop+cdfH+32)
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">%s</text>`+"\n", left, height-10, html.EscapeString(rep.Machine))
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// strconvRatio prints an axis ratio: 0.25, 0.5, 1, 2.
func strconvRatio(v float64) string { return fmt.Sprintf("%g", v) }

// tickNanos prints a power-of-ten duration: 10µs, 1ms.
func tickNanos(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%gs", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%gms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%gµs", ns/1e3)
	}
	return fmt.Sprintf("%gns", ns)
}

func legend(b *strings.Builder, systems []string, x, y int) {
	for i, s := range systems {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", x+i*80, y-9, systemColor(s), x+i*80+14, y, html.EscapeString(s))
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
