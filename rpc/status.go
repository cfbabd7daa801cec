package rpc

import (
	"context"
	"errors"
	"fmt"

	"github.com/h2rpc/h2rpc/frame"
)

// Status is the final disposition of a call: a Code, a human-readable
// Message and optional Details. It is the error type of this package: every
// failed call returns an error that errors.As can turn into a *Status, and a
// handler that returns one controls exactly what the client sees.
//
// Details, when set, are sent verbatim as grpc-status-details-bin; by
// convention they hold a serialized google.rpc.Status message, which this
// package does not interpret.
type Status struct {
	Code    Code
	Message string
	Details []byte

	cause error // a local cause (context.Canceled, an I/O error, ...) for errors.Is; never sent
}

// Errorf returns a *Status error with code c and a formatted message. A
// handler returns it to fail a call with that code. Errorf(OK, ...) returns
// nil.
func Errorf(c Code, format string, a ...any) error {
	if c == OK {
		return nil
	}
	return &Status{Code: c, Message: fmt.Sprintf(format, a...)}
}

// Error formats the status as grpc-go does: "rpc error: code = NotFound
// desc = message", with Code.String's name.
func (s *Status) Error() string {
	return "rpc error: code = " + s.Code.String() + " desc = " + s.Message
}

// Unwrap returns the local cause of the status, if any: context.Canceled or
// context.DeadlineExceeded when the caller's context ended the call, so
// errors.Is(err, context.DeadlineExceeded) works on a call's error.
func (s *Status) Unwrap() error { return s.cause }

// StatusOf returns err as a *Status: the status itself if errors.As finds
// one; CANCELLED or DEADLINE_EXCEEDED for the context errors; UNKNOWN with
// err's text otherwise. StatusOf(nil) is nil.
func StatusOf(err error) *Status {
	if err == nil {
		return nil
	}
	var s *Status
	if errors.As(err, &s) {
		return s
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Status{Code: DeadlineExceeded, Message: err.Error(), cause: err}
	case errors.Is(err, context.Canceled):
		return &Status{Code: Canceled, Message: err.Error(), cause: err}
	}
	return &Status{Code: Unknown, Message: err.Error(), cause: err}
}

// CodeOf returns the code of err as StatusOf sees it: OK for nil.
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	return StatusOf(err).Code
}

func newStatus(c Code, msg string) *Status { return &Status{Code: c, Message: msg} }

func statusf(c Code, format string, a ...any) *Status {
	return &Status{Code: c, Message: fmt.Sprintf(format, a...)}
}

// contextStatus is the status of a call whose context ended: the client
// fails the call locally, without using any part of the trailers
// (PROTOCOL-HTTP2.md, Client Cancellation).
func contextStatus(ctx context.Context) *Status {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return &Status{Code: DeadlineExceeded, Message: "context deadline exceeded", cause: err}
	}
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return &Status{Code: Canceled, Message: "context canceled: " + cause.Error(), cause: err}
	}
	return &Status{Code: Canceled, Message: "context canceled", cause: err}
}

// codeForReset maps an RST_STREAM error code received from the peer to a
// gRPC code, per the table in PROTOCOL-HTTP2.md (Errors): REFUSED_STREAM is
// UNAVAILABLE (nothing was processed; the call may be retried), CANCEL is
// CANCELLED, ENHANCE_YOUR_CALM is RESOURCE_EXHAUSTED, INADEQUATE_SECURITY is
// PERMISSION_DENIED, and every other code, NO_ERROR included (an explicit OK
// status should have been sent), is INTERNAL.
func codeForReset(code frame.ErrCode) Code {
	switch code {
	case frame.ErrCodeRefusedStream:
		return Unavailable
	case frame.ErrCodeCancel:
		return Canceled
	case frame.ErrCodeEnhanceYourCalm:
		return ResourceExhausted
	case frame.ErrCodeInadequateSecurity:
		return PermissionDenied
	}
	return Internal
}

// CodeForHTTPStatus maps the HTTP status of a response that carried no
// grpc-status to a gRPC code, row by row as grpc's
// doc/http-grpc-status-mapping.md gives it: 400 is INTERNAL, 401
// UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED, 429, 502, 503
// and 504 UNAVAILABLE, and "All other codes" UNKNOWN, 200 included ("there
// should be a grpc-status in case of truly OK response"). grpc-go uses the
// same table; 431 is not in it, so it is UNKNOWN.
func CodeForHTTPStatus(status int) Code {
	switch status {
	case 400:
		return Internal
	case 401:
		return Unauthenticated
	case 403:
		return PermissionDenied
	case 404:
		return Unimplemented
	case 429, 502, 503, 504:
		return Unavailable
	}
	return Unknown
}

// encodeGRPCMessage percent-encodes a status message for grpc-message:
// "Percent-Byte-Unencoded → 1*( %x20-%x24 / %x26-%x7E ) ; space and VCHAR,
// except %" and "Percent-Byte-Encoded → "%" 2HEXDIGIT" (PROTOCOL-HTTP2.md,
// Responses). UTF-8 text is encoded byte by byte. A message that needs no
// escaping is returned as is, without allocating.
func encodeGRPCMessage(msg string) string {
	n := 0
	for i := 0; i < len(msg); i++ {
		if needsEscape(msg[i]) {
			n++
		}
	}
	if n == 0 {
		return msg
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(msg)+2*n)
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if needsEscape(c) {
			b = append(b, '%', hex[c>>4], hex[c&0xf])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

func needsEscape(c byte) bool { return c < 0x20 || c > 0x7e || c == '%' }

// decodeGRPCMessage reverses encodeGRPCMessage leniently: "When decoding
// invalid values, implementations MUST NOT error or throw away the message"
// (PROTOCOL-HTTP2.md, Responses). A '%' not followed by two hex digits is
// kept as is; valid escapes are decoded.
func decodeGRPCMessage(s string) string {
	i := 0
	for i < len(s) && s[i] != '%' {
		i++
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 2
				continue
			}
		}
		b = append(b, c)
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
