// Package conn is h2rpc's HTTP/2 connection engine (RFC 9113): one
// connection type for both roles that multiplexes streams over a net.Conn.
// It knows HTTP/2 only: header fields, DATA, trailers, resets; the RPC layer
// maps them to gRPC.
//
// # Roles
//
// Client writes the connection preface and our SETTINGS and returns at once;
// NewStream opens streams (HEADERS), waiting for a slot under the peer's
// SETTINGS_MAX_CONCURRENT_STREAMS (one stream only until the peer's first
// SETTINGS arrive). Server reads the peer's preface on the reader goroutine
// and calls the Handler, on a goroutine of its own, for every stream the
// peer opens: at most Config.MaxHandlers at a time, counting those of reset
// streams still running; a stream opened past that waits for a handler to
// return, and is dropped if it is reset first. Both roles are the same
// engine parameterised by the role.
//
// # TLS
//
// Over TLS (RFC 9113 §3.2, §9.2) Client and Server take the *tls.Conn after
// its handshake (ServerHandshake and ClientHandshake run it with errors
// that name the cause; ConfigureTLS makes a tls.Config fit for HTTP/2).
// They refuse a connection that did not negotiate ALPN "h2", and end one
// below TLS 1.2 or on a prohibited TLS 1.2 cipher suite with GOAWAY
// INADEQUATE_SECURITY. Without TLS the connection is h2c with prior
// knowledge, for loopback, tests and proxies that terminate TLS.
//
// # Goroutines and ownership
//
// A connection runs two goroutines of its own. The reader reads and parses
// frames and applies them; the writer drains the queued frames into one
// buffered write per burst. All mutable connection and stream state is
// guarded by one mutex, Conn.mu; each guarded field says so in a comment.
// The reader also owns the frame reader and the HPACK decoder; the writer
// owns its output buffer. Blocking calls (Stream.Read, Stream.Write,
// NewStream, Ping) wait on channels that act as context-aware gates: each
// wakes on its context, a stream reset or the connection's end.
//
// # Streams
//
// A Stream is used by at most one reading goroutine (ReadHeaders, Read,
// Trailers) and one writing goroutine (WriteHeaders, Write, WriteData,
// CloseWrite) at a time; Reset and ID may be called from anywhere.
//
// On the client, the Stream lives under the context given to NewStream: if
// it is done before the stream completes, the stream is reset with CANCEL.
// A response whose first header block ends the stream is trailers-only:
// ReadHeaders returns the block, TrailersOnly reports true, Read returns
// io.EOF and Trailers returns the same block.
//
// On the server, the Handler's Stream has a Context cancelled when the peer
// resets the stream, the connection ends, or the stream completes. The
// Handler must send the response headers (WriteHeaders) before any DATA.
// When the Handler returns, a stream it did not end is reset with CANCEL,
// and one it ended while the request was still arriving is reset with
// NO_ERROR (RFC 9113 §8.1).
//
// Data that arrived with END_STREAM stays readable to io.EOF even if the
// peer then resets the stream (a complete response followed by RST_STREAM
// NO_ERROR); only writes fail. Read to io.EOF, or Reset the stream, or (on
// the client) end its context: unread data holds connection flow-control
// credit until then.
//
// # Errors
//
// Stream operations fail with *ResetError (the stream was reset), with
// *GoAwayError (the peer's GOAWAY excluded the stream: safe to retry), or
// with an error wrapping ErrClosed (the connection ended; Conn.Err says why:
// a *frame.ConnError with the code we sent in GOAWAY, the peer's
// *GoAwayError, an I/O error, or ErrClosed itself after Close or Shutdown).
// NewStream fails with ErrNotAvailable once the connection is draining.
//
// See docs/connection.md for the writer's batching, the fair DATA scheduler,
// flow control, GOAWAY and drain, the defences and their defaults, and the
// measured hot-path cost.
package conn
