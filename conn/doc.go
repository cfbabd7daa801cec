// Package conn is h2rpc's HTTP/2 connection engine (RFC 9113): one
// connection type for both roles that multiplexes streams over a net.Conn.
// It knows HTTP/2 only: header fields, DATA, trailers, resets; the RPC layer
// maps them to gRPC.
//
// # Roles
//
// Client writes the connection preface and our SETTINGS and returns at once;
// Conn.OpenStream opens streams (HEADERS and, in the same batch, the first
// DATA), waiting for a slot under the peer's SETTINGS_MAX_CONCURRENT_STREAMS
// (one stream only until the peer's first SETTINGS arrive). Server reads the
// peer's preface on the reader goroutine and calls the Handler for every
// stream the peer opens, on a goroutine of its own or, for a whole request
// with nothing else to read, on the reader's (below): at most
// Config.MaxHandlers at a time, counting those of reset streams still
// running; a stream opened past that waits for a handler to return, and is
// dropped if it is reset first. Both roles are the same engine
// parameterised by the role; the few role-specific methods say their role
// and fail (or return nothing) in the other.
//
// # TLS
//
// conn knows nothing of TLS, so that a program that never uses it does not
// link crypto/tls: Client and Server run HTTP/2 on any net.Conn, h2c with
// prior knowledge on a plain one (for loopback, tests and proxies that
// terminate TLS). Over TLS (RFC 9113 §3.2, §9.2) give them the connection
// package h2tls's handshakes return: those refuse a peer that did not
// negotiate ALPN "h2", and end one below TLS 1.2 or on a prohibited TLS 1.2
// cipher suite with GOAWAY INADEQUATE_SECURITY.
//
// # Goroutines, locks and ownership
//
// A connection has one goroutine of its own for good, the reader: it reads
// and parses frames and applies them, and owns the frame reader and the
// HPACK decoder (an idle connection's reader hands over to a fresh goroutine
// with a small stack, see docs/connection.md). When a goroutine is about to
// wait for its stream's frames while nobody reads (the reader parks after it
// woke the connection's one waiter), that goroutine reads and applies frames
// itself until its own arrive, then lets go (lead.go): its message reaches
// it without a hand-off between goroutines. Nothing writes on a goroutine
// of its own while nothing is queued: frames are queued on the connection's
// writer, and either the goroutine that queued a request, a reply, a
// large write sent from its own buffer or the WINDOW_UPDATEs its Read owes
// writes the batch itself, inline, or a
// flusher goroutine, started when there is something to write and no one
// writing, writes until the queues are empty and ends. The server runs
// Handlers on goroutines of their own (at most MaxHandlers; one that ends
// serves the oldest waiting stream next), except that when the reader has
// applied a stream's whole request and has nothing else buffered, it runs
// that Handler itself, and a new reader starts beside it if the Handler
// waits on the connection or runs for long (inline.go); timers
// (SETTINGS ACK, stream deadlines, the inline Handler's watchdog) and, on
// the client, a context watcher per stream (for an Unwatched stream, only
// while its goroutine reads as the leader) run as time.AfterFunc and
// context.AfterFunc callbacks.
//
// Connection and stream state is guarded by one mutex, Conn.mu; each
// guarded field says so in a comment. A server stream's lazily made context
// has its own small mutex, taken after Conn.mu when both are held, never
// before; a TLS connection's write coalescer has its own, taken only inside
// the net.Conn's calls, which are made without Conn.mu. The writer's queues, its batch buffer and the right to write
// belong to one type (writer.go); the rest of the package only queues
// frames through it. Blocking calls (Read, ReadFull, WriteData, ReadHeaders,
// OpenStream, Ping) never hold Conn.mu while they wait: they wait on
// channels, woken by their context, a stream reset or the connection's end.
//
// # Streams
//
// A Stream is used by at most one reading goroutine (ReadHeaders, Read,
// ReadFull, Trailers) and one writing goroutine (WriteData, WriteAll) at a time; ID,
// Context, Err and Reset may be called from anywhere.
//
// On the client, the Stream lives under the context given to OpenStream: if
// it is done before the stream completes, the stream is reset with CANCEL
// (with Unwatched, only while a call of the stream waits). A response whose
// first header block ends the stream is trailers-only: ReadHeaders returns
// the block, TrailersOnly reports true, Read returns io.EOF and Trailers
// returns the same block.
//
// On the server, the Handler's Stream has a Context cancelled when the peer
// resets the stream, the connection ends, or the stream completes. The
// Handler must send the response headers (WriteAll) before any DATA.
// When the Handler returns, a stream it did not end is reset with CANCEL,
// and one it ended while the request was still arriving is reset with
// NO_ERROR (RFC 9113 §8.1).
//
// Data that arrived with END_STREAM stays readable to io.EOF even if the
// peer then resets the stream (a complete response followed by RST_STREAM
// NO_ERROR); only writes fail, and Err tells. Read to io.EOF, or Reset the
// stream, or (on the client) end its context: unread data holds its
// stream's window until then, and counts toward Config.MaxBufferedData,
// past which the connection's credit too waits for reading.
//
// # Errors
//
// Stream operations fail with *ResetError (the stream was reset), with
// *GoAwayError (the peer's GOAWAY excluded the stream: safe to retry), or
// with an error wrapping ErrClosed (the connection ended; Conn.Err says why:
// a *frame.ConnError with the code we sent in GOAWAY, the peer's
// *GoAwayError, an I/O error, or ErrClosed itself after Close or Shutdown).
// OpenStream fails with ErrNotAvailable once the connection is draining.
//
// # Observing
//
// Config.Trace gives each connection a Tracer that sees every frame
// written and read (package trace records and draws them); Conn.Stats and
// Stream.Stats read the counters at any time. See docs/observability.md.
//
// See docs/connection.md for the writer, the fair DATA scheduler, flow
// control, GOAWAY and drain, the defences and their defaults, and the
// measured cost of the hot path and of each of its tricks.
package conn
