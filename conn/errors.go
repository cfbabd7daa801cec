package conn

import (
	"errors"
	"fmt"

	"github.com/h2rpc/h2rpc/frame"
)

// ErrClosed is returned (possibly wrapped: test with errors.Is) by operations
// on a connection that has been closed, by Close, Shutdown or a fatal error;
// Conn.Err says why.
var ErrClosed = errors.New("conn: connection closed")

// ErrNotAvailable is returned by OpenStream when the connection takes no new
// streams because it is draining: we or the peer sent GOAWAY, or the client's
// stream identifiers are exhausted (RFC 9113 §5.1.1). Requests that fail with
// it were never sent, so they are safe to retry on another connection. It is
// wrapped in a *GoAwayError when the peer's GOAWAY is the cause.
var ErrNotAvailable = errors.New("conn: connection is draining and takes no new streams")

// ResetError reports that a stream was reset with RST_STREAM: by the peer
// (Remote) or by us (Reset, a stream error we detected, or a cancelled
// context).
type ResetError struct {
	StreamID uint32
	Code     frame.ErrCode
	Remote   bool
	// Reason says what the peer sent that made us reset the stream (a
	// malformed or oversized header list, ...): a stream error we
	// detected. It stays with us: RST_STREAM carries no text.
	Reason string
}

func (e *ResetError) Error() string {
	who := "locally"
	if e.Remote {
		who = "by the peer"
	}
	s := fmt.Sprintf("conn: stream %d reset %s with %v", e.StreamID, who, e.Code)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// GoAwayError reports that the peer sent GOAWAY and did not process the
// stream (its id is above LastStreamID), or that OpenStream was called after
// the peer's GOAWAY. The request was not acted on: it is safe to retry on a
// new connection (RFC 9113 §6.8).
type GoAwayError struct {
	LastStreamID uint32
	Code         frame.ErrCode
	Debug        string
}

func (e *GoAwayError) Error() string {
	s := fmt.Sprintf("conn: peer sent GOAWAY (last stream %d, %v)", e.LastStreamID, e.Code)
	if e.Debug != "" {
		s += ": " + e.Debug
	}
	return s
}

// Unwrap makes errors.Is(err, ErrNotAvailable) true for a GoAwayError.
func (e *GoAwayError) Unwrap() error { return ErrNotAvailable }
