package rpc

import (
	"math"
	"math/rand/v2"

	"github.com/h2rpc/h2rpc/wire"
)

// ConnectivityState is the state of a backend's connections, or of a whole
// ClientConn (grpc doc/connectivity-semantics-and-api.md).
type ConnectivityState int

const (
	// Idle: no connection, none being made; a call (or Connect) starts one.
	Idle ConnectivityState = iota
	// Connecting: a connection is being made (or, for a ClientConn, the
	// target is being resolved).
	Connecting
	// Ready: a connection takes calls.
	Ready
	// TransientFailure: the last attempt failed; the next waits for the
	// backoff. A ClientConn stays in it until a backend is ready again.
	TransientFailure
	// Shutdown: the ClientConn was closed, or the backend removed.
	Shutdown
)

func (s ConnectivityState) String() string {
	switch s {
	case Idle:
		return "IDLE"
	case Connecting:
		return "CONNECTING"
	case Ready:
		return "READY"
	case TransientFailure:
		return "TRANSIENT_FAILURE"
	case Shutdown:
		return "SHUTDOWN"
	}
	return "INVALID_STATE"
}

// A Balancer chooses the backend of each call among those ready.
//
// Pick is called with the ClientConn's lock held, once per call (and once
// more for a transparent retry): it must be quick, must not block and must
// not call the ClientConn. ready is never empty and is valid only during
// the call. Every backend but those of PickFirst is connected as soon as the
// resolver reports it, and reconnected when its connection ends.
type Balancer interface {
	// Name is the policy's name in grpc's service config ("round_robin").
	Name() string
	// Pick returns the index in ready of the backend for the next call.
	Pick(ready []*Backend) int
}

// PickFirst returns the default balancer: it connects to the resolver's
// addresses one at a time, in order (shuffled first if shuffle is set, so
// that many clients spread over the list), and sends every call to the
// first that connects until its connection ends.
func PickFirst(shuffle bool) Balancer { return &pickFirst{shuffle: shuffle} }

type pickFirst struct{ shuffle bool }

func (*pickFirst) Name() string              { return "pick_first" }
func (*pickFirst) Pick(ready []*Backend) int { return 0 }

// RoundRobin returns a balancer that sends calls to the ready backends in
// turn.
func RoundRobin() Balancer { return &roundRobin{next: rand.Uint32()} }

type roundRobin struct {
	next uint32 // guarded by the ClientConn's lock (Pick's caller)
}

func (*roundRobin) Name() string { return "round_robin" }

func (r *roundRobin) Pick(ready []*Backend) int {
	r.next++
	return int(r.next % uint32(len(ready)))
}

// LeastRequest returns a balancer that picks two ready backends at random
// and sends the call to the one with fewer calls outstanding ("the power of
// two choices"): a slow backend accumulates calls and is passed over,
// while no client needs a global view.
//
// With weighted set, the count is weighted by the load a backend reports
// in its trailers (grpc's ORCA endpoint-load-metrics-bin, see
// AppendLoadReport): the backend with the least (outstanding+1)×utilization
// wins; a backend that reported nothing counts as utilization 1.
func LeastRequest(weighted bool) Balancer { return &leastRequest{weighted: weighted} }

type leastRequest struct{ weighted bool }

func (*leastRequest) Name() string { return "least_request" }

func (l *leastRequest) Pick(ready []*Backend) int {
	n := len(ready)
	if n == 1 {
		return 0
	}
	i := rand.IntN(n)
	j := rand.IntN(n - 1)
	if j >= i {
		j++
	}
	if l.cost(ready[j]) < l.cost(ready[i]) {
		return j
	}
	return i
}

func (l *leastRequest) cost(b *Backend) float64 {
	c := float64(b.outstanding.Load() + 1)
	if l.weighted {
		if u, ok := b.Load(); ok {
			c *= max(u, minUtilization)
		}
	}
	return c
}

// minUtilization keeps an idle backend's weighted cost above zero, so that
// its outstanding calls still count.
const minUtilization = 0.01

// The trailer grpc's ORCA uses for per-call load reports (grpc proposal
// A51): a serialized xds.data.orca.v3.OrcaLoadReport.
const loadReportKey = "endpoint-load-metrics-bin"

// OrcaLoadReport field numbers read and written here.
const (
	orcaCPUUtilization         wire.Number = 1
	orcaApplicationUtilization wire.Number = 9
)

// AppendLoadReport appends to md the per-call load report a weighted
// LeastRequest client reads: utilization (0 idle, 1 saturated; more when
// over-committed) as the cpu_utilization of an ORCA OrcaLoadReport in the
// endpoint-load-metrics-bin trailer. A handler calls
// SetTrailer(ctx, AppendLoadReport(nil, u)).
func AppendLoadReport(md MD, utilization float64) MD {
	b := wire.AppendTag(nil, orcaCPUUtilization, wire.TypeI64)
	b = wire.AppendFixed64(b, math.Float64bits(utilization))
	if md == nil {
		md = MD{}
	}
	md[loadReportKey] = append(md[loadReportKey], string(b))
	return md
}

// parseLoadReport returns the utilization of an OrcaLoadReport:
// application_utilization if set, else cpu_utilization.
func parseLoadReport(b []byte) (float64, bool) {
	var cpu, app float64
	var haveCPU, haveApp bool
	for len(b) > 0 {
		num, typ, n := wire.ConsumeTag(b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
		if typ == wire.TypeI64 && (num == orcaCPUUtilization || num == orcaApplicationUtilization) {
			v, m := wire.ConsumeFixed64(b)
			if m < 0 {
				return 0, false
			}
			f := math.Float64frombits(v)
			if num == orcaCPUUtilization {
				cpu, haveCPU = f, true
			} else {
				app, haveApp = f, true
			}
			b = b[m:]
			continue
		}
		m := wire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0, false
		}
		b = b[m:]
	}
	u, ok := cpu, haveCPU
	if haveApp && app > 0 {
		u, ok = app, true
	}
	if !ok || math.IsNaN(u) || u < 0 || math.IsInf(u, 0) {
		return 0, false
	}
	return u, true
}

// noLoad is a Backend's load before any report: no float64's bits.
const noLoad = math.MaxUint64
