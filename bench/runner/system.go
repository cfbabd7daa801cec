package runner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// A Shape is a call shape a scenario needs from a system.
type Shape int

// The call shapes.
const (
	ShapeUnary        Shape = iota // one request, one response
	ShapeServerStream              // one request, a stream of responses
	ShapeBidi                      // messages both ways on one call
)

// A System is one transport under test: a server it can start on loopback
// and a client it can dial to it. Each system lives in its own file
// (sys_*.go) and adds itself with Register; that is all a new one needs.
//
// Every server implements the same three methods, whatever its protocol
// calls them: Unary echoes the request; Stream reads a StreamRequest and
// sends Count messages of Size bytes, then ends the call; PingPong echoes
// each message of a bidirectional call until the client half-closes.
type System interface {
	// Name is the system's name on the command line and in reports.
	Name() string
	// Supports reports whether the system implements the shape.
	Supports(Shape) bool
	// Start starts a server listening on 127.0.0.1.
	Start() (Server, error)
	// Dial connects a client to addr. It must have connected (or failed)
	// by the time it returns, so that connection setup is not measured.
	Dial(addr string, opts DialOptions) (Client, error)
}

// DialOptions tune a client.
type DialOptions struct {
	// Pool is the number of connections for systems that can spread calls
	// over several (see Pooler); 0 or 1 means one.
	Pool int
}

// Pooler is implemented by systems that run only one call at a time per
// connection (drpc): for concurrent unary calls the runner measures each
// pool size PoolSizes returns and reports the best.
type Pooler interface {
	PoolSizes(concurrency int) []int
}

// A Server is a running server; Close stops it and waits for its
// goroutines.
type Server interface {
	Addr() string
	Close() error
}

// A Client makes calls to one server. Unary may be called from many
// goroutines at once; the streaming methods are used by one goroutine.
type Client interface {
	// Unary sends req and stores the response in *resp, reusing its
	// capacity.
	Unary(ctx context.Context, req []byte, resp *[]byte) error
	// ServerStream asks for count messages of size bytes and calls onMsg
	// with the length of each as it arrives.
	ServerStream(ctx context.Context, size, count int, onMsg func(n int)) error
	// PingPong opens a bidirectional call.
	PingPong(ctx context.Context) (PingPonger, error)
	Close() error
}

// A PingPonger is an open bidirectional call: each Exchange sends one
// message and waits for the echo.
type PingPonger interface {
	Exchange(req []byte, resp *[]byte) error
	// Close half-closes the call and waits for the server to end it.
	Close() error
}

// ErrUnsupported is returned by clients for shapes their system lacks.
var ErrUnsupported = errors.New("shape not supported by this system")

// The method names, in gRPC's form; other systems use them as routes.
const (
	MethodUnary    = "/bench.Bench/Unary"
	MethodStream   = "/bench.Bench/Stream"
	MethodPingPong = "/bench.Bench/PingPong"
)

// A StreamRequest is the request of a Stream call: 8 bytes, the message
// size and count as big-endian uint32s.
type StreamRequest struct{ Size, Count int }

// maxStreamMsg bounds a requested message size: bad input must not make a
// server allocate without bound.
const maxStreamMsg = 16 << 20

// Append appends the request's encoding to b.
func (r StreamRequest) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(r.Size))
	return binary.BigEndian.AppendUint32(b, uint32(r.Count))
}

// ParseStreamRequest decodes a StreamRequest.
func ParseStreamRequest(b []byte) (StreamRequest, error) {
	if len(b) != 8 {
		return StreamRequest{}, fmt.Errorf("stream request is %d bytes, want 8", len(b))
	}
	r := StreamRequest{Size: int(binary.BigEndian.Uint32(b)), Count: int(binary.BigEndian.Uint32(b[4:]))}
	if r.Size > maxStreamMsg {
		return StreamRequest{}, fmt.Errorf("stream message size %d over the limit %d", r.Size, maxStreamMsg)
	}
	return r, nil
}

// streamPayloads caches one read-only payload per size for stream servers.
var streamPayloads sync.Map // int → []byte

func streamPayload(size int) []byte {
	if p, ok := streamPayloads.Load(size); ok {
		return p.([]byte)
	}
	p, _ := streamPayloads.LoadOrStore(size, make([]byte, size))
	return p.([]byte)
}

var (
	registryMu sync.Mutex
	registry   []System
)

// Register adds a system; it panics on a duplicate name. Systems register
// in init, in the order reports list them.
func Register(s System) {
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, r := range registry {
		if r.Name() == s.Name() {
			panic("runner: system " + s.Name() + " registered twice")
		}
	}
	registry = append(registry, s)
}

// Systems returns the registered systems in report order.
func Systems() []System {
	registryMu.Lock()
	defer registryMu.Unlock()
	return slices.Clone(registry)
}

// Lookup returns the registered system called name.
func Lookup(name string) (System, bool) {
	for _, s := range Systems() {
		if s.Name() == name {
			return s, true
		}
	}
	return nil, false
}

// msgStream is what pingpong needs of a gRPC-style client stream; grpc-go's
// and h2rpc's have the same methods.
type msgStream interface {
	SendMsg(m any) error
	RecvMsg(m any) error
	CloseSend() error
}

// streamPingPong is the PingPonger of the systems with gRPC-style streams.
type streamPingPong struct {
	cs     msgStream
	cancel context.CancelFunc
}

func (p *streamPingPong) Exchange(req []byte, resp *[]byte) error {
	if err := p.cs.SendMsg(req); err != nil {
		return err
	}
	return p.cs.RecvMsg(resp)
}

func (p *streamPingPong) Close() error {
	defer p.cancel()
	if err := p.cs.CloseSend(); err != nil {
		return err
	}
	var b []byte
	if err := p.cs.RecvMsg(&b); !errors.Is(err, io.EOF) {
		return errors.Join(errors.New("pingpong: call did not end cleanly"), err)
	}
	return nil
}
