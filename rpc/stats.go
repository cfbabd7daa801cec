package rpc

import (
	"context"
	"io"
	"net"
	"time"
)

// StatsHandler observes calls and connections, for metrics and tracing (a
// smaller cousin of grpc-go's stats.Handler). Its methods are called on
// the call's own goroutines, synchronously, so they must be quick; they may
// be called concurrently for different calls and, within a streaming call,
// from its sending and receiving goroutines at once.
type StatsHandler interface {
	// TagCall is called as a call begins: on the client before its
	// request headers are built, so metadata added to the returned
	// context with AppendToOutgoingContext goes out with them; on the
	// server once the request headers arrived, and the handler runs under
	// the returned context. It must return ctx or a context derived from
	// it.
	TagCall(ctx context.Context, info *CallInfo) context.Context
	// HandleCall is called for each event of a call, with the context
	// TagCall returned.
	HandleCall(ctx context.Context, ev *CallEvent)
	// HandleConn is called when a connection begins and ends.
	HandleConn(ev *ConnEvent)
}

// CallInfo describes a call as it begins.
type CallInfo struct {
	// FullMethod is "/package.Service/Method".
	FullMethod string
	// Client is true on the client side of the call.
	Client bool
	// Metadata is the request's custom metadata: on the server what the
	// client sent; on the client what the context carries so far. Read
	// only.
	Metadata MD
}

// CallEventKind says what happened in a call.
type CallEventKind uint8

// The events of a call, in the order they occur (payload events repeat).
const (
	// CallBegin: the call started (right after TagCall).
	CallBegin CallEventKind = iota + 1
	// OutHeader: the request headers (client) or response headers (server) were sent.
	OutHeader
	// InHeader: the request headers (server) or response headers (client) arrived.
	InHeader
	// OutPayload: a message was sent.
	OutPayload
	// InPayload: a message arrived.
	InPayload
	// InTrailer: the client received the trailers.
	InTrailer
	// OutTrailer: the server sent the trailers.
	OutTrailer
	// CallEnd: the call is over; Status and Duration are set.
	CallEnd
)

var callEventNames = [...]string{"", "begin", "out-header", "in-header", "out-payload", "in-payload", "in-trailer", "out-trailer", "end"}

func (k CallEventKind) String() string {
	if int(k) < len(callEventNames) {
		return callEventNames[k]
	}
	return "unknown"
}

// CallEvent is one event of a call. Fields not relevant to Kind are zero.
type CallEvent struct {
	Kind       CallEventKind
	Client     bool
	FullMethod string
	// Metadata is the custom metadata of a header or trailer event (read
	// only; nil if none).
	Metadata MD
	// Length is a payload's uncompressed length and WireLength its length
	// on the wire: compressed if it was, plus the 5-octet message prefix.
	Length, WireLength int
	// Compressed reports a payload sent or received compressed.
	Compressed bool
	// Status is the call's outcome, on CallEnd (Code OK for success).
	Status *Status
	// Duration is the time from CallBegin, on CallEnd.
	Duration time.Duration
}

// ConnEvent is a connection beginning or ending.
type ConnEvent struct {
	// Begin is true when the connection begins, false when it ends.
	Begin  bool
	Client bool
	Local  net.Addr
	Remote net.Addr
	// Err is why the connection ended (nil for an orderly close), on an end.
	Err error
}

// ServerStats sets a StatsHandler for the server's calls and connections.
func ServerStats(h StatsHandler) ServerOption {
	return func(o *serverOptions) { o.stats = h }
}

// WithStats sets a StatsHandler for the ClientConn's calls and connections.
func WithStats(h StatsHandler) DialOption {
	return func(o *dialOptions) { o.stats = h }
}

// callStats is the stats state of one call; a nil *callStats reports
// nothing, which is all it costs when no handler is set.
type callStats struct {
	h      StatsHandler
	ctx    context.Context
	method string
	client bool
	begin  time.Time
	ended  bool
	plain  int // the uncompressed length of a unary response being sent
}

// beginCall tags and begins a call, returning its stats state and the
// context the call continues under.
func beginCall(ctx context.Context, h StatsHandler, method string, client bool, md MD) (*callStats, context.Context) {
	ctx = h.TagCall(ctx, &CallInfo{FullMethod: method, Client: client, Metadata: md})
	cs := &callStats{h: h, ctx: ctx, method: method, client: client, begin: time.Now()}
	cs.event(&CallEvent{Kind: CallBegin})
	return cs, ctx
}

func (c *callStats) event(ev *CallEvent) {
	ev.Client, ev.FullMethod = c.client, c.method
	c.h.HandleCall(c.ctx, ev)
}

func (c *callStats) header(kind CallEventKind, md MD) {
	if c != nil {
		c.event(&CallEvent{Kind: kind, Metadata: md})
	}
}

func (c *callStats) payload(kind CallEventKind, length, wire int, compressed bool) {
	if c != nil {
		c.event(&CallEvent{Kind: kind, Length: length, WireLength: wire, Compressed: compressed})
	}
}

// end reports the call's end, once, with err's status (nil or io.EOF: OK).
func (c *callStats) end(err error) {
	if c == nil || c.ended {
		return
	}
	c.ended = true
	st := &Status{Code: OK}
	if err != nil && err != io.EOF {
		st = StatusOf(err)
	}
	c.event(&CallEvent{Kind: CallEnd, Status: st, Duration: time.Since(c.begin)})
}

// received reports a message read by rd: b is its uncompressed bytes.
func (c *callStats) received(rd *msgReader, b []byte) {
	if c != nil {
		wire, compressed := rd.wire()
		c.payload(InPayload, len(b), wire, compressed)
	}
}

type callStatsKey struct{}

// callStatsFrom returns the stats state a server call keeps in its
// context (see beginServerCall), or nil.
func callStatsFrom(ctx context.Context) *callStats {
	c, _ := ctx.Value(callStatsKey{}).(*callStats)
	return c
}

// beginServerCall is beginCall for a server call, whose state rides in
// the returned context rather than in serverStream: it keeps the call's
// allocation in its size class.
func beginServerCall(ctx context.Context, h StatsHandler, method string, md MD) context.Context {
	c, ctx := beginCall(ctx, h, method, false, md)
	return context.WithValue(ctx, callStatsKey{}, c)
}

// sentMsg reports an encoded message b (prefix included) as sent; plain is
// its uncompressed length when known, or -1.
func (c *callStats) sentMsg(b []byte, plain int) {
	if c == nil || len(b) < msgHeaderLen {
		return
	}
	compressed := b[0] == 1
	if plain < 0 {
		plain = len(b) - msgHeaderLen
	}
	c.payload(OutPayload, plain, len(b), compressed)
}
