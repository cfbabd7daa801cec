package rpc

import (
	"io"
	"math"
	"time"
)

// OutlierConfig makes a ClientConn take failing backends out of the
// balancer's picks for a while (grpc proposal A50, "outlier detection"):
// a backend is ejected after ConsecutiveFailures failed calls in a row, or
// when, at the end of an Interval, its success rate is more than
// SuccessRateStdevFactor standard deviations below the mean of the
// backends'. An ejection lasts BaseEjectionTime times the number of times
// the backend was ejected (at most MaxEjectionTime). No more than
// MaxEjectionPercent of the backends are ejected at once (at least one
// may be), and never all of them. A failure is a call that ended with
// UNAVAILABLE, INTERNAL, UNKNOWN, DATA_LOSS or DEADLINE_EXCEEDED: a
// backend's trouble, not the application's answer.
type OutlierConfig struct {
	Interval               time.Duration // default 10s
	ConsecutiveFailures    int           // default 5; negative disables
	SuccessRateMinRequests int           // calls in an Interval for a backend to count; default 100
	SuccessRateMinHosts    int           // backends with enough calls for the check to run; default 5
	SuccessRateStdevFactor float64       // default 1.9; negative disables the check
	BaseEjectionTime       time.Duration // default 30s
	MaxEjectionTime        time.Duration // default 300s
	MaxEjectionPercent     int           // default 10
}

// outlierDetector ejects backends; its state is guarded by the
// ClientConn's mu, the backends' counters are atomic.
type outlierDetector struct {
	cc    *ClientConn
	cfg   OutlierConfig
	timer *time.Timer // the next Interval's check; guarded by cc.mu
}

func newOutlierDetector(cc *ClientConn, cfg OutlierConfig) *outlierDetector {
	cfg.Interval = orDefault(cfg.Interval, 10*time.Second)
	cfg.ConsecutiveFailures = orDefault(cfg.ConsecutiveFailures, 5)
	cfg.SuccessRateMinRequests = orDefault(cfg.SuccessRateMinRequests, 100)
	cfg.SuccessRateMinHosts = orDefault(cfg.SuccessRateMinHosts, 5)
	cfg.SuccessRateStdevFactor = orDefault(cfg.SuccessRateStdevFactor, 1.9)
	cfg.BaseEjectionTime = orDefault(cfg.BaseEjectionTime, 30*time.Second)
	cfg.MaxEjectionTime = max(orDefault(cfg.MaxEjectionTime, 300*time.Second), cfg.BaseEjectionTime)
	cfg.MaxEjectionPercent = orDefault(cfg.MaxEjectionPercent, 10)
	d := &outlierDetector{cc: cc, cfg: cfg}
	d.timer = time.AfterFunc(cfg.Interval, d.check)
	return d
}

func (d *outlierDetector) stopLocked() { d.timer.Stop() }

// isFailure reports whether err, a call's outcome, counts against the
// backend.
func isFailure(err error) bool {
	if err == nil || err == io.EOF {
		return false
	}
	switch CodeOf(err) {
	case Unavailable, Internal, Unknown, DataLoss, DeadlineExceeded:
		return true
	}
	return false
}

// record counts a call's outcome on b and ejects b after too many failures
// in a row.
func (d *outlierDetector) record(b *Backend, err error) {
	if !isFailure(err) {
		b.succeeded.Add(1)
		b.failedInRow.Store(0)
		return
	}
	b.failed.Add(1)
	if n := b.failedInRow.Add(1); d.cfg.ConsecutiveFailures > 0 && n >= int64(d.cfg.ConsecutiveFailures) {
		d.cc.mu.Lock()
		d.ejectLocked(b)
		d.cc.mu.Unlock()
	}
}

// ejectLocked takes b out of the picks, unless the cap forbids it.
func (d *outlierDetector) ejectLocked(b *Backend) {
	cc := d.cc
	if b.ejected || b.removed || cc.closed {
		return
	}
	ejected := 0
	for _, o := range cc.backends {
		if o.ejected {
			ejected++
		}
	}
	// "If the current ejection percentage is less than
	// max_ejection_percent, eject" (A50): one more may tip it over.
	if ejected*100 >= d.cfg.MaxEjectionPercent*len(cc.backends) || ejected+1 >= len(cc.backends) {
		return
	}
	b.ejected = true
	b.ejections++
	b.failedInRow.Store(0)
	dur := min(d.cfg.BaseEjectionTime*time.Duration(b.ejections), d.cfg.MaxEjectionTime)
	b.ejectTimer = time.AfterFunc(dur, func() {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		b.ejected = false
		b.ejectTimer = nil
		cc.updateStateLocked()
	})
	cc.updateStateLocked()
}

// check runs every Interval: the success-rate ejection, and the decay of
// past ejections of backends that behaved.
func (d *outlierDetector) check() {
	cc := d.cc
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closed {
		return
	}
	type rate struct {
		b *Backend
		r float64
	}
	var rates []rate
	for _, b := range cc.backends {
		s, f := b.succeeded.Swap(0), b.failed.Swap(0)
		if !b.ejected && b.ejections > 0 && f == 0 {
			b.ejections--
		}
		if s+f >= int64(d.cfg.SuccessRateMinRequests) && !b.ejected {
			rates = append(rates, rate{b, float64(s) / float64(s+f)})
		}
	}
	if d.cfg.SuccessRateStdevFactor > 0 && len(rates) >= d.cfg.SuccessRateMinHosts {
		var sum, sq float64
		for _, r := range rates {
			sum += r.r
		}
		mean := sum / float64(len(rates))
		for _, r := range rates {
			sq += (r.r - mean) * (r.r - mean)
		}
		limit := mean - d.cfg.SuccessRateStdevFactor*math.Sqrt(sq/float64(len(rates)))
		for _, r := range rates {
			if r.r < limit {
				d.ejectLocked(r.b)
			}
		}
	}
	d.timer.Reset(d.cfg.Interval)
}
