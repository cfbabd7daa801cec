package hist

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// reference returns the value of rank ceil(q×n) of sorted.
func reference(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func TestQuantileAgainstSortedSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() int64{
		"uniform-small": func() int64 { return rng.Int64N(100) },
		"uniform-wide":  func() int64 { return rng.Int64N(1e9) },
		"lognormal":     func() int64 { return int64(math.Exp(rng.NormFloat64()*1.5 + 11)) },
		"bimodal": func() int64 {
			if rng.IntN(100) == 0 {
				return 5e6 + rng.Int64N(1e6)
			}
			return 20e3 + rng.Int64N(5e3)
		},
	}
	qs := []float64{0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			var h Histogram
			vals := make([]int64, 100_000)
			for i := range vals {
				vals[i] = gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			for _, q := range qs {
				want := reference(vals, q)
				got := h.Quantile(q)
				tol := float64(want)/float64(sub) + 1
				if math.Abs(float64(got-want)) > tol {
					t.Errorf("Quantile(%v) = %d, sorted reference %d (tolerance %.0f)", q, got, want, tol)
				}
			}
			if h.Min() != vals[0] || h.Max() != vals[len(vals)-1] {
				t.Errorf("Min, Max = %d, %d; want %d, %d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
			}
			if h.Count() != uint64(len(vals)) {
				t.Errorf("Count = %d, want %d", h.Count(), len(vals))
			}
		})
	}
}

func TestBucketsContiguous(t *testing.T) {
	prevHi := int64(-1)
	for i := 0; i < NumBuckets; i++ {
		lo, hi := bounds(i)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d = [%d, %d], previous ended at %d", i, lo, hi, prevHi)
		}
		if bucket(lo) != i || bucket(hi) != i {
			t.Fatalf("bucket(%d) = %d, bucket(%d) = %d, want %d", lo, bucket(lo), hi, bucket(hi), i)
		}
		if lo >= sub && float64(hi-lo+1)/float64(lo) > 1.0/sub+1e-12 {
			t.Fatalf("bucket %d = [%d, %d] wider than 1/%d of its start", i, lo, hi, sub)
		}
		prevHi = hi
	}
	if prevHi != maxValue {
		t.Fatalf("last bucket ends at %d, want %d", prevHi, int64(maxValue))
	}
}

func TestEdges(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.CDF(10) != nil || h.Mean() != 0 {
		t.Fatal("empty histogram: want zero quantile, nil CDF, zero mean")
	}
	h.Record(-5)
	h.Record(math.MaxInt64)
	if h.Min() != 0 || h.Max() != maxValue {
		t.Fatalf("Min, Max = %d, %d; want 0, %d", h.Min(), h.Max(), int64(maxValue))
	}
	if got := h.Quantile(math.NaN()); got != 0 {
		t.Errorf("Quantile(NaN) = %d, want 0", got)
	}
	if got := h.Quantile(2); got != maxValue {
		t.Errorf("Quantile(2) = %d, want %d", got, int64(maxValue))
	}
}

func TestMergeAndCDF(t *testing.T) {
	var a, b, all Histogram
	for i := int64(1); i <= 10_000; i++ {
		if i%3 == 0 {
			a.Record(i * 100)
		} else {
			b.Record(i * 100)
		}
		all.Record(i * 100)
	}
	a.Merge(&b)
	if a.counts != all.counts || a.Count() != all.Count() || a.Min() != all.Min() || a.Max() != all.Max() {
		t.Fatal("merged histogram differs from one fed all values")
	}
	cdf := a.CDF(50)
	if len(cdf) != 50 {
		t.Fatalf("CDF has %d points, want 50", len(cdf))
	}
	for i := 1; i < len(cdf); i++ {
		if cdf[i].Value <= cdf[i-1].Value || cdf[i].Fraction < cdf[i-1].Fraction {
			t.Fatalf("CDF not increasing at %d: %v then %v", i, cdf[i-1], cdf[i])
		}
	}
	if last := cdf[len(cdf)-1]; last.Fraction != 1 || last.Value != a.Max() {
		t.Fatalf("last CDF point %v, want fraction 1 at %d", last, a.Max())
	}
}

func BenchmarkRecord(b *testing.B) {
	var h Histogram
	v := int64(12345)
	for b.Loop() {
		h.Record(v)
		v = v*7 + 13&0xffffff
	}
}
