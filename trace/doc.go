// Package trace records the frames of HTTP/2 connections and draws them.
//
// A Writer writes a trace as JSON lines; its Recorders, one per
// connection, turn frames into Events: a connection's tracer hook
// (conn.Config.Trace) hands a Recorder the frames it writes and reads, and
// a proxy (Relay) hands it the raw bytes of both directions. Read parses a
// trace back; SVG, HTML and Text draw it. See docs/observability.md.
//
// # The format (schema version 1)
//
// The first line is a Meta object:
//
//	{"h2rpc_trace":1,"at":"client","start":"2026-01-02T03:04:05.123456789Z","label":"demo"}
//
// "at" is where the trace was recorded ("client", "server" or "proxy") and
// "start" the wall-clock time event times count from. Every further line
// is one Event:
//
//	{"seq":4,"t":1830211,"conn":1,"from":"client","type":"HEADERS","stream":1,
//	 "flags":["END_HEADERS"],"len":71,"fields":[{"name":":method","value":"POST"},...],
//	 "window":{"client_conn":65535,"server_conn":1048576,"client_stream":65535,"server_stream":262144}}
//
//	seq          event number, from 0, in the order events were written
//	t            nanoseconds since start (monotonic clock)
//	conn         connection number within the trace, from 1
//	from         the endpoint that sent the frame: "client" or "server"
//	type         RFC 9113 frame type name; "ERROR" for a decoding failure
//	stream       stream identifier (0: the connection)
//	flags        names of the flags set; unnamed bits as "0xNN"
//	len          payload length from the frame header
//	fields       decoded header fields, on the frame that ends a header block;
//	             values of credentials and cookies are "[redacted]" (Redacted)
//	settings     SETTINGS parameters: [{"id":"MAX_FRAME_SIZE","value":16384}]
//	increment    WINDOW_UPDATE increment
//	code         RST_STREAM or GOAWAY error code name
//	last_stream  GOAWAY last stream identifier
//	debug        GOAWAY debug data (at most 256 octets)
//	ping         PING opaque data, hex
//	msgs         lengths of the gRPC messages whose 5-octet prefix is in this
//	             DATA frame (streams with content-type application/grpc)
//	window       send credit after the frame: client_conn, server_conn, and,
//	             for a stream being followed, client_stream, server_stream
//	error        why the frame was not decoded in full
//
// Fields absent from a line have their zero value. A version only ever
// gains fields; a change of meaning would be a new version.
//
// Events of one connection are in wire order for each direction. Across
// the two directions they are in the order the recorder saw them: at an
// endpoint a written frame is recorded as its batch is handed to the
// socket and a read frame once it has been parsed; at a proxy each
// direction's bytes as they are read.
package trace
