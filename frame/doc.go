// Package frame reads and writes HTTP/2 frames (RFC 9113 §4 and §6).
//
// A Reader returns one frame at a time from an io.Reader, validating every
// rule that can be checked on a single frame (and the CONTINUATION sequencing
// rule of §6.10) and reporting violations as *ConnError or *StreamError,
// each with the RFC error code and a reason naming the rule and its section.
// Encoders are append-style (AppendData, AppendHeaders, ...) so a connection
// can batch many frames into one buffer and send them with one write.
//
// Memory ownership: a frame returned by Reader.ReadFrame, and every slice it
// holds, is owned by the Reader and valid only until the next call to
// ReadFrame. Copy what you need to keep. Reader.SetScribble (or the build tag
// h2rpc_scribble) makes misuse loud by overwriting each frame's bytes before
// the next read. In return, reading and appending do not allocate.
//
// What needs connection or stream state (stream states, flow-control
// windows, HPACK, the order of SETTINGS) is left to the caller; see
// docs/frame.md.
package frame
