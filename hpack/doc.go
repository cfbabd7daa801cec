// Package hpack encodes and decodes HTTP/2 header blocks (RFC 7541) for one
// connection, on top of golang.org/x/net/http2/hpack, and checks the HTTP/2
// field rules of RFC 9113 §8.2 and §8.3.
//
// A connection owns one Encoder (used by its writer) and one Decoder (used by
// its reader), each reused for every block; neither is safe for concurrent
// use. What this package adds over x/net's hpack:
//
//   - Encoder.AppendBlock appends a complete block in append style, and
//     SetMaxTableSize keeps the dynamic table in step with the peer's
//     SETTINGS_HEADER_TABLE_SIZE, emitting the RFC 7541 §4.2 size update at the
//     start of the next block, even an empty one.
//   - Encoding the same fields again once they are all in the dynamic table
//     is a copy of the block made last time; decoding the same all-indexed
//     block again, while the table has not changed, is a copy of the
//     fields decoded last time.
//   - Decoder.Decode enforces SETTINGS_MAX_HEADER_LIST_SIZE while decoding and
//     keeps the dynamic table in sync even when it rejects a block, so a
//     stream error never becomes a desynchronised connection.
//   - BlockBuffer reassembles HEADERS + CONTINUATION fragments with a hard
//     bound on size and on the number of CONTINUATION frames (CVE-2023-45288).
//   - Typed errors that map onto HTTP/2 error codes: *CompressionError
//     (connection error COMPRESSION_ERROR), *MalformedError (stream error
//     PROTOCOL_ERROR), ErrHeaderListTooLarge (431 or RST_STREAM), and
//     ErrBlockTooLarge / ErrTooManyContinuations (connection error
//     ENHANCE_YOUR_CALM). See docs/hpack.md for the full table.
package hpack
