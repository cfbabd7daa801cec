// Package stream holds what HTTP/2 knows about one stream apart from the
// connection: the RFC 9113 §5.1 state machine (State), stream identifier
// rules (§5.1.1: IDAllocator, PeerIDs) and the receive buffer bounded by the
// stream's flow-control window (RecvBuffer).
//
// Nothing here does I/O, starts goroutines or takes locks: the connection
// goroutine that owns a stream synchronises it.
package stream

import (
	"errors"
	"fmt"

	"github.com/h2rpc/h2rpc/frame"
)

// State is a stream state of RFC 9113 §5.1:
//
//	                         +--------+
//	                 send PP |        | recv PP
//	                ,--------+  idle  +--------.
//	               /         |        |         \
//	              v          +--------+          v
//	       +----------+          |           +----------+
//	       |          |          | send H /  |          |
//	,------+ reserved |          | recv H    | reserved +------.
//	|      | (local)  |          |           | (remote) |      |
//	|      +---+------+          v           +------+---+      |
//	|          |             +--------+             |          |
//	|          |     recv ES |        | send ES     |          |
//	|   send H |     ,-------+  open  +-------.     | recv H   |
//	|          |    /        |        |        \    |          |
//	|          v   v         +---+----+         v   v          |
//	|      +----------+          |           +----------+      |
//	|      |   half-  |          |           |   half-  |      |
//	|      |  closed  |          | send R /  |  closed  |      |
//	|      | (remote) |          | recv R    | (local)  |      |
//	|      +----+-----+          |           +-----+----+      |
//	|           |                |                 |           |
//	|           | send ES /      |       recv ES / |           |
//	|           |  send R /      v        send R / |           |
//	|           |  recv R    +--------+   recv R   |           |
//	| send R /  `----------->|        |<-----------'  send R / |
//	| recv R                 | closed |               recv R   |
//	`----------------------->|        |<-----------------------'
//	                         +--------+
//
//	send:  endpoint sends this frame      H:  HEADERS frame (with implied CONTINUATION frames)
//	recv:  endpoint receives this frame   PP: PUSH_PROMISE frame (with implied CONTINUATION frames)
//	ES:    END_STREAM flag                R:  RST_STREAM frame
//
// The RFC's single "closed" state is three States here, because §5.1 treats
// frames arriving on a closed stream differently depending on how it closed:
//
//   - Closed: both sides sent END_STREAM. Late WINDOW_UPDATE and RST_STREAM
//     are ignored; DATA is a stream error STREAM_CLOSED (§6.1), HEADERS a
//     connection error STREAM_CLOSED.
//   - ClosedResetSent: we sent RST_STREAM. The peer may have sent frames
//     before it saw our reset: every frame is accepted and must be discarded
//     (after minimal processing: HPACK-decode header blocks, and charge DATA
//     to the connection's flow-control window).
//   - ClosedResetRecv: the peer sent RST_STREAM. A repeated RST_STREAM and
//     a late WINDOW_UPDATE are ignored; anything else (but PRIORITY) is a
//     stream error STREAM_CLOSED.
//
// IsClosed reports whether a State is any of the three.
//
// Send and Recv apply one frame. A frame Recv accepts on a stream that was
// already closed (IsClosed before the call) must be discarded, not
// delivered. Whatever Recv says, a received DATA frame is always charged to
// the connection's flow-control window (§6.9: "A receiver that receives a
// flow-controlled frame MUST always account for its contribution against
// the connection flow-control window, unless the receiver treats this as a
// connection error").
//
// A connection forgets closed streams after a while; a frame on a stream it
// no longer tracks, whose identifier is at or below the peer's largest
// (PeerIDs.Last), can be run through Closed.Recv, the strictest closed
// state.
type State uint8

// The stream states. The zero value is Idle.
const (
	Idle State = iota
	ReservedLocal
	ReservedRemote
	Open
	HalfClosedLocal
	HalfClosedRemote
	Closed          // closed by END_STREAM in both directions
	ClosedResetSent // closed by a RST_STREAM we sent
	ClosedResetRecv // closed by a RST_STREAM we received
)

var stateNames = [...]string{
	Idle:             "idle",
	ReservedLocal:    "reserved (local)",
	ReservedRemote:   "reserved (remote)",
	Open:             "open",
	HalfClosedLocal:  "half-closed (local)",
	HalfClosedRemote: "half-closed (remote)",
	Closed:           "closed",
	ClosedResetSent:  "closed (reset sent)",
	ClosedResetRecv:  "closed (reset received)",
}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// IsClosed reports whether s is one of the closed states.
func (s State) IsClosed() bool { return s == Closed || s == ClosedResetSent || s == ClosedResetRecv }

// CanSendData reports whether DATA (and trailers) may still be sent: open or
// half-closed (remote).
func (s State) CanSendData() bool { return s == Open || s == HalfClosedRemote }

// CanRecvData reports whether the peer may still send DATA: open or
// half-closed (local).
func (s State) CanRecvData() bool { return s == Open || s == HalfClosedLocal }

// ErrInvalidSend is wrapped by the errors Send returns: sending that frame in
// that state would break RFC 9113 §5.1. It is a local bug or a late call
// (e.g. writing after the peer reset the stream), never the peer's fault, so
// it is not a frame error: report it to the caller and send nothing.
var ErrInvalidSend = errors.New("stream: frame may not be sent in this state")

// Errors returned by Recv are a *frame.ConnError or a *frame.StreamError.
// State does not know its stream's identifier: a *frame.StreamError from Recv
// has StreamID 0 and the caller fills it in before sending RST_STREAM.
func connErr(code frame.ErrCode, format string, args ...any) error {
	return &frame.ConnError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

func streamErr(code frame.ErrCode, format string, args ...any) error {
	return &frame.StreamError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

func sendErr(s State, t frame.Type) error {
	return fmt.Errorf("%w: %v in state %v", ErrInvalidSend, t, s)
}

// carriesEndStream reports whether END_STREAM means anything on t.
func carriesEndStream(t frame.Type) bool { return t == frame.TypeData || t == frame.TypeHeaders }

// isConnectionFrame reports whether t only ever travels on stream 0.
func isConnectionFrame(t frame.Type) bool {
	return t == frame.TypeSettings || t == frame.TypePing || t == frame.TypeGoAway
}

// isKnown reports whether t is one of the frame types of RFC 9113 §6.
func isKnown(t frame.Type) bool { return t <= frame.TypeContinuation }

// Recv applies a frame received from the peer on this stream and returns the
// new state. endStream is the frame's END_STREAM flag (ignored on frames
// other than DATA and HEADERS). HEADERS stands for the whole header block: a
// HEADERS frame and its CONTINUATION frames. A PUSH_PROMISE is applied here
// to the stream it arrives on; the promised stream moves with RecvPromise.
//
// On error the state is returned unchanged and the error is a
// *frame.ConnError (send GOAWAY) or a *frame.StreamError with StreamID 0
// (fill in the id, send RST_STREAM).
func (s State) Recv(t frame.Type, endStream bool) (State, error) {
	if !carriesEndStream(t) {
		endStream = false
	}
	switch {
	case !isKnown(t):
		// §5.5: "Implementations MUST ignore and discard frames of unknown
		// types."
		return s, nil
	case isConnectionFrame(t):
		// §6.5, §6.7, §6.8: SETTINGS, PING and GOAWAY on a stream other than
		// 0x0 are "a connection error (Section 5.4.1) of type
		// PROTOCOL_ERROR". (The frame reader rejects them first.)
		return s, connErr(frame.ErrCodeProtocol, "%v frame on a stream", t)
	case t == frame.TypePriority:
		// §5.1: PRIORITY may be received in every state; §5.3.2 deprecates
		// its meaning, so it never changes the state.
		return s, nil
	case t == frame.TypeContinuation:
		// §6.10: CONTINUATION continues the HEADERS or PUSH_PROMISE just
		// before it on the same stream (the frame reader enforces that); the
		// transition happened at that frame.
		return s, nil
	}

	switch s {
	case Idle:
		if t == frame.TypeHeaders {
			// §5.1 idle: "receiving a HEADERS frame as a server, causes the
			// stream to become 'open'. ... The same frame can also cause a
			// stream to immediately become 'half-closed'." Only a server
			// opens streams this way: §5.1 idle: "If this stream is
			// initiated by the server ... then receiving a HEADERS frame
			// MUST also be treated as a connection error (Section 5.4.1) of
			// type PROTOCOL_ERROR" — the connection checks that, by role
			// and PeerIDs, before calling Recv.
			if endStream {
				return HalfClosedRemote, nil
			}
			return Open, nil
		}
		// §5.1 idle: "Receiving any frame other than HEADERS or PRIORITY on
		// a stream in this state MUST be treated as a connection error
		// (Section 5.4.1) of type PROTOCOL_ERROR."
		return s, connErr(frame.ErrCodeProtocol, "%v on idle stream", t)

	case ReservedLocal:
		switch t {
		case frame.TypeRSTStream:
			// §5.1 reserved (local): "Either endpoint can send a
			// RST_STREAM frame to cause the stream to become 'closed'."
			return ClosedResetRecv, nil
		case frame.TypeWindowUpdate:
			// §5.1 reserved (local): "A PRIORITY or WINDOW_UPDATE frame MAY
			// be received in this state."
			return s, nil
		}
		// §5.1 reserved (local): "Receiving any type of frame other than
		// RST_STREAM, PRIORITY, or WINDOW_UPDATE on a stream in this state
		// MUST be treated as a connection error (Section 5.4.1) of type
		// PROTOCOL_ERROR."
		return s, connErr(frame.ErrCodeProtocol, "%v on reserved (local) stream", t)

	case ReservedRemote:
		switch t {
		case frame.TypeHeaders:
			// §5.1 reserved (remote): "Receiving a HEADERS frame causes the
			// stream to transition to 'half-closed (local)'."
			if endStream {
				return Closed, nil
			}
			return HalfClosedLocal, nil
		case frame.TypeRSTStream:
			return ClosedResetRecv, nil
		}
		// §5.1 reserved (remote): "Receiving any type of frame other than
		// HEADERS, RST_STREAM, or PRIORITY on a stream in this state MUST be
		// treated as a connection error (Section 5.4.1) of type
		// PROTOCOL_ERROR."
		return s, connErr(frame.ErrCodeProtocol, "%v on reserved (remote) stream", t)

	case Open:
		// §5.1 open: "A stream in the 'open' state may be used by both peers
		// to send frames of any type."
		switch t {
		case frame.TypeRSTStream:
			return ClosedResetRecv, nil
		case frame.TypeData, frame.TypeHeaders:
			// §5.1 open: "an endpoint receiving an END_STREAM flag causes
			// the stream state to become 'half-closed (remote)'".
			if endStream {
				return HalfClosedRemote, nil
			}
		}
		// WINDOW_UPDATE, and PUSH_PROMISE (§6.6: allowed on an open stream;
		// whether push is enabled is the connection's check, §8.4).
		return s, nil

	case HalfClosedLocal:
		// §5.1 half-closed (local): "An endpoint can receive any type of
		// frame in this state." "A stream transitions from this state to
		// 'closed' when a frame is received with the END_STREAM flag set or
		// when either peer sends a RST_STREAM frame."
		switch t {
		case frame.TypeRSTStream:
			return ClosedResetRecv, nil
		case frame.TypeData, frame.TypeHeaders:
			if endStream {
				return Closed, nil
			}
		}
		return s, nil

	case HalfClosedRemote:
		switch t {
		case frame.TypeRSTStream:
			return ClosedResetRecv, nil
		case frame.TypeWindowUpdate:
			return s, nil
		case frame.TypePushPromise:
			// §6.6: "A receiver MUST treat the receipt of a PUSH_PROMISE on
			// a stream that is neither 'open' nor 'half-closed (local)' as a
			// connection error (Section 5.4.1) of type PROTOCOL_ERROR."
			return s, connErr(frame.ErrCodeProtocol, "PUSH_PROMISE on half-closed (remote) stream")
		}
		// §5.1 half-closed (remote): "If an endpoint receives additional
		// frames, other than WINDOW_UPDATE, PRIORITY, or RST_STREAM, for a
		// stream that is in this state, it MUST respond with a stream error
		// (Section 5.4.2) of type STREAM_CLOSED." (§6.1 says the same of
		// DATA.)
		return s, streamErr(frame.ErrCodeStreamClosed, "%v on half-closed (remote) stream", t)

	case ClosedResetSent:
		// §5.1 closed: "An endpoint that sends a RST_STREAM frame on a stream
		// that is in the 'open' or 'half-closed (local)' state could receive
		// any type of frame. ... An endpoint MUST minimally process and then
		// discard any frames it receives in this state. This means updating
		// header compression state for HEADERS and PUSH_PROMISE frames.
		// Receiving a PUSH_PROMISE frame also causes the promised stream to
		// become 'reserved (remote)', even when the PUSH_PROMISE frame is
		// received on a closed stream. Additionally, the content of DATA
		// frames counts toward the connection flow-control window."
		return s, nil

	case ClosedResetRecv:
		switch t {
		case frame.TypeRSTStream:
			// §5.4.2: "To avoid looping, an endpoint MUST NOT send a
			// RST_STREAM in response to a RST_STREAM frame." A second reset
			// is ignored.
			return s, nil
		case frame.TypeWindowUpdate:
			// §6.9: "a receiver could receive a WINDOW_UPDATE frame on a
			// stream in a 'half-closed (remote)' or 'closed' state. A
			// receiver MUST NOT treat this as an error".
			return s, nil
		}
		// §6.4: "After receiving a RST_STREAM on a stream, the receiver MUST
		// NOT send additional frames for that stream, except for PRIORITY."
		// The peer broke that mirror rule; §5.1 closed lets us treat it as a
		// connection error of type STREAM_CLOSED, and §6.1 requires a stream
		// error STREAM_CLOSED for DATA. We take the milder stream error for
		// every type (RFC 7540 §5.1 required exactly that), which keeps the
		// connection alive.
		return s, streamErr(frame.ErrCodeStreamClosed, "%v after RST_STREAM", t)

	case Closed:
		switch t {
		case frame.TypeWindowUpdate, frame.TypeRSTStream:
			// §5.1 closed: "An endpoint that sends a frame with the
			// END_STREAM flag set or a RST_STREAM frame might receive a
			// WINDOW_UPDATE or RST_STREAM frame from its peer in the time
			// before the peer receives and processes the frame that closes
			// the stream." §6.9: a WINDOW_UPDATE on a closed stream: "A
			// receiver MUST NOT treat this as an error". Both are ignored.
			return s, nil
		case frame.TypeData:
			// §6.1: "If a DATA frame is received whose stream is not in the
			// 'open' or 'half-closed (local)' state, the recipient MUST
			// respond with a stream error (Section 5.4.2) of type
			// STREAM_CLOSED."
			return s, streamErr(frame.ErrCodeStreamClosed, "DATA on closed stream")
		case frame.TypePushPromise:
			// §6.6 (see half-closed (remote)): connection PROTOCOL_ERROR.
			return s, connErr(frame.ErrCodeProtocol, "PUSH_PROMISE on closed stream")
		}
		// §5.1 closed: "An endpoint MAY treat receipt of any other type of
		// frame on a closed stream as a connection error (Section 5.4.1) of
		// type STREAM_CLOSED, except as noted below." The peer sent
		// END_STREAM itself, so it knows the stream is over: a HEADERS here
		// is a broken peer, and a connection error is the safe answer.
		return s, connErr(frame.ErrCodeStreamClosed, "%v on closed stream", t)
	}
	return s, connErr(frame.ErrCodeInternal, "invalid stream state %v", s)
}

// Send applies a frame we are about to send on this stream and returns the
// new state. endStream is the frame's END_STREAM flag (ignored on frames
// other than DATA and HEADERS). A PUSH_PROMISE is applied here to the stream
// it is sent on; the promised stream moves with SendPromise.
//
// An error wraps ErrInvalidSend and the state is returned unchanged: do not
// send the frame.
func (s State) Send(t frame.Type, endStream bool) (State, error) {
	if !carriesEndStream(t) {
		endStream = false
	}
	switch {
	case !isKnown(t):
		// §5.5: extension frames have no place in the state machine.
		return s, nil
	case isConnectionFrame(t):
		return s, sendErr(s, t)
	case t == frame.TypePriority:
		// §5.1: PRIORITY may be sent in every state, closed included
		// ("An endpoint MUST NOT send frames other than PRIORITY on a closed
		// stream").
		return s, nil
	case t == frame.TypeContinuation:
		return s, nil
	}

	switch s {
	case Idle:
		if t == frame.TypeHeaders {
			// §5.1 idle: "Sending a HEADERS frame as a client ... causes
			// the stream to become 'open'." (A server's streams start with
			// PUSH_PROMISE; the connection checks the role.)
			if endStream {
				return HalfClosedLocal, nil
			}
			return Open, nil
		}
		// §6.4: "RST_STREAM frames MUST NOT be sent for a stream in the
		// 'idle' state." Nothing but HEADERS and PRIORITY opens a stream.
		return s, sendErr(s, t)

	case ReservedLocal:
		switch t {
		case frame.TypeHeaders:
			// §5.1 reserved (local): "The endpoint can send a HEADERS frame.
			// This causes the stream to open in a 'half-closed (remote)'
			// state."
			if endStream {
				return Closed, nil
			}
			return HalfClosedRemote, nil
		case frame.TypeRSTStream:
			return ClosedResetSent, nil
		}
		// §5.1 reserved (local): "An endpoint MUST NOT send any type of frame
		// other than HEADERS, RST_STREAM, or PRIORITY in this state."
		return s, sendErr(s, t)

	case ReservedRemote:
		switch t {
		case frame.TypeRSTStream:
			return ClosedResetSent, nil
		case frame.TypeWindowUpdate:
			return s, nil
		}
		// §5.1 reserved (remote): "An endpoint MUST NOT send any type of
		// frame other than RST_STREAM, WINDOW_UPDATE, or PRIORITY in this
		// state."
		return s, sendErr(s, t)

	case Open:
		switch t {
		case frame.TypeRSTStream:
			return ClosedResetSent, nil
		case frame.TypeData, frame.TypeHeaders:
			if endStream {
				return HalfClosedLocal, nil
			}
		}
		// §6.6: "PUSH_PROMISE frames MUST only be sent on a peer-initiated
		// stream that is in either the 'open' or 'half-closed (remote)'
		// state." (Which side initiated the stream is the connection's
		// check.)
		return s, nil

	case HalfClosedLocal:
		switch t {
		case frame.TypeRSTStream:
			return ClosedResetSent, nil
		case frame.TypeWindowUpdate:
			return s, nil
		}
		// §5.1 half-closed (local): "A stream that is in the 'half-closed
		// (local)' state cannot be used for sending frames other than
		// WINDOW_UPDATE, PRIORITY, and RST_STREAM."
		return s, sendErr(s, t)

	case HalfClosedRemote:
		// §5.1 half-closed (remote): "A stream that is 'half-closed
		// (remote)' can be used by the endpoint to send frames of any type."
		// "A stream can transition from this state to 'closed' by sending a
		// frame with the END_STREAM flag set or when either peer sends a
		// RST_STREAM frame."
		switch t {
		case frame.TypeRSTStream:
			return ClosedResetSent, nil
		case frame.TypeData, frame.TypeHeaders:
			if endStream {
				return Closed, nil
			}
		}
		return s, nil
	}
	// §5.1 closed: "An endpoint MUST NOT send frames other than PRIORITY on a
	// closed stream." (A RST_STREAM answering a stream error on a closed
	// stream is the connection's business, outside the state machine.)
	return s, sendErr(s, t)
}

// RecvPromise moves a promised stream when the peer's PUSH_PROMISE names it.
// §5.1 idle: "Receiving a PUSH_PROMISE frame on another stream reserves the
// idle stream that is identified for later use. The stream state for the
// reserved stream transitions to 'reserved (remote)'." §6.6: "A receiver MUST
// treat the receipt of a PUSH_PROMISE that promises an illegal stream
// identifier (Section 5.1.1) as a connection error (Section 5.4.1) of type
// PROTOCOL_ERROR" — a stream that is not idle is illegal.
func (s State) RecvPromise() (State, error) {
	if s != Idle {
		return s, connErr(frame.ErrCodeProtocol, "PUSH_PROMISE promises a stream in state %v", s)
	}
	return ReservedRemote, nil
}

// SendPromise moves a promised stream when we send a PUSH_PROMISE naming it.
// §5.1 idle: "Sending a PUSH_PROMISE frame on another stream reserves the
// idle stream that is identified for later use. The stream state for the
// reserved stream transitions to 'reserved (local)'."
func (s State) SendPromise() (State, error) {
	if s != Idle {
		return s, fmt.Errorf("%w: promising a stream in state %v", ErrInvalidSend, s)
	}
	return ReservedLocal, nil
}
