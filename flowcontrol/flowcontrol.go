// Package flowcontrol does the credit accounting of HTTP/2 flow control
// (RFC 9113 §5.2 and §6.9) as two small value types: SendWindow, the credit
// the peer gave us, and RecvWindow, the credit we gave the peer; BDP sizes a
// receive window by the bandwidth-delay product measured with timed PINGs.
//
// The types do no I/O, start no goroutines and take no locks: the connection
// goroutine that owns them synchronises them. A connection keeps one of each
// for itself and one of each per stream; a DATA frame is charged to both the
// stream's and the connection's window.
//
// Windows are signed 64-bit counts. A send window may go negative when the
// peer shrinks SETTINGS_INITIAL_WINDOW_SIZE (§6.9.2); no window may exceed
// 2^31-1 (§6.9.1). Breaking a rule returns an error wrapping ErrOverflow or
// ErrExceeded, never a panic; the caller maps both to FLOW_CONTROL_ERROR, as
// a stream error for a stream window and a connection error for the
// connection window.
package flowcontrol

import (
	"errors"
	"fmt"
)

// MaxWindow is the largest legal flow-control window, 2^31-1 (RFC 9113 §6.9.1).
const MaxWindow = 1<<31 - 1

// DefaultWindow is the initial window of every stream and of the connection
// until SETTINGS or WINDOW_UPDATE say otherwise (RFC 9113 §6.5.2, §6.9.2).
const DefaultWindow = 65535

// ErrOverflow means a window would exceed MaxWindow. RFC 9113 §6.9.1: "A
// sender MUST NOT allow a flow-control window to exceed 2^31-1 octets. If a
// sender receives a WINDOW_UPDATE that causes a flow-control window to exceed
// this maximum, it MUST terminate either the stream or the connection, as
// appropriate." The caller maps it to FLOW_CONTROL_ERROR.
var ErrOverflow = errors.New("flowcontrol: window exceeds 2^31-1")

// ErrExceeded means the peer sent more flow-controlled data than we
// advertised. RFC 9113 §6.9.1: "The sender MUST NOT send a flow-controlled
// frame with a length that exceeds the space available in either of the
// flow-control windows advertised by the receiver." The caller maps it to
// FLOW_CONTROL_ERROR.
var ErrExceeded = errors.New("flowcontrol: peer exceeded the advertised window")

// SendWindow is the credit the peer has given us for sending DATA on one
// stream or on the whole connection. The zero value is a window of 0; call
// Init with the peer's SETTINGS_INITIAL_WINDOW_SIZE (a stream) or
// DefaultWindow (the connection).
type SendWindow struct {
	n int64 // may be negative after a SETTINGS shrink (§6.9.2)
}

// Init sets the window to n.
func (w *SendWindow) Init(n int32) { w.n = int64(n) }

// Available returns the number of flow-controlled bytes we may send now.
// Zero or less means the sender is blocked until the peer sends
// WINDOW_UPDATE (or raises SETTINGS_INITIAL_WINDOW_SIZE).
func (w *SendWindow) Available() int64 { return w.n }

// Consume charges a DATA frame we send against the window: n is the frame's
// whole payload length, padding and pad-length byte included (§6.1: "The
// entire DATA frame payload is included in flow control, including the Pad
// Length and Padding fields if present"). The caller sends
// at most Available bytes; Consume of more drives the window negative, which
// blocks further sends but is never a panic.
func (w *SendWindow) Consume(n uint32) { w.n -= int64(n) }

// Add credits a WINDOW_UPDATE increment. If the window would exceed 2^31-1
// it returns an error wrapping ErrOverflow and leaves the window unchanged;
// the caller sends RST_STREAM (a stream window) or GOAWAY (the connection
// window) with FLOW_CONTROL_ERROR (§6.9.1). A zero increment is the frame
// reader's PROTOCOL_ERROR (§6.9) and is accepted here as a no-op.
func (w *SendWindow) Add(delta uint32) error {
	if w.n+int64(delta) > MaxWindow {
		return fmt.Errorf("%w: window %d + increment %d", ErrOverflow, w.n, delta)
	}
	w.n += int64(delta)
	return nil
}

// Adjust applies a change of the peer's SETTINGS_INITIAL_WINDOW_SIZE to a
// stream's send window: delta is the new value minus the old. RFC 9113
// §6.9.2: "a change to SETTINGS_INITIAL_WINDOW_SIZE can cause the available
// space in a flow-control window to become negative"; "An endpoint MUST treat
// a change to SETTINGS_INITIAL_WINDOW_SIZE that causes any flow-control window
// to exceed the maximum size as a connection error of type
// FLOW_CONTROL_ERROR." On such an overflow Adjust returns an error wrapping
// ErrOverflow and leaves the window unchanged. The connection window is never
// adjusted by SETTINGS.
func (w *SendWindow) Adjust(delta int64) error {
	// Settings values are at most 2^31-1 apart; anything larger is a caller
	// bug that must not wrap the int64.
	if delta > MaxWindow || delta < -MaxWindow || w.n+delta > MaxWindow {
		return fmt.Errorf("%w: window %d adjusted by %d", ErrOverflow, w.n, delta)
	}
	w.n += delta
	return nil
}
