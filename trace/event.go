package trace

import "time"

// Schema is the version of the JSON-lines format, written in every
// trace's first line. A reader accepts traces of this version; fields are
// only ever added to a version, never renamed or given a new meaning.
const Schema = 1

// Endpoint names one end of a connection.
type Endpoint string

// The endpoints. A trace is recorded at the client, at the server, or at a
// proxy between them; every frame is sent by the client or the server.
const (
	Client Endpoint = "client"
	Server Endpoint = "server"
	Proxy  Endpoint = "proxy"
)

// other returns the peer of a client or server.
func (e Endpoint) other() Endpoint {
	if e == Client {
		return Server
	}
	return Client
}

// Meta is the first line of a trace file.
type Meta struct {
	// Schema is the format version (Schema).
	Schema int `json:"h2rpc_trace"`
	// At is where the trace was recorded: "client", "server" or "proxy".
	At Endpoint `json:"at"`
	// Start is the wall-clock time that event times count from.
	Start time.Time `json:"start"`
	// Label describes the run (a command line, a test name); may be empty.
	Label string `json:"label,omitempty"`
}

// Event is one frame that crossed a connection, as one JSON line. A frame
// is recorded when it is handed to the socket (sent by the recording
// endpoint) or when it has been read and parsed (received), so on one
// connection events are in wire order for each direction.
type Event struct {
	// Seq numbers the events of a trace from 0.
	Seq int `json:"seq"`
	// T is the event's time since Meta.Start in nanoseconds, from a
	// monotonic clock.
	T int64 `json:"t"`
	// Conn numbers the connections of a trace from 1, in the order their
	// first frame was recorded.
	Conn int `json:"conn"`
	// From is the endpoint that sent the frame: "client" or "server".
	From Endpoint `json:"from"`
	// Type is the frame type as RFC 9113 names it ("DATA", "HEADERS", ...;
	// "UNKNOWN_FRAME_TYPE_n" for others).
	Type string `json:"type"`
	// Stream is the stream identifier; 0 for connection frames.
	Stream uint32 `json:"stream"`
	// Flags are the names of the flags set ("END_STREAM", "END_HEADERS",
	// "ACK", "PADDED", "PRIORITY"); bits without a name for the type are
	// shown as "0xNN".
	Flags []string `json:"flags,omitempty"`
	// Len is the payload length from the frame header.
	Len uint32 `json:"len"`

	// Fields are the decoded header fields of a complete header block, on
	// the HEADERS or CONTINUATION frame that ends it. Values of sensitive
	// fields (see Redacted) are replaced by "[redacted]".
	Fields []Field `json:"fields,omitempty"`
	// Settings are the parameters of a SETTINGS frame, in wire order.
	Settings []Setting `json:"settings,omitempty"`
	// Increment is a WINDOW_UPDATE's window size increment.
	Increment uint32 `json:"increment,omitempty"`
	// Code is the error code of RST_STREAM or GOAWAY ("CANCEL", ...).
	Code string `json:"code,omitempty"`
	// LastStream is GOAWAY's last stream identifier.
	LastStream uint32 `json:"last_stream,omitempty"`
	// Debug is GOAWAY's debug data (at most 256 bytes of it).
	Debug string `json:"debug,omitempty"`
	// Ping is the opaque data of PING, in hex.
	Ping string `json:"ping,omitempty"`
	// Msgs are the lengths of the gRPC messages whose 5-octet length
	// prefix completes in this DATA frame, on streams whose request
	// content-type is application/grpc.
	Msgs []uint32 `json:"msgs,omitempty"`
	// Window is the flow-control credit after the frame, as the frames on
	// the wire define it.
	Window Window `json:"window"`
	// Error says why the frame could not be decoded in full (a header block
	// that failed to decode, a frame that broke a framing rule). Decoding
	// of that direction may stop after such an error.
	Error string `json:"error,omitempty"`
}

// Field is one header field.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Setting is one SETTINGS parameter.
type Setting struct {
	// ID is the parameter's RFC 9113 name ("INITIAL_WINDOW_SIZE", ...).
	ID    string `json:"id"`
	Value uint32 `json:"value"`
}

// Window is flow-control credit: how many more DATA octets each endpoint
// may send, on the connection and on the event's stream. The values follow
// from the frames alone (RFC 9113 §6.9: the initial 65535, the
// SETTINGS_INITIAL_WINDOW_SIZE each endpoint announced, WINDOW_UPDATE
// increments, DATA lengths), so they are what the wire allows; an
// endpoint's own accounting may lag by the frames in flight. The stream
// values are present only on events of a stream still tracked.
type Window struct {
	ClientConn   int64  `json:"client_conn"`
	ServerConn   int64  `json:"server_conn"`
	ClientStream *int64 `json:"client_stream,omitempty"`
	ServerStream *int64 `json:"server_stream,omitempty"`
}

// Redacted reports whether the value of a header field named name is
// replaced by "[redacted]" in a trace: credentials and cookies.
func Redacted(name string) bool {
	switch name {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "grpc-auth-token":
		return true
	}
	return false
}

// EndpointOf returns Client for the client side of a connection and
// Server for the server side.
func EndpointOf(client bool) Endpoint {
	if client {
		return Client
	}
	return Server
}
