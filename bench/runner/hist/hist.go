// Package hist is a small log-linear latency histogram in the style of
// HdrHistogram: values below 2^SubBits are counted exactly, and every
// power-of-two range above is split into 2^SubBits equal buckets, so a
// recorded value is known within 1/2^SubBits (about 3%) of itself while the
// whole int64 nanosecond range fits in a fixed array. Recording is one
// bits.Len64 and one increment: no allocation, no lock. A Histogram is not
// safe for concurrent use; give each goroutine its own and Merge them.
package hist

import (
	"math"
	"math/bits"
	"time"
)

// SubBits sets the precision: 2^SubBits linear buckets per power of two.
const SubBits = 5

const (
	sub     = 1 << SubBits
	maxBits = 42 // values at or above 2^42 ns (about 73 minutes) are clamped
	// NumBuckets is the number of buckets of a Histogram.
	NumBuckets = (maxBits - SubBits + 1) * sub
	maxValue   = 1<<maxBits - 1
)

// Histogram counts int64 values (nanoseconds, by convention) in log-linear
// buckets. The zero value is empty and ready to use.
type Histogram struct {
	counts [NumBuckets]uint64
	n      uint64
	sum    float64
	min    int64
	max    int64
}

// New returns an empty Histogram.
func New() *Histogram { return &Histogram{} }

// bucket returns the index of the bucket holding v (0 <= v <= maxValue).
func bucket(v int64) int {
	if v < sub {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - SubBits - 1
	return (shift+1)*sub + int(v>>uint(shift)) - sub
}

// bounds returns the smallest and largest value bucket i holds.
func bounds(i int) (lo, hi int64) {
	if i < sub {
		return int64(i), int64(i)
	}
	shift := i/sub - 1
	mant := int64(i%sub + sub)
	return mant << uint(shift), (mant+1)<<uint(shift) - 1
}

// Record counts one value; negative values count as 0 and values beyond the
// range as the largest.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	if v > maxValue {
		v = maxValue
	}
	h.counts[bucket(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// RecordDuration records d in nanoseconds.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Count returns the number of values recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Min and Max return the exact extremes (0 for an empty histogram).
func (h *Histogram) Min() int64 { return h.min }

// Max returns the largest value recorded.
func (h *Histogram) Max() int64 { return h.max }

// Mean returns the mean of the values recorded (0 if none).
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// Quantile returns the value at quantile q (0 <= q <= 1): the value of rank
// ceil(q×Count) in sorted order: exactly Min or Max for the first and last
// ranks, otherwise the midpoint of its bucket clamped to Min and Max, so it
// is within 1/2^(SubBits+1) of the true value.
// It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	if math.IsNaN(q) || q < 0 {
		q = 0
	}
	if q > 1 {
		q = 1
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	switch {
	case rank <= 1:
		return h.min
	case rank >= h.n:
		return h.max
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bounds(i)
			v := lo + (hi-lo)/2
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

// A Point is one step of a cumulative distribution: the fraction of values
// at or below Value.
type Point struct {
	Value    int64   `json:"ns"`
	Fraction float64 `json:"fraction"`
}

// CDF returns the cumulative distribution, one point per non-empty bucket
// (at the bucket's upper bound, clamped to Max), thinned to at most maxPoints
// points (the last point is always kept). It is nil for an empty histogram.
func (h *Histogram) CDF(maxPoints int) []Point {
	if h.n == 0 {
		return nil
	}
	var pts []Point
	var seen uint64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		seen += c
		_, hi := bounds(i)
		pts = append(pts, Point{Value: min(hi, h.max), Fraction: float64(seen) / float64(h.n)})
	}
	if maxPoints > 1 && len(pts) > maxPoints {
		thin := make([]Point, 0, maxPoints)
		step := float64(len(pts)-1) / float64(maxPoints-1)
		for k := 0; k < maxPoints-1; k++ {
			thin = append(thin, pts[int(float64(k)*step)])
		}
		pts = append(thin, pts[len(pts)-1])
	}
	return pts
}
