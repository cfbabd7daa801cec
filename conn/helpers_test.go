package conn_test

import (
	"errors"
	"net"
	"testing"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
	"github.com/h2rpc/h2rpc/internal/h2test"
)

func f(name, value string) hpack.Field { return hpack.Field{Name: name, Value: value} }

func request(path string) []hpack.Field {
	return []hpack.Field{f(":method", "POST"), f(":scheme", "http"), f(":authority", "test"), f(":path", path)}
}

var (
	status200 = []hpack.Field{f(":status", "200")}
	trailerOK = []hpack.Field{f("grpc-status", "0")}
)

// startServer starts a server connection on a pipe, runs the client
// handshake and returns both ends.
func startServer(t *testing.T, cfg *conn.Config, h conn.Handler, settings ...frame.Setting) (*conn.Conn, *h2test.Peer) {
	t.Helper()
	nc, p := h2test.NewPipe(t)
	c, err := conn.Server(nc, cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p.ClientHandshake(settings...)
	return c, p
}

// startClient starts a client connection on a pipe, runs the server
// handshake and returns both ends.
func startClient(t *testing.T, cfg *conn.Config, settings ...frame.Setting) (*conn.Conn, *h2test.Peer) {
	t.Helper()
	nc, p := h2test.NewClientPipe(t)
	c, err := conn.Client(nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p.ServerHandshake(settings...)
	return c, p
}

// wantConnError expects the connection to end with a GOAWAY carrying code,
// and Err to report a *frame.ConnError with that code.
func wantConnError(t *testing.T, c *conn.Conn, p *h2test.Peer, code frame.ErrCode) {
	t.Helper()
	p.WantGoAway("connection error", code)
	p.WantClosed("closed after GOAWAY")
	<-c.Done()
	var ce *frame.ConnError
	if err := c.Err(); !errors.As(err, &ce) || ce.Code != code {
		t.Fatalf("Err() = %v, want a *frame.ConnError with %v", err, code)
	}
}

// blockingHandler returns a handler that parks every stream until release
// is closed, and a channel receiving each stream as it starts.
func blockingHandler(release <-chan struct{}) (conn.Handler, <-chan *conn.Stream) {
	started := make(chan *conn.Stream, 1000)
	return func(s *conn.Stream) {
		started <- s
		select {
		case <-release:
		case <-s.Context().Done():
		}
	}, started
}

func newClientPipe(t *testing.T) (net.Conn, *h2test.Peer) { return h2test.NewClientPipe(t) }

func asConnError(err error, target **frame.ConnError) bool { return errors.As(err, target) }

// dataWriter makes a stream an io.Writer of DATA, for io.Copy.
type dataWriter struct{ s *conn.Stream }

func (w dataWriter) Write(p []byte) (int, error) {
	if err := w.s.WriteData(nil, p, false); err != nil {
		return 0, err
	}
	return len(p), nil
}
