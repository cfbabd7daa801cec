package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/h2rpc/h2rpc/rpc"
)

// maxListed is how many violations of each phase the report lists.
const maxListed = 20

// report writes the summary table of phases, then their violations, and
// returns how many violations there were.
func report(w io.Writer, phases []*phase) int {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "#\tphase\tsecs\tunary\tsrv-str\tcli-str\tbidi\tOK\tCANCEL\tDEADLINE\tUNAVAIL\tother\tMiB\tviol\tcli gor\tcli fd\tcli rss MiB\tsrv gor\tsrv fd\tsrv rss MiB\t")
	var total [nShapes]int
	codes := map[rpc.Code]int{}
	var bytes int64
	var elapsed time.Duration
	nviol := 0
	for i, p := range phases {
		other := 0
		for c, n := range p.codes {
			codes[c] += n
			if !reported(c) {
				other += n
			}
		}
		for s, n := range p.calls {
			total[s] += n
		}
		bytes += p.bytes
		elapsed += p.elapsed
		nviol += len(p.violations)
		fmt.Fprintf(tw, "%d\t%s\t%.0f\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.0f\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			i, p.name, p.elapsed.Seconds(),
			p.calls[unary], p.calls[serverStream], p.calls[clientStream], p.calls[bidi],
			p.codes[rpc.OK], p.codes[rpc.Canceled], p.codes[rpc.DeadlineExceeded], p.codes[rpc.Unavailable], other,
			float64(p.bytes)/(1<<20), len(p.violations),
			beforeAfter(p.clientBefore.goroutines, p.clientAfter.goroutines),
			beforeAfter(p.clientBefore.fds, p.clientAfter.fds),
			beforeAfterMiB(p.clientBefore.rss, p.clientAfter.rss),
			beforeAfter(p.serverBefore.goroutines, p.serverAfter.goroutines),
			beforeAfter(p.serverBefore.fds, p.serverAfter.fds),
			beforeAfterMiB(p.serverBefore.rss, p.serverAfter.rss))
	}
	other := 0
	for c, n := range codes {
		if !reported(c) {
			other += n
		}
	}
	fmt.Fprintf(tw, "\ttotal\t%.0f\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.0f\t%d\t\t\t\t\t\t\t\n",
		elapsed.Seconds(), total[unary], total[serverStream], total[clientStream], total[bidi],
		codes[rpc.OK], codes[rpc.Canceled], codes[rpc.DeadlineExceeded], codes[rpc.Unavailable], other,
		float64(bytes)/(1<<20), nviol)
	tw.Flush()
	for i, p := range phases {
		for j, v := range p.violations {
			if j == maxListed {
				fmt.Fprintf(w, "phase %d (%s): ... and %d more\n", i, p.name, len(p.violations)-maxListed)
				break
			}
			fmt.Fprintf(w, "phase %d (%s): %s\n", i, p.name, v)
		}
	}
	return nviol
}

// reported says whether code has its own column.
func reported(c rpc.Code) bool {
	return c == rpc.OK || c == rpc.Canceled || c == rpc.DeadlineExceeded || c == rpc.Unavailable
}

func beforeAfter(b, a int) string { return fmt.Sprintf("%d/%d", b, a) }

func beforeAfterMiB(b, a int64) string {
	if b < 0 || a < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f/%.0f", float64(b)/(1<<20), float64(a)/(1<<20))
}
