package flowcontrol

import (
	"testing"
	"time"
)

// sample runs one sample: DATA of n bytes arrives until a PING is asked
// for, then got bytes arrive during a round trip of rtt.
func sample(t *testing.T, b *BDP, now *time.Time, got int64, rtt time.Duration) uint32 {
	t.Helper()
	for i := 0; !b.Received(1 << 10); i++ {
		if i > 1<<20 {
			t.Fatal("no PING asked for")
		}
	}
	b.Sent(*now)
	if !b.Pinging() {
		t.Fatal("not pinging after Sent")
	}
	for ; got > 0; got -= 1 << 10 {
		if b.Received(1 << 10) {
			t.Fatal("a second PING asked for while one is out")
		}
	}
	*now = now.Add(rtt)
	return b.Acked(*now)
}

func TestBDPGrowsToTwiceTheSampleCapped(t *testing.T) {
	var b BDP
	b.Init(256<<10, 1<<20)
	now := time.Unix(0, 0)
	// The link carried the whole window in a round trip: grow to twice it.
	if w := sample(t, &b, &now, 256<<10, 10*time.Millisecond); w != 512<<10 {
		t.Fatalf("window %d, want %d", w, 512<<10)
	}
	// Less than two thirds of the window: keep it.
	if w := sample(t, &b, &now, 300<<10, 10*time.Millisecond); w != 0 {
		t.Fatalf("window %d after a small sample, want 0 (unchanged)", w)
	}
	// The cap holds.
	if w := sample(t, &b, &now, 900<<10, 10*time.Millisecond); w != 1<<20 {
		t.Fatalf("window %d, want the cap %d", w, 1<<20)
	}
	// At the cap no PING is asked for.
	for range 1 << 12 {
		if b.Received(16 << 10) {
			t.Fatal("PING asked for at the cap")
		}
	}
}

// Bytes that arrive over a round trip inflated by queueing (the window, not
// the link, sets it: a local link) do not count as carried by the link.
func TestBDPQueuedRoundTripDoesNotGrow(t *testing.T) {
	var b BDP
	b.Init(256<<10, 1<<20)
	now := time.Unix(0, 0)
	if w := sample(t, &b, &now, 10<<10, 50*time.Microsecond); w != 0 {
		t.Fatalf("window %d, want 0", w)
	}
	// The whole window in a round trip eight times the least seen.
	if w := sample(t, &b, &now, 256<<10, 400*time.Microsecond); w != 0 {
		t.Fatalf("window %d from a queued sample, want 0", w)
	}
}

func TestBDPIdleConnectionPingsRarely(t *testing.T) {
	var b BDP
	b.Init(256<<10, 1<<20)
	pings := 0
	for range 1 << 14 { // 16 Ki frames of 16 B: 256 KiB
		if b.Received(16) {
			pings++
			b.Sent(time.Unix(0, 0))
			b.Acked(time.Unix(0, 1000))
		}
	}
	// No sample grows the window, so the gaps double: samples after 64
	// and 192 KiB, then 448 KiB.
	if pings != 2 {
		t.Fatalf("%d PINGs for 256 KiB of DATA, want 2", pings)
	}
	for range 1 << 18 { // 4 MiB more
		if b.Received(16) {
			pings++
			b.Sent(time.Unix(0, 0))
			b.Acked(time.Unix(0, 1000))
		}
	}
	// At 448, 960, 1984 and 4032 KiB.
	if pings != 6 {
		t.Fatalf("%d PINGs after 4.25 MiB, want 6", pings)
	}
}

func TestBDPZeroAndStrayAck(t *testing.T) {
	var b BDP
	if b.Received(1 << 20) {
		t.Fatal("the zero value asked for a PING")
	}
	b.Init(256<<10, 1<<20)
	if w := b.Acked(time.Now()); w != 0 {
		t.Fatalf("an ACK with no PING out grew the window to %d", w)
	}
}
