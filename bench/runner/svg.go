package runner

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// palette gives each system the runner knows its own colour, the same in
// every chart; a TLS variant is a lighter shade of its h2c system's.
var palette = map[string]string{
	"h2rpc": "#d62728", "h2rpc-tls": "#ff9896",
	"grpc": "#1f77b4", "grpc-tls": "#aec7e8", "grpc-perf": "#17becf",
	"drpc": "#2ca02c", "xnet": "#9467bd", "tcp": "#7f7f7f",
}

// systemColor gives each system the same colour in every chart: its
// palette colour, or for a system the palette lacks, one picked by a hash
// of its name.
func systemColor(name string) string {
	if c, ok := palette[name]; ok {
		return c
	}
	extra := []string{"#ff7f0e", "#8c564b", "#e377c2", "#bcbd22"}
	h := 0
	for _, r := range name {
		h = h*31 + int(r)
	}
	return extra[(h%len(extra)+len(extra))%len(extra)]
}

// The SVG's geometry, in pixels.
const (
	svgWidth  = 960
	svgLeft   = 110 // room for the throughput chart's axis labels
	svgRight  = 20
	svgTop    = 40
	ratioH    = 360 // the throughput chart's plot
	ratioGap  = 190 // under it: the rotated cell names
	memRowH   = 26  // one system's bar in the memory chart
	cdfW      = 400 // one latency chart's plot; two side by side
	cdfH      = 240
	cdfLeft   = 60 // room for its axis labels
	cdfPitchX = 470
	cdfPitchY = cdfH + 100
)

// WriteSVG draws the report's charts, one under the other:
//
//   - throughput: each system's as a ratio to grpc, cell by cell (the conns
//     scenario aside), on a logarithmic axis so that 2× and 0.5× look alike;
//     each bar rises from the axis floor, so grpc's 1× bars show too, and
//     the 1× line runs across them;
//   - memory: the conns scenario's client heap per idle connection, one bar
//     per system (what that scenario is for);
//   - latency: one chart per scenario, of its first cell with latencies, as
//     percentile curves: time on a logarithmic axis against the fraction of
//     operations at or under it, on a "nines" axis (0.9, 0.99, 0.999) that
//     gives the tail room.
func WriteSVG(w io.Writer, rep *Report) error {
	var body strings.Builder
	y := svgTop
	y = drawRatios(&body, rep, y)
	y = drawConnMemory(&body, rep, y)
	y = drawLatencies(&body, rep, y)
	fmt.Fprintf(&body, `<text x="%d" y="%d" fill="#555">%s</text>`+"\n", svgLeft, y+10, html.EscapeString(rep.Machine))
	height := y + 24

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", svgWidth, height, svgWidth, height)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	b.WriteString(body.String())
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// drawRatios draws the throughput chart with its top at top and returns
// where the next chart may start.
func drawRatios(b *strings.Builder, rep *Report, top int) int {
	var cells []CellReport
	for _, cr := range rep.Cells {
		if cr.Cell.Scenario != ScenarioConns {
			cells = append(cells, cr)
		}
	}
	if len(cells) == 0 {
		return top
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="14" font-weight="bold">Throughput ÷ grpc (same run, median of %d)</text>`+"\n", svgLeft, top-20, rep.Repeat)
	top += legend(b, rep.Systems, svgLeft, top)

	// A log2 axis spanning at least 0.5× to 2×, its floor a power of two
	// strictly under the smallest ratio so that every bar has a height.
	lo, hi := 0.5, 2.0
	for _, cr := range cells {
		for _, r := range cr.Results {
			if r.Ratio > 0 {
				lo, hi = math.Min(lo, r.Ratio), math.Max(hi, r.Ratio)
			}
		}
	}
	lo = math.Pow(2, math.Ceil(math.Log2(lo))-1)
	hi = math.Pow(2, math.Ceil(math.Log2(hi)))
	y := func(v float64) float64 {
		return float64(top) + (math.Log2(hi)-math.Log2(v))/(math.Log2(hi)-math.Log2(lo))*ratioH
	}
	for t := lo; t <= hi*1.0001; t *= 2 {
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s×</text>`+"\n",
			svgLeft, svgWidth-svgRight, y(t), y(t), svgLeft-4, y(t)+4, strconvRatio(t))
	}
	plotW := float64(svgWidth - svgLeft - svgRight)
	groupW := plotW / float64(len(cells))
	for i, cr := range cells {
		x0 := float64(svgLeft) + float64(i)*groupW
		barW := groupW * 0.8 / float64(max(len(cr.Results), 1))
		for j, r := range cr.Results {
			if r.Ratio <= 0 {
				continue
			}
			x := x0 + groupW*0.1 + float64(j)*barW
			y1 := y(r.Ratio)
			fmt.Fprintf(b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %.2f×</title></rect>`+"\n",
				x, y1, barW*0.9, y(lo)-y1, systemColor(r.System), html.EscapeString(r.System), html.EscapeString(cr.Cell.String()), r.Ratio)
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="9" text-anchor="middle">%.1f</text>`+"\n", x+barW*0.45, y1-3, r.Ratio)
		}
		cx := x0 + groupW/2
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="end" transform="rotate(-35 %.1f %d)">%s</text>`+"\n", cx, top+ratioH+16, cx, top+ratioH+16, html.EscapeString(cr.Cell.String()))
	}
	// The 1× line last, over the bars: above it, faster than grpc.
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="black" stroke-width="1.5"/>`+"\n", svgLeft, svgWidth-svgRight, y(1), y(1))
	return top + ratioH + ratioGap
}

// drawConnMemory draws the conns scenario's chart, client heap per idle
// connection, with its top at top, and returns where the next chart may
// start.
func drawConnMemory(b *strings.Builder, rep *Report, top int) int {
	var cell *CellReport
	for i := range rep.Cells {
		if rep.Cells[i].Cell.Scenario == ScenarioConns {
			cell = &rep.Cells[i]
			break
		}
	}
	if cell == nil {
		return top
	}
	var rows []SystemResult
	most := 0.0
	for _, r := range cell.Results {
		if r.Err == "" && r.HeapPerConn > 0 {
			rows = append(rows, r)
			most = math.Max(most, r.HeapPerConn)
		}
	}
	if len(rows) == 0 {
		return top
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="14" font-weight="bold">Client memory per idle connection (heap and stacks; %d connections, server in another process)</text>`+"\n",
		svgLeft, top, cell.Cell.Conns)
	top += 14
	plotW := float64(svgWidth-svgLeft-svgRight) - 110 // room for the labels
	for i, r := range rows {
		y := top + i*memRowH
		w := r.HeapPerConn / most * plotW
		label := formatBytes(r.HeapPerConn)
		if r.MemRatio > 0 && r.System != Baseline {
			label += fmt.Sprintf(" (%.2f× grpc)", r.MemRatio)
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", svgLeft-4, y+15, html.EscapeString(r.System))
		fmt.Fprintf(b, `<rect class="membar" x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s per idle connection</title></rect>`+"\n",
			svgLeft, y+3, math.Max(w, 1), memRowH-6, systemColor(r.System), html.EscapeString(r.System), formatBytes(r.HeapPerConn))
		fmt.Fprintf(b, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(svgLeft)+math.Max(w, 1)+4, y+15, html.EscapeString(label))
	}
	return top + len(rows)*memRowH + 60
}

// drawLatencies draws one latency chart per scenario, two side by side,
// with their tops at top, and returns where the next chart may start.
func drawLatencies(b *strings.Builder, rep *Report, top int) int {
	var cells []*CellReport
	for _, sc := range Scenarios {
		if cr := cdfCell(rep, sc); cr != nil {
			cells = append(cells, cr)
		}
	}
	if len(cells) == 0 {
		return top
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="14" font-weight="bold">Latency distribution, one cell per scenario</text>`+"\n", svgLeft, top)
	top += 40 + legend(b, rep.Systems, svgLeft, top+20)
	for i, cr := range cells {
		x := cdfLeft + (i%2)*cdfPitchX
		y := top + (i/2)*cdfPitchY
		drawCDF(b, cr, x, y)
	}
	return top + (len(cells)+1)/2*cdfPitchY
}

// drawCDF draws the latency percentiles of one cell in a cdfW × cdfH plot
// whose top left corner is (left, top).
func drawCDF(b *strings.Builder, cell *CellReport, left, top int) {
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="12" font-weight="bold">%s</text>`+"\n", left, top-8, html.EscapeString(cell.Cell.String()))
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
		return float64(left) + (math.Log10(math.Max(ns, tlo))-math.Log10(tlo))/(math.Log10(thi)-math.Log10(tlo))*cdfW
	}
	const nines = 4 // the axis ends at 0.9999
	yOf := func(f float64) float64 {
		n := math.Min(-math.Log10(math.Max(1-f, 1e-12)), nines)
		return float64(top) + (1-n/nines)*cdfH
	}
	for d := tlo; d <= thi*1.0001; d *= 10 {
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n",
			xOf(d), xOf(d), top, top+cdfH, xOf(d), top+cdfH+14, tickNanos(d))
	}
	for _, f := range []float64{0, 0.5, 0.9, 0.99, 0.999, 0.9999} {
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", left, left+cdfW, yOf(f), yOf(f), left-4, yOf(f)+4, f)
	}
	for _, r := range cell.Results {
		if len(r.CDF) == 0 {
			continue
		}
		var pts strings.Builder
		for _, p := range r.CDF {
			fmt.Fprintf(&pts, "%.1f,%.1f ", xOf(float64(p.Value)), yOf(p.Fraction))
		}
		fmt.Fprintf(b, `<polyline class="cdf" fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>`+"\n", systemColor(r.System), strings.TrimSpace(pts.String()), html.EscapeString(r.System))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" fill="#555">%s (log scale); up: fraction at or under it</text>`+"\n",
		left+cdfW/2, top+cdfH+30, latencyMeaning(cell.Cell.Scenario))
}

// latencyMeaning says what a scenario's latency measures.
func latencyMeaning(scenario string) string {
	switch scenario {
	case ScenarioStreamSmall, ScenarioStreamBulk:
		return "gap between messages"
	case ScenarioPingPong:
		return "round trip"
	case ScenarioHandshakes:
		return "dial, handshake and call"
	}
	return "call latency"
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

// legendH is the height of the legend's row, which sits under a chart's
// title, never beside it, so that no count of systems makes them overlap.
const legendH = 20

// legend draws one swatch and name per system in rows whose first text
// baseline is y, starting at x, wrapping before the right margin, and
// returns the height of its rows.
func legend(b *strings.Builder, systems []string, x, y int) int {
	cx, h := x, legendH
	for _, s := range systems {
		if cx+legendItemW > svgWidth-svgRight {
			cx, y, h = x, y+legendH, h+legendH
		}
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", cx, y-9, systemColor(s), cx+14, y, html.EscapeString(s))
		cx += legendItemW
	}
	return h
}

// legendItemW is the width one system takes in a legend's row.
const legendItemW = 90

// cdfCell picks the cell of scenario the latency charts show: the first
// with latencies, or nil.
func cdfCell(rep *Report, scenario string) *CellReport {
	for i := range rep.Cells {
		cr := &rep.Cells[i]
		if cr.Cell.Scenario != scenario {
			continue
		}
		for _, r := range cr.Results {
			if len(r.CDF) > 0 {
				return cr
			}
		}
	}
	return nil
}
