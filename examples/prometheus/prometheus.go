// Package prometheus is an example of metrics built on rpc.StatsHandler:
// call counts and latency histograms by method and status code, message
// sizes, and open connections, served in the Prometheus text exposition
// format with no dependency beyond the standard library.
//
//	m := prometheus.NewMetrics()
//	srv := rpc.NewServer(rpc.ServerStats(m))
//	http.Handle("/metrics", m)
//
// A program already using the Prometheus client library would register
// collectors instead; the StatsHandler side stays the same.
package prometheus

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/h2rpc/h2rpc/rpc"
)

// Buckets are the latency histogram's upper bounds, in seconds.
var Buckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Metrics is an rpc.StatsHandler and an http.Handler serving what it
// counted.
type Metrics struct {
	mu     sync.Mutex
	calls  map[series]*histogram // guarded by mu
	bytes  map[series]int64      // guarded by mu: message bytes on the wire, by direction
	conns  map[bool]int64        // guarded by mu: open connections, by client side
	closed map[bool]int64        // guarded by mu: connections ended
}

type series struct {
	side, method, code string // code "" for byte counts; then side is "sent" or "received" too
}

type histogram struct {
	counts []int64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      int64
}

// NewMetrics returns an empty Metrics.
func NewMetrics() *Metrics {
	return &Metrics{calls: map[series]*histogram{}, bytes: map[series]int64{}, conns: map[bool]int64{}, closed: map[bool]int64{}}
}

func side(client bool) string {
	if client {
		return "client"
	}
	return "server"
}

// TagCall implements rpc.StatsHandler.
func (m *Metrics) TagCall(ctx context.Context, _ *rpc.CallInfo) context.Context { return ctx }

// HandleCall implements rpc.StatsHandler.
func (m *Metrics) HandleCall(_ context.Context, ev *rpc.CallEvent) {
	switch ev.Kind {
	case rpc.OutPayload, rpc.InPayload:
		dir := "sent"
		if ev.Kind == rpc.InPayload {
			dir = "received"
		}
		m.mu.Lock()
		m.bytes[series{side: side(ev.Client) + "_" + dir, method: ev.FullMethod}] += int64(ev.WireLength)
		m.mu.Unlock()
	case rpc.CallEnd:
		k := series{side: side(ev.Client), method: ev.FullMethod, code: ev.Status.Code.String()}
		secs := ev.Duration.Seconds()
		m.mu.Lock()
		h := m.calls[k]
		if h == nil {
			h = &histogram{counts: make([]int64, len(Buckets)+1)}
			m.calls[k] = h
		}
		i, _ := slices.BinarySearch(Buckets, secs)
		h.counts[i]++
		h.sum += secs
		h.n++
		m.mu.Unlock()
	}
}

// HandleConn implements rpc.StatsHandler.
func (m *Metrics) HandleConn(ev *rpc.ConnEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ev.Begin {
		m.conns[ev.Client]++
	} else {
		m.conns[ev.Client]--
		m.closed[ev.Client]++
	}
}

// ServeHTTP writes the metrics in the Prometheus text format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	m.WriteTo(w)
}

// WriteTo writes the metrics in the Prometheus text format to w.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	m.mu.Lock()
	b.WriteString("# HELP h2rpc_call_duration_seconds Duration of finished calls.\n# TYPE h2rpc_call_duration_seconds histogram\n")
	for _, k := range sortedKeys(m.calls) {
		h := m.calls[k]
		labels := fmt.Sprintf(`side=%q,method=%q,code=%q`, k.side, k.method, k.code)
		var cum int64
		for i, ub := range Buckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "h2rpc_call_duration_seconds_bucket{%s,le=\"%g\"} %d\n", labels, ub, cum)
		}
		fmt.Fprintf(&b, "h2rpc_call_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", labels, h.n)
		fmt.Fprintf(&b, "h2rpc_call_duration_seconds_sum{%s} %g\n", labels, h.sum)
		fmt.Fprintf(&b, "h2rpc_call_duration_seconds_count{%s} %d\n", labels, h.n)
	}
	b.WriteString("# HELP h2rpc_message_bytes_total Message bytes on the wire, 5-octet prefixes included.\n# TYPE h2rpc_message_bytes_total counter\n")
	for _, k := range sortedKeys(m.bytes) {
		s, dir, _ := strings.Cut(k.side, "_")
		fmt.Fprintf(&b, "h2rpc_message_bytes_total{side=%q,direction=%q,method=%q} %d\n", s, dir, k.method, m.bytes[k])
	}
	b.WriteString("# HELP h2rpc_connections Open HTTP/2 connections.\n# TYPE h2rpc_connections gauge\n")
	for _, client := range []bool{true, false} {
		fmt.Fprintf(&b, "h2rpc_connections{side=%q} %d\n", side(client), m.conns[client])
	}
	b.WriteString("# HELP h2rpc_connections_closed_total Connections that ended.\n# TYPE h2rpc_connections_closed_total counter\n")
	for _, client := range []bool{true, false} {
		fmt.Fprintf(&b, "h2rpc_connections_closed_total{side=%q} %d\n", side(client), m.closed[client])
	}
	m.mu.Unlock()
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func sortedKeys[V any](m map[series]V) []series {
	keys := make([]series, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b series) int {
		return strings.Compare(a.side+a.method+a.code, b.side+b.method+b.code)
	})
	return keys
}
