package flowcontrol

import "fmt"

// RecvWindow is the credit we advertise to the peer for one stream or for the
// whole connection, and the bookkeeping that decides when to send
// WINDOW_UPDATE.
//
// Every byte of credit is in exactly one of three places, and the three add
// up to Size:
//
//   - advertised: the peer may still send it (Advertised);
//   - buffered: it arrived but the application has not consumed it yet
//     (Buffered);
//   - pending: the application consumed it (or it was released) but we have
//     not yet returned it to the peer in a WINDOW_UPDATE (Pending).
//
// Receive moves credit from advertised to buffered; Consume moves it from
// buffered to pending and, once pending reaches the threshold, returns it all
// as one WINDOW_UPDATE increment, moving it back to advertised. Credit is
// returned when the application consumes data, not when it arrives: that is
// what lets a slow reader slow the writer. Batching up to the threshold keeps
// a fast reader from causing one WINDOW_UPDATE per DATA frame.
//
// The zero value advertises nothing; call Init.
type RecvWindow struct {
	size       int64 // the window we want the peer to see when nothing is buffered
	advertised int64 // credit the peer still has
	buffered   int64 // received, not yet consumed
	pending    int64 // consumed or released, not yet announced; negative after a shrink
	threshold  int64 // announce pending once it reaches this
	wanted     int64 // the threshold setThreshold asked for; 0: a quarter of size
}

// Init sets the window to n, which the peer already knows about: the
// SETTINGS_INITIAL_WINDOW_SIZE we sent (a stream) or DefaultWindow (the
// connection; grow it with Resize). The batching threshold is a quarter of
// the window (at least 1) and follows the window through Resize and Adjust,
// until setThreshold fixes it. A negative n is taken as 0.
func (w *RecvWindow) Init(n int32) {
	if n < 0 {
		n = 0
	}
	*w = RecvWindow{size: int64(n), advertised: int64(n)}
	w.updateThreshold()
}

// setThreshold fixes how much consumed credit is batched before Consume
// returns a WINDOW_UPDATE increment. 0 is taken as 1 (announce every
// consumed byte at once). A threshold above the window would make the peer
// wait longer than it must, so it is capped at Size (and at least 1), now
// and after every resize. Only tests call it: conn keeps the default, a
// quarter of the window, so it stays unexported until a caller needs it.
func (w *RecvWindow) setThreshold(t uint32) {
	w.wanted = max(1, int64(t))
	w.updateThreshold()
}

// updateThreshold derives the threshold from the size (a quarter) unless
// setThreshold fixed it, and keeps it within 1..Size.
func (w *RecvWindow) updateThreshold() {
	t := w.wanted
	if t == 0 {
		t = w.size / 4
	}
	w.threshold = max(1, min(t, w.size))
}

// Receive charges an arriving DATA frame against the window: n is the
// frame's whole payload length, padding and the pad-length byte included
// (§6.1). If the peer sent more than it was allowed, Receive returns an
// error wrapping ErrExceeded and leaves the window unchanged; the caller
// answers with FLOW_CONTROL_ERROR.
func (w *RecvWindow) Receive(n uint32) error {
	if int64(n) > w.advertised {
		return fmt.Errorf("%w: received %d bytes, window %d", ErrExceeded, n, w.advertised)
	}
	w.advertised -= int64(n)
	w.buffered += int64(n)
	return nil
}

// Consume records that the application consumed n received bytes. It
// returns the WINDOW_UPDATE increment to send now, or 0 to wait for more.
// Consuming more than is buffered is a caller bug; the excess is ignored so
// that the credit invariant holds.
func (w *RecvWindow) Consume(n uint32) (increment uint32) {
	c := min(int64(n), w.buffered)
	w.buffered -= c
	w.pending += c
	if w.pending < w.threshold {
		return 0
	}
	return w.announce()
}

// release returns n received bytes that the application will never see
// (padding, or DATA for a stream that was reset or closed) and returns the
// increment to send now: all pending credit, without waiting for the
// threshold. A peer can make us send one WINDOW_UPDATE per padded frame it
// sends, no more. Releasing more than is buffered is a caller bug; the excess
// is ignored. Only tests call it: conn counts discarded bytes with Consume,
// batched like the rest, so a peer's padding cannot make it send a
// WINDOW_UPDATE per frame; it stays unexported until a caller needs it.
func (w *RecvWindow) release(n uint32) (increment uint32) {
	c := min(int64(n), w.buffered)
	w.buffered -= c
	w.pending += c
	return w.announce()
}

// Resize changes the window we want the peer to see to n and returns the
// WINDOW_UPDATE increment to send now (0 for none). Growing announces the
// extra credit at once (and any pending credit with it); this is how a
// connection window grows beyond its fixed initial 65535 (§6.9.2: "the
// connection flow-control window can only be changed using WINDOW_UPDATE
// frames"). Shrinking cannot take credit back: the difference is withheld
// from future increments until the window has drained to the new size. A
// negative n is taken as 0.
func (w *RecvWindow) Resize(n int32) (increment uint32) {
	if n < 0 {
		n = 0
	}
	delta := int64(n) - w.size
	w.size = int64(n)
	w.pending += delta
	w.updateThreshold()
	if delta <= 0 {
		return 0
	}
	return w.announce()
}

// Adjust applies a change of our own SETTINGS_INITIAL_WINDOW_SIZE to a
// stream's receive window once the peer acknowledged it: the peer adjusts
// its send window by delta without any WINDOW_UPDATE (§6.9.2), so we adjust
// both the size and the advertised credit, which may go negative. It returns
// an error wrapping ErrOverflow, leaving the window unchanged, if the size
// would leave 0..2^31-1.
func (w *RecvWindow) Adjust(delta int64) error {
	if delta > MaxWindow || delta < -MaxWindow || w.size+delta > MaxWindow || w.size+delta < 0 || w.advertised+delta > MaxWindow {
		return fmt.Errorf("%w: window size %d adjusted by %d", ErrOverflow, w.size, delta)
	}
	w.size += delta
	w.advertised += delta
	w.updateThreshold()
	return nil
}

// announce moves all positive pending credit to advertised and returns it.
func (w *RecvWindow) announce() uint32 {
	if w.pending <= 0 {
		return 0
	}
	inc := w.pending
	w.pending = 0
	w.advertised += inc
	return uint32(inc)
}

// Size returns the window we want the peer to see when nothing is buffered.
func (w *RecvWindow) Size() int64 { return w.size }

// Advertised returns the credit the peer still has: how many more bytes it
// may send before we announce more.
func (w *RecvWindow) Advertised() int64 { return w.advertised }

// Buffered returns the bytes received and not yet consumed or released.
func (w *RecvWindow) Buffered() int64 { return w.buffered }

// Pending returns the consumed credit not yet announced; it is negative
// while a shrink is being paid off.
func (w *RecvWindow) Pending() int64 { return w.pending }

// Threshold returns the batching threshold.
func (w *RecvWindow) Threshold() int64 { return w.threshold }
