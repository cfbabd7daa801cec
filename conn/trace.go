package conn

import (
	"net"

	"github.com/h2rpc/h2rpc/frame"
)

// A Tracer sees every frame of one connection, for debugging and drawing
// (package trace records and draws them). Config.Trace makes one per
// connection. Its methods run on the connection's own goroutines, in line
// with reading and writing, so they must be quick; TraceWrite calls never
// overlap each other, nor do TraceRead calls, but the two may run at once.
type Tracer interface {
	// TraceWrite is called with each batch of whole frames as it is handed
	// to the socket, in the order written; on a client the first batch
	// begins with the connection preface. b is valid only during the call.
	TraceWrite(b []byte)
	// TraceRead is called with each frame read and parsed, before it is
	// applied (a frame that fails a stream-level check is reported too).
	// f and what it holds are valid only during the call.
	TraceRead(f frame.Frame)
}

// ConnInfo describes a connection as it starts, for Config.Trace.
type ConnInfo struct {
	Client        bool
	Local, Remote net.Addr
}

// newTracer makes the connection's Tracer, if Config.Trace asks for one.
func (s *settings) newTracer(client bool, nc net.Conn) Tracer {
	if s.trace == nil {
		return nil
	}
	return s.trace(ConnInfo{Client: client, Local: nc.LocalAddr(), Remote: nc.RemoteAddr()})
}
