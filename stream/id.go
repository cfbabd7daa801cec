package stream

import (
	"errors"

	"github.com/h2rpc/h2rpc/frame"
)

// ErrIDsExhausted is returned by IDAllocator.Next when no stream identifier
// is left. RFC 9113 §5.1.1: "Stream identifiers cannot be reused. Long-lived
// connections can result in an endpoint exhausting the available range of
// stream identifiers. A client that is unable to establish a new stream
// identifier can establish a new connection for new streams."
var ErrIDsExhausted = errors.New("stream: stream identifiers exhausted")

// ClientInitiated reports whether id belongs to a client-initiated stream.
// RFC 9113 §5.1.1: "Streams initiated by a client MUST use odd-numbered
// stream identifiers; those initiated by the server MUST use even-numbered
// stream identifiers." Stream 0 is the connection.
func ClientInitiated(id uint32) bool { return id%2 == 1 }

// IDAllocator hands out the identifiers of the streams this endpoint
// initiates, in increasing order (§5.1.1: "The identifier of a newly
// established stream MUST be numerically greater than all streams that the
// initiating endpoint has opened or reserved."). The zero value is not
// usable: use NewIDAllocator.
type IDAllocator struct {
	next uint32 // the next identifier to hand out; 0 before NewIDAllocator
}

// NewIDAllocator returns an allocator for a client (odd identifiers from 1)
// or a server (even identifiers from 2).
func NewIDAllocator(client bool) IDAllocator {
	if client {
		return IDAllocator{next: 1}
	}
	return IDAllocator{next: 2}
}

// Next returns the next stream identifier, or ErrIDsExhausted once the
// 31-bit space is used up (and for a zero IDAllocator).
func (a *IDAllocator) Next() (uint32, error) {
	if a.next == 0 || a.next > frame.MaxStreamID {
		return 0, ErrIDsExhausted
	}
	id := a.next
	a.next += 2 // at most 2^31+1: no uint32 wrap
	return id, nil
}

// IsIdle reports whether id, one of our identifiers, has not been used yet:
// a frame from the peer on it is on an idle stream (§5.1).
func (a *IDAllocator) IsIdle(id uint32) bool { return id >= a.next }

// PeerIDs checks the identifiers of the streams the peer initiates (or, on a
// client, promises with PUSH_PROMISE). The zero value is not usable: use
// NewPeerIDs.
type PeerIDs struct {
	client bool   // the peer is a client: its identifiers are odd
	last   uint32 // the largest identifier the peer has used; 0 if none
}

// NewPeerIDs returns a checker for a peer that is a client (odd identifiers)
// or a server (even identifiers).
func NewPeerIDs(peerIsClient bool) PeerIDs { return PeerIDs{client: peerIsClient} }

// Open accepts id as the identifier of a new stream the peer initiates,
// returning a *frame.ConnError with PROTOCOL_ERROR if it is not allowed:
//
// §5.1.1: "Streams initiated by a client MUST use odd-numbered stream
// identifiers; those initiated by the server MUST use even-numbered stream
// identifiers."
//
// §5.1.1: "The identifier of a newly established stream MUST be numerically
// greater than all streams that the initiating endpoint has opened or
// reserved. ... An endpoint that receives an unexpected stream identifier
// MUST respond with a connection error (Section 5.4.1) of type
// PROTOCOL_ERROR."
//
// Opening id implicitly closes the peer's idle streams below it (§5.1.1:
// "When a stream transitions out of the 'idle' state, all streams in the
// 'idle' state that might have been opened by the peer with a lower-valued
// stream identifier immediately transition to 'closed'."): the caller treats
// a frame on such an identifier, absent from its stream table, as a closed
// stream.
func (p *PeerIDs) Open(id uint32) error {
	switch {
	case id == 0 || id > frame.MaxStreamID:
		return &frame.ConnError{Code: frame.ErrCodeProtocol, Reason: "invalid stream identifier"}
	case ClientInitiated(id) != p.client:
		return &frame.ConnError{Code: frame.ErrCodeProtocol, Reason: "stream identifier of the wrong parity"}
	case id <= p.last:
		return &frame.ConnError{Code: frame.ErrCodeProtocol, Reason: "stream identifier not greater than a previous one"}
	}
	p.last = id
	return nil
}

// Last returns the largest identifier the peer has initiated, 0 if none:
// the last-stream-id of a GOAWAY (§6.8).
func (p *PeerIDs) Last() uint32 { return p.last }

// IsIdle reports whether id, of the peer's parity, has not been used yet.
func (p *PeerIDs) IsIdle(id uint32) bool { return id > p.last }
