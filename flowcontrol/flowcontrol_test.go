package flowcontrol

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestSendWindowAddBoundaries(t *testing.T) {
	tests := []struct {
		name    string
		init    int32
		delta   uint32
		want    int64
		wantErr bool
	}{
		{"zero plus default", 0, DefaultWindow, DefaultWindow, false},
		{"to exactly 2^31-1", 0, MaxWindow, MaxWindow, false},
		{"one past 2^31-1", 1, MaxWindow, 1, true},
		{"default to max", DefaultWindow, MaxWindow - DefaultWindow, MaxWindow, false},
		{"default one past max", DefaultWindow, MaxWindow - DefaultWindow + 1, DefaultWindow, true},
		{"max plus one", MaxWindow, 1, MaxWindow, true},
		{"max plus zero", MaxWindow, 0, MaxWindow, false},
		{"huge increment", 0, 1<<32 - 1, 0, true},
		{"negative recovers", -100, 150, 50, false},
		{"negative to max", -100, MaxWindow, MaxWindow - 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w SendWindow
			w.Init(tt.init)
			err := w.Add(tt.delta)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Add(%d) error = %v, want error %v", tt.delta, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrOverflow) {
				t.Errorf("Add error %v does not wrap ErrOverflow", err)
			}
			if got := w.Available(); got != tt.want {
				t.Errorf("Available() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestSendWindowConsume(t *testing.T) {
	var w SendWindow
	w.Init(DefaultWindow)
	w.Consume(16384)
	if got, want := w.Available(), int64(DefaultWindow-16384); got != want {
		t.Fatalf("after Consume(16384): %d, want %d", got, want)
	}
	w.Consume(DefaultWindow - 16384)
	if got := w.Available(); got != 0 {
		t.Fatalf("fully consumed window: %d, want 0 (blocked)", got)
	}
	// Overspending is a caller bug; it blocks, never panics.
	w.Consume(10)
	if got := w.Available(); got != -10 {
		t.Fatalf("overspent window: %d, want -10", got)
	}
	if err := w.Add(20); err != nil {
		t.Fatal(err)
	}
	if got := w.Available(); got != 10 {
		t.Fatalf("after Add(20): %d, want 10", got)
	}
}

// TestSendWindowShrinkNegativeThenRecover walks RFC 9113 §6.9.2's example: a
// SETTINGS shrink drives an in-use window negative; the sender waits for
// WINDOW_UPDATEs to bring it back above zero.
func TestSendWindowShrinkNegativeThenRecover(t *testing.T) {
	var w SendWindow
	w.Init(DefaultWindow)
	w.Consume(60000) // 5535 left
	// Peer lowers SETTINGS_INITIAL_WINDOW_SIZE from 65535 to 16384.
	if err := w.Adjust(16384 - DefaultWindow); err != nil {
		t.Fatal(err)
	}
	if got, want := w.Available(), int64(5535+16384-DefaultWindow); got != want || got >= 0 {
		t.Fatalf("after shrink: %d, want %d (negative)", got, want)
	}
	if err := w.Add(40000); err != nil {
		t.Fatal(err)
	}
	if got := w.Available(); got != -3616 {
		t.Fatalf("after partial recovery: %d, want -3616 (still blocked)", got)
	}
	if err := w.Add(10000); err != nil {
		t.Fatal(err)
	}
	if got := w.Available(); got != 6384 {
		t.Fatalf("after recovery: %d", got)
	}
	if w.Available() <= 0 {
		t.Fatalf("window still blocked after recovery: %d", w.Available())
	}
}

func TestSendWindowAdjustBoundaries(t *testing.T) {
	tests := []struct {
		name    string
		init    int32
		delta   int64
		want    int64
		wantErr bool
	}{
		{"grow to exactly max", DefaultWindow, MaxWindow - DefaultWindow, MaxWindow, false},
		{"grow one past max", DefaultWindow, MaxWindow - DefaultWindow + 1, DefaultWindow, true},
		{"shrink to zero", DefaultWindow, -DefaultWindow, 0, false},
		{"shrink to most negative", 0, -MaxWindow, -MaxWindow, false},
		{"delta too large", 0, MaxWindow + 1, 0, true},
		{"delta too small", 0, -MaxWindow - 1, 0, true},
		{"int64 extremes", 0, -1 << 63, 0, true},
		{"zero", 5, 0, 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w SendWindow
			w.Init(tt.init)
			err := w.Adjust(tt.delta)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Adjust(%d) error = %v, want error %v", tt.delta, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrOverflow) {
				t.Errorf("Adjust error %v does not wrap ErrOverflow", err)
			}
			if got := w.Available(); got != tt.want {
				t.Errorf("Available() = %d, want %d", got, tt.want)
			}
		})
	}
}

// checkRecv asserts the credit invariant of RecvWindow.
func checkRecv(t *testing.T, w *RecvWindow) {
	t.Helper()
	if sum := w.Advertised() + w.Buffered() + w.Pending(); sum != w.Size() {
		t.Fatalf("advertised %d + buffered %d + pending %d = %d, want size %d",
			w.Advertised(), w.Buffered(), w.Pending(), sum, w.Size())
	}
	if w.Buffered() < 0 || w.Size() < 0 || w.Size() > MaxWindow || w.Advertised() > MaxWindow {
		t.Fatalf("out of range: %+v", *w)
	}
}

func TestRecvWindowReceiveBoundaries(t *testing.T) {
	var w RecvWindow
	w.Init(DefaultWindow)
	if err := w.Receive(DefaultWindow - 1); err != nil {
		t.Fatal(err)
	}
	if err := w.Receive(2); !errors.Is(err, ErrExceeded) {
		t.Fatalf("Receive past the window: err = %v, want ErrExceeded", err)
	}
	if got := w.Advertised(); got != 1 {
		t.Fatalf("rejected Receive changed the window: %d, want 1", got)
	}
	if err := w.Receive(1); err != nil {
		t.Fatalf("Receive of exactly the rest: %v", err)
	}
	if err := w.Receive(0); err != nil {
		t.Fatalf("Receive(0) on a full window: %v", err)
	}
	if err := w.Receive(1); !errors.Is(err, ErrExceeded) {
		t.Fatalf("Receive(1) on a zero window: err = %v", err)
	}
	checkRecv(t, &w)

	var big RecvWindow
	big.Init(MaxWindow)
	if err := big.Receive(MaxWindow); err != nil {
		t.Fatalf("Receive(2^31-1) on a 2^31-1 window: %v", err)
	}
	if err := big.Receive(1<<32 - 1); !errors.Is(err, ErrExceeded) {
		t.Fatalf("Receive(2^32-1): %v", err)
	}
	checkRecv(t, &big)
}

func TestRecvWindowBatching(t *testing.T) {
	var w RecvWindow
	w.Init(DefaultWindow) // threshold 16383
	if got := w.Threshold(); got != DefaultWindow/4 {
		t.Fatalf("default threshold %d, want %d", got, DefaultWindow/4)
	}
	if err := w.Receive(30000); err != nil {
		t.Fatal(err)
	}
	// Arrival alone never returns credit: only consumption does.
	if w.Advertised() != DefaultWindow-30000 || w.Pending() != 0 {
		t.Fatalf("after Receive: %+v", w)
	}
	if inc := w.Consume(10000); inc != 0 {
		t.Fatalf("Consume below threshold returned %d, want 0", inc)
	}
	if inc := w.Consume(6382); inc != 0 {
		t.Fatalf("Consume to threshold-1 returned %d, want 0", inc)
	}
	if inc := w.Consume(1); inc != 16383 {
		t.Fatalf("Consume reaching threshold returned %d, want 16383", inc)
	}
	if w.Pending() != 0 || w.Advertised() != DefaultWindow-30000+16383 {
		t.Fatalf("after announce: %+v", w)
	}
	checkRecv(t, &w)
	// Consuming more than buffered is clamped; the rest stays below the
	// threshold until something flushes it.
	if inc := w.Consume(1 << 30); inc != 0 {
		t.Fatalf("over-consume returned %d, want 0", inc)
	}
	if w.Buffered() != 0 || w.Pending() != 30000-16383 {
		t.Fatalf("after over-consume: %+v", w)
	}
	if inc := w.release(0); inc != 30000-16383 {
		t.Fatalf("release(0) flushed %d, want %d", inc, 30000-16383)
	}
	if w.Advertised() != DefaultWindow || w.Buffered() != 0 {
		t.Fatalf("after draining: %+v", w)
	}
	checkRecv(t, &w)
}

func TestRecvWindowSetThreshold(t *testing.T) {
	var w RecvWindow
	w.Init(100)
	for _, tt := range []struct{ set, want uint32 }{{0, 1}, {1, 1}, {50, 50}, {100, 100}, {101, 100}, {1<<32 - 1, 100}} {
		w.setThreshold(tt.set)
		if got := w.Threshold(); got != int64(tt.want) {
			t.Errorf("setThreshold(%d): %d, want %d", tt.set, got, tt.want)
		}
	}
	w.setThreshold(1)
	if err := w.Receive(3); err != nil {
		t.Fatal(err)
	}
	if inc := w.Consume(1); inc != 1 {
		t.Fatalf("threshold 1: Consume(1) = %d", inc)
	}
	var zero RecvWindow
	zero.Init(-5)
	if zero.Size() != 0 || zero.Threshold() != 1 {
		t.Fatalf("Init(-5): %+v", zero)
	}
}

func TestRecvWindowRelease(t *testing.T) {
	var w RecvWindow
	w.Init(DefaultWindow)
	if err := w.Receive(1000); err != nil {
		t.Fatal(err)
	}
	if inc := w.Consume(100); inc != 0 {
		t.Fatalf("Consume(100) = %d", inc)
	}
	// Padding is returned at once, carrying the pending 100 with it.
	if inc := w.release(10); inc != 110 {
		t.Fatalf("release(10) = %d, want 110", inc)
	}
	if inc := w.release(0); inc != 0 {
		t.Fatalf("release(0) with nothing pending = %d", inc)
	}
	if inc := w.release(5000); inc != 890 {
		t.Fatalf("over-release = %d, want 890 (clamped)", inc)
	}
	if w.Advertised() != DefaultWindow {
		t.Fatalf("%+v", w)
	}
	checkRecv(t, &w)
}

func TestRecvWindowResize(t *testing.T) {
	var w RecvWindow
	w.Init(DefaultWindow)
	// The connection window grows past its fixed initial size by WINDOW_UPDATE.
	if inc := w.Resize(1 << 20); inc != 1<<20-DefaultWindow {
		t.Fatalf("grow: increment %d, want %d", inc, 1<<20-DefaultWindow)
	}
	// The derived threshold follows the window.
	if w.Advertised() != 1<<20 || w.Threshold() != 1<<18 {
		t.Fatalf("after grow: %+v", w)
	}
	checkRecv(t, &w)
	if inc := w.Resize(MaxWindow); inc != MaxWindow-1<<20 {
		t.Fatalf("grow to max: %d", inc)
	}
	checkRecv(t, &w)

	// A fixed threshold stays fixed, capped at the size.
	w.setThreshold(5000)
	w.Resize(1000)
	if w.Threshold() != 1000 {
		t.Fatalf("fixed threshold after shrink: %d, want 1000 (capped)", w.Threshold())
	}
	w.Resize(1 << 20)
	if w.Threshold() != 5000 {
		t.Fatalf("fixed threshold after grow: %d, want 5000", w.Threshold())
	}

	// Shrink while data is buffered: credit is withheld until paid off.
	w.Init(1000)
	if err := w.Receive(800); err != nil {
		t.Fatal(err)
	}
	if inc := w.Resize(400); inc != 0 {
		t.Fatalf("shrink returned %d", inc)
	}
	checkRecv(t, &w)
	if w.Pending() != -600 {
		t.Fatalf("pending after shrink %d, want -600", w.Pending())
	}
	if inc := w.Consume(600); inc != 0 {
		t.Fatalf("consume while paying off returned %d", inc)
	}
	// Now 200 advertised + 200 buffered == 400; consuming the rest makes it
	// pending (at the threshold of 100, a quarter of 400) and returns it.
	w.setThreshold(250)
	if inc := w.Consume(200); inc != 0 || w.Pending() != 200 {
		t.Fatalf("after payoff Consume(200) = %d, pending %d", inc, w.Pending())
	}
	if inc := w.release(0); inc != 200 {
		t.Fatalf("flush = %d, want 200", inc)
	}
	if w.Advertised() != 400 {
		t.Fatalf("advertised %d, want 400", w.Advertised())
	}
	checkRecv(t, &w)
	if inc := w.Resize(-1); inc != 0 || w.Size() != 0 {
		t.Fatalf("Resize(-1): %d %+v", inc, w)
	}
	checkRecv(t, &w)
}

func TestRecvWindowAdjust(t *testing.T) {
	var w RecvWindow
	w.Init(DefaultWindow)
	if err := w.Receive(60000); err != nil {
		t.Fatal(err)
	}
	// Our SETTINGS_INITIAL_WINDOW_SIZE went 65535 → 16384: the peer's window is
	// now negative and any DATA exceeds it.
	if err := w.Adjust(16384 - DefaultWindow); err != nil {
		t.Fatal(err)
	}
	if w.Advertised() >= 0 {
		t.Fatalf("advertised %d, want negative", w.Advertised())
	}
	if err := w.Receive(1); !errors.Is(err, ErrExceeded) {
		t.Fatalf("Receive on a negative window: %v", err)
	}
	checkRecv(t, &w)
	if err := w.Adjust(MaxWindow); !errors.Is(err, ErrOverflow) {
		t.Fatalf("Adjust past max: %v", err)
	}
	if err := w.Adjust(-20000); !errors.Is(err, ErrOverflow) {
		t.Fatalf("Adjust below zero size: %v", err)
	}
	if err := w.Adjust(MaxWindow - 16384); err != nil {
		t.Fatalf("Adjust to exactly max: %v", err)
	}
	checkRecv(t, &w)
}

// TestRandomOperations drives both windows with random operations and checks
// that nothing panics and the invariants hold after every step.
func TestRandomOperations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		runRandom(t, r, 500)
	}
}

func FuzzOperations(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		runRandom(t, rand.New(rand.NewPCG(a, b)), 300)
	})
}

func randAmount(r *rand.Rand) uint32 {
	switch r.IntN(4) {
	case 0:
		return r.Uint32()
	case 1:
		return uint32(MaxWindow - r.IntN(3))
	default:
		return uint32(r.IntN(20000))
	}
}

func runRandom(t *testing.T, r *rand.Rand, steps int) {
	t.Helper()
	var rw RecvWindow
	rw.Init(int32(r.Uint32() >> 1))
	var sw SendWindow
	sw.Init(int32(r.Uint32() >> 1))
	var received, consumed int64
	for range steps {
		n := randAmount(r)
		switch r.IntN(8) {
		case 0:
			if err := rw.Receive(n); err == nil {
				received += int64(n)
			} else if !errors.Is(err, ErrExceeded) {
				t.Fatalf("Receive: %v", err)
			}
		case 1:
			before := rw.Buffered()
			rw.Consume(n)
			consumed += before - rw.Buffered()
		case 2:
			before := rw.Buffered()
			rw.release(n)
			consumed += before - rw.Buffered()
		case 3:
			rw.Resize(int32(r.Uint32()))
		case 4:
			if err := rw.Adjust(r.Int64N(1<<33) - 1<<32); err != nil && !errors.Is(err, ErrOverflow) {
				t.Fatalf("RecvWindow.Adjust: %v", err)
			}
		case 5:
			before := sw.Available()
			if err := sw.Add(n); err != nil {
				if !errors.Is(err, ErrOverflow) || sw.Available() != before {
					t.Fatalf("SendWindow.Add: %v, window %d → %d", err, before, sw.Available())
				}
			}
		case 6:
			if a := sw.Available(); a > 0 {
				sw.Consume(uint32(min(int64(n), a)))
			}
		case 7:
			before := sw.Available()
			if err := sw.Adjust(r.Int64N(1<<33) - 1<<32); err != nil && sw.Available() != before {
				t.Fatalf("SendWindow.Adjust changed the window on error")
			}
		}
		checkRecv(t, &rw)
		// Received-but-unconsumed never exceeds what was advertised.
		if received-consumed != rw.Buffered() {
			t.Fatalf("received %d - consumed %d != buffered %d", received, consumed, rw.Buffered())
		}
		if sw.Available() > MaxWindow {
			t.Fatalf("send window %d exceeds 2^31-1", sw.Available())
		}
	}
}

// TestHotPathDoesNotAllocate: the per-frame calls cost no allocation.
func TestHotPathDoesNotAllocate(t *testing.T) {
	var rw RecvWindow
	rw.Init(DefaultWindow)
	var sw SendWindow
	sw.Init(DefaultWindow)
	allocs := testing.AllocsPerRun(1000, func() {
		sw.Consume(16384)
		if err := rw.Receive(16384); err != nil {
			t.Fatal(err)
		}
		if err := sw.Add(rw.Consume(16384)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
}

// BenchmarkFrame is one DATA frame's accounting on both sides: a send
// charge, a receive charge, a consume and (every fourth frame) an increment
// credited back.
func BenchmarkFrame(b *testing.B) {
	var rw RecvWindow
	rw.Init(DefaultWindow)
	var sw SendWindow
	sw.Init(DefaultWindow)
	b.ReportAllocs()
	for b.Loop() {
		sw.Consume(16384)
		if err := rw.Receive(16384); err != nil {
			b.Fatal(err)
		}
		if err := sw.Add(rw.Consume(16384)); err != nil {
			b.Fatal(err)
		}
	}
}
