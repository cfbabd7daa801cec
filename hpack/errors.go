package hpack

import "errors"

// ErrCompression is matched (errors.Is) by every *CompressionError.
var ErrCompression = errors.New("hpack: compression error")

// CompressionError reports a block that is not valid HPACK: a bad integer or
// string encoding, an index outside the tables, a dynamic table size update
// larger than our limit, after a field while the table is not empty, or
// missing after a reduction (RFC 9113 §4.3.1), or a truncated block. (A
// long name or value is not one: it is decoded, and over the header list
// limit it is ErrHeaderListTooLarge.) The dynamic table can no
// longer be trusted, so this is a connection error of type COMPRESSION_ERROR
// (RFC 9113 §4.3: "A decoding error in a field block MUST be treated as a
// connection error (Section 5.4.1) of type COMPRESSION_ERROR").
type CompressionError struct {
	Err error // the error from x/net's decoder
}

func (e *CompressionError) Error() string { return "hpack: compression error: " + e.Err.Error() }

// Unwrap returns the underlying x/net error.
func (e *CompressionError) Unwrap() error { return e.Err }

// Is reports whether target is ErrCompression.
func (e *CompressionError) Is(target error) bool { return target == ErrCompression }

// ErrMalformed is matched (errors.Is) by every *MalformedError.
var ErrMalformed = errors.New("hpack: malformed field block")

// MalformedError reports a field block that decoded fine but breaks an HTTP/2
// field rule (RFC 9113 §8.1.1, §8.2, §8.3). The dynamic table is in sync;
// the request or response is malformed, which is a stream error of type
// PROTOCOL_ERROR (RFC 9113 §8.1.1: "Malformed requests or responses that are
// detected MUST be treated as a stream error (Section 5.4.2) of type
// PROTOCOL_ERROR").
type MalformedError struct {
	Reason string // the rule that was broken, with its RFC section
}

func (e *MalformedError) Error() string { return "hpack: malformed field block: " + e.Reason }

// Is reports whether target is ErrMalformed.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// ErrHeaderListTooLarge reports a decoded header list larger than our
// SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2). The table is in sync; a
// server may answer 431 (RFC 9113 §10.5.1) or reset the stream, a client
// resets the stream.
var ErrHeaderListTooLarge = errors.New("hpack: header list larger than SETTINGS_MAX_HEADER_LIST_SIZE")

// ErrBlockTooLarge reports HEADERS + CONTINUATION fragments adding up to more
// than Limits.MaxBlockSize. The block cannot be decoded, so the table is lost:
// treat it as a connection error of type ENHANCE_YOUR_CALM (RFC 9113 §10.5).
var ErrBlockTooLarge = errors.New("hpack: header block larger than the limit")

// ErrTooManyContinuations reports more CONTINUATION frames in one block than
// Limits.MaxContinuations (the CONTINUATION flood of CVE-2023-45288): a
// connection error of type ENHANCE_YOUR_CALM (RFC 9113 §10.5).
var ErrTooManyContinuations = errors.New("hpack: too many CONTINUATION frames in one header block")

// ErrBlockSequence reports a header block fragment out of order: a
// CONTINUATION with no block open or for another stream, or a new block
// started before the previous one ended. It is a connection error of type
// PROTOCOL_ERROR (RFC 9113 §6.10: "A receiver MUST treat the receipt of any
// other type of frame or a frame on a different stream as a connection error
// (Section 5.4.1) of type PROTOCOL_ERROR").
var ErrBlockSequence = errors.New("hpack: header block fragment out of sequence")
