package runner

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress reports runs as they finish: a redrawn bar on a terminal, one
// line per run otherwise. A nil writer reports nothing.
type progress struct {
	w     io.Writer
	bar   bool
	total int
	n     int
	start time.Time
}

func newProgress(w io.Writer, bar bool, total int) *progress {
	return &progress{w: w, bar: bar, total: total, start: time.Now()}
}

// begin shows, on a terminal, the run about to start.
func (p *progress) begin(cell Cell, system string) {
	if p.w != nil && p.bar {
		p.draw(cell.String() + " " + system + "…")
	}
}

// draw redraws the bar with what on its right.
func (p *progress) draw(what string) {
	const width = 30
	done := width * p.n / max(p.total, 1)
	eta := ""
	if p.n > 0 && p.n < p.total {
		left := time.Since(p.start) / time.Duration(p.n) * time.Duration(p.total-p.n)
		eta = " ETA " + left.Round(time.Second).String()
	}
	// \r and erase-to-end-of-line redraw the one line.
	fmt.Fprintf(p.w, "\r\x1b[K[%s%s] %d/%d%s %s", strings.Repeat("=", done), strings.Repeat(" ", width-done), p.n, p.total, eta, what)
}

func (p *progress) step(cell Cell, system string, run *Figures, err error) {
	p.n++
	if p.w == nil {
		return
	}
	var what string
	switch {
	case err != nil:
		what = "error: " + err.Error()
	case run != nil:
		what = formatThroughput(cell, *run)
	}
	if !p.bar {
		fmt.Fprintf(p.w, "bench: [%d/%d] %s %s: %s\n", p.n, p.total, cell, system, what)
		return
	}
	if err != nil {
		// Errors stay on screen above the bar.
		fmt.Fprintf(p.w, "\r\x1b[K%s %s: %s\n", cell, system, what)
	}
	p.draw("")
}

func (p *progress) done() {
	if p.w != nil && p.bar {
		fmt.Fprintf(p.w, "\r\x1b[Kdone: %d runs in %v\n", p.n, time.Since(p.start).Round(time.Second))
	}
}
