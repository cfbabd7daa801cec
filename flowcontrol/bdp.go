package flowcontrol

import "time"

// BDP sizes a connection's receive window by the bandwidth-delay product it
// measures (RFC 9113 §6.9: a receiver may advertise any window it can
// buffer). The window starts small and grows, never shrinks, up to a cap.
//
// A sample is a timed PING: the connection sends one while DATA arrives
// (Received says when), counts the DATA that arrives until the PING's
// acknowledgement, and then calls Acked with the round trip. The bytes of a
// sample scaled by the least round trip seen over this one's (so that bytes
// that only waited in a queue, which a larger window would not speed up, do
// not count) are what the link carried in one round trip. When that is at
// least two thirds of the window, the window limited the transfer: it grows
// to twice the sample, capped. A sample starts only after a quarter of the
// window's worth of DATA arrived since the last one ended, and each sample
// that does not grow the window doubles that gap, up to 16 windows (growth
// resets it): a connection that carries little data sends few PINGs, one
// whose window already fits its link (a local one) soon sends one per 16
// windows of DATA, and none once the window reached the cap.
//
// One sample is outstanding at a time; a peer that never acknowledges stops
// the growth and nothing else. The zero value never asks for a PING; call
// Init.
type BDP struct {
	window, max int64
	idle        int64 // DATA bytes since the last sample ended
	misses      uint  // samples in a row that did not grow the window
	sample      int64 // DATA bytes since the sample's PING was sent
	pinging     bool
	sent        time.Time
	minRTT      time.Duration
}

// maxMisses bounds the gap between samples at a quarter window << maxMisses.
const maxMisses = 6

// Init starts the estimator with the window the peer was given and the
// most it may grow to.
func (b *BDP) Init(window, max uint32) {
	*b = BDP{window: int64(window), max: int64(max)}
}

// Received counts n bytes of DATA and reports whether to start a sample
// now: then the caller sends the PING and calls Sent.
func (b *BDP) Received(n uint32) (ping bool) {
	if b.pinging {
		b.sample += int64(n)
		return false
	}
	if b.window >= b.max {
		return false
	}
	b.idle += int64(n)
	return b.idle >= b.window/4<<b.misses
}

// Sent records that the sample's PING was sent at now.
func (b *BDP) Sent(now time.Time) {
	b.pinging, b.sent, b.sample, b.idle = true, now, 0, 0
}

// Pinging reports whether a sample's PING awaits its acknowledgement.
func (b *BDP) Pinging() bool { return b.pinging }

// Acked ends the sample with the PING's acknowledgement at now and returns
// the window to grow to, or 0 to keep it.
func (b *BDP) Acked(now time.Time) (window uint32) {
	if !b.pinging {
		return 0
	}
	b.pinging = false
	rtt := max(now.Sub(b.sent), time.Microsecond)
	if b.minRTT == 0 || rtt < b.minRTT {
		b.minRTT = rtt
	}
	carried := b.sample * int64(b.minRTT) / int64(rtt)
	if b.window >= b.max || 3*carried < 2*b.window {
		b.misses = min(b.misses+1, maxMisses)
		return 0
	}
	b.misses = 0
	b.window = min(b.max, max(2*carried, b.window))
	return uint32(b.window)
}
