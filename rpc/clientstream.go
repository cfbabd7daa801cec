package rpc

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

// ClientStream is the client side of a streaming call. SendMsg and CloseSend
// may be called from one goroutine while RecvMsg is called from another.
// The call ends when RecvMsg returns an error (io.EOF for success) or its
// context ends: a caller that stops early must cancel the context, or the
// stream stays open.
type ClientStream interface {
	// Header waits for the response header metadata. It fails if the call
	// failed before the headers came; a Trailers-Only response has none.
	Header() (MD, error)
	// Trailer returns the trailer metadata, once RecvMsg has returned an
	// error.
	Trailer() MD
	// CloseSend half-closes the call: the client sends no more messages.
	CloseSend() error
	// Context returns the call's context.
	Context() context.Context
	// SendMsg sends one request message. If the server already ended the
	// call it returns io.EOF, or nil if this is the one request of a call
	// whose StreamDesc has no ClientStreams: RecvMsg then reports the
	// status.
	SendMsg(m any) error
	// RecvMsg receives one response message into m. At the end of the call
	// it returns io.EOF if the status is OK, the status error otherwise.
	RecvMsg(m any) error
}

var unaryDesc = &StreamDesc{}

// fieldsPool holds request header slices: conn encodes a header block
// before conn.OpenStream returns, so the slice is free again right after.
var fieldsPool = sync.Pool{New: func() any { s := make([]hpack.Field, 0, 16); return &s }}

// Invoke makes a unary call: it sends req to method ("/package.Service/
// Method") and receives the response into reply.
//
// With a service config (WithServiceConfig), the call follows its method's
// policy (retry.go), under the interceptors.
func (cc *ClientConn) Invoke(ctx context.Context, method string, req, reply any, opts ...CallOption) error {
	if !cc.resolvedOnce.Load() {
		cc.awaitResolution(ctx)
	}
	next := UnaryInvoker(invoke)
	if cc.sc.Load() != nil {
		next = invokeWithPolicy
	}
	if cc.opts.unaryInt != nil {
		return cc.opts.unaryInt(ctx, method, req, reply, cc, next, opts...)
	}
	return next(ctx, method, req, reply, cc, opts...)
}

func invoke(ctx context.Context, method string, req, reply any, cc *ClientConn, opts ...CallOption) error {
	var stats *callStats
	if h := cc.opts.stats; h != nil {
		md, _ := FromOutgoingContext(ctx)
		stats, ctx = beginCall(ctx, h, method, true, md)
	}
	ci := cc.callInfo(opts)
	comp, err := ci.compressorFor()
	if err != nil {
		stats.end(err)
		return err
	}
	// Marshal before opening the stream: a request that cannot be encoded
	// costs the server nothing.
	var b []byte
	var hdr *[msgHeaderLen]byte
	var rawHdr [msgHeaderLen]byte
	plain := -1
	if stats == nil {
		// A large []byte goes out behind its prefix, not copied after it
		// (stats see the encoded message, so they take the copy).
		if data, ok := rawMsg(&rawHdr, ci.codec, req, comp, ci.maxSend); ok {
			hdr, b = &rawHdr, data
		}
	}
	if b == nil {
		buf := getBuf()
		defer putBuf(buf)
		b, plain, err = encodeMsgLen((*buf)[:0], ci.codec, req, comp, nil, ci.maxSend)
		*buf = b[:0]
		if err != nil {
			stats.end(err)
			return err
		}
	}
	// The request goes with the headers, in one write, and stays at hand
	// for a transparent retry. A write error means the stream ended:
	// RecvMsg reports why.
	cs, err := cc.openStream(ctx, ci, comp, unaryDesc, method, hdr, b)
	if err != nil {
		stats.end(err)
		return err
	}
	if stats != nil {
		cs.stats = stats
		stats.header(OutHeader, nil)
		stats.sentMsg(b, plain)
	}
	cs.sendClosed.Store(true)
	err = cs.RecvMsg(reply) // always finishes a unary call
	if ci.attempt != nil {
		ci.attempt.ended(cs)
	}
	if ci.header != nil {
		*ci.header = cs.headerMD
	}
	if ci.trailer != nil {
		*ci.trailer = cs.trailer
	}
	*cs = clientStream{}
	unaryStreams.Put(cs)
	return err
}

// unprocessed reports whether err, the error of stream id, says the server
// never processed the stream: it reset it with REFUSED_STREAM ("Indicates
// that no processing occurred and the request can be retried",
// PROTOCOL-HTTP2.md, Errors), or its id is above the last stream id of the
// server's GOAWAY (RFC 9113 §6.8). A connection that ended after a GOAWAY
// that covered the stream wraps that GOAWAY too: the id tells them apart.
func unprocessed(err error, id uint32) bool {
	var re *conn.ResetError
	if errors.As(err, &re) {
		return re.Remote && re.Code == frame.ErrCodeRefusedStream
	}
	var ge *conn.GoAwayError
	return errors.As(err, &ge) && id > ge.LastStreamID
}

// NewStream starts a streaming call of the shape desc describes.
func (cc *ClientConn) NewStream(ctx context.Context, desc *StreamDesc, method string, opts ...CallOption) (ClientStream, error) {
	if cc.opts.streamInt != nil {
		return cc.opts.streamInt(ctx, desc, cc, method, newClientStream, opts...)
	}
	return newClientStream(ctx, desc, cc, method, opts...)
}

func newClientStream(ctx context.Context, desc *StreamDesc, cc *ClientConn, method string, opts ...CallOption) (ClientStream, error) {
	if desc == nil {
		return nil, newStatus(Internal, "rpc: NewStream needs a StreamDesc")
	}
	var stats *callStats
	if h := cc.opts.stats; h != nil {
		md, _ := FromOutgoingContext(ctx)
		stats, ctx = beginCall(ctx, h, method, true, md)
	}
	if !cc.resolvedOnce.Load() {
		cc.awaitResolution(ctx)
	}
	var pol streamPolicy
	if sc := cc.sc.Load(); sc != nil {
		ctx, opts, pol = cc.streamPolicy(ctx, sc, method, opts) // retry.go
	}
	ci := cc.callInfo(opts)
	comp, err := ci.compressorFor()
	switch {
	case err != nil:
	case pol.retry != nil:
		ci.attempt = new(attemptInfo)
	case pol.hedge != nil:
		ci.attempt = &attemptInfo{hedge: new(hedgeBackends)}
	}
	var cs *clientStream
	if err == nil {
		cs, err = cc.openStream(ctx, ci, comp, desc, method, nil, nil)
	}
	if err != nil {
		stats.end(err)
		if pol.cancel != nil {
			pol.cancel()
		}
		return nil, err
	}
	cs.policy = pol
	if pol.retry != nil {
		// A caller that ends the call by its context, without RecvMsg,
		// still gives its retry buffer back.
		cs.policy.stop = context.AfterFunc(ctx, cs.commit)
	}
	if pol.hedge != nil {
		cs.startHedging() // hedgestream.go; it commits when ctx ends
	}
	if stats != nil {
		cs.stats = stats
		stats.header(OutHeader, nil)
	}
	return cs, nil
}

// callInfo returns the settings of a call: the ClientConn's defaults,
// shared and read-only, when the call has no options of its own, which
// spares an allocation per call.
func (cc *ClientConn) callInfo(opts []CallOption) *callInfo {
	if len(opts) == 0 {
		return &cc.defaults
	}
	ci := new(callInfo)
	*ci = cc.defaults
	for _, o := range opts {
		o(ci)
	}
	if ci.mc != nil {
		ci.applySizes()
	}
	return ci
}

func (ci *callInfo) compressorFor() (Compressor, error) {
	if ci.compressor == "" || ci.compressor == "identity" {
		return nil, nil
	}
	c := compressorFor(ci.compressor)
	if c == nil {
		return nil, statusf(Internal, "rpc: no compressor registered as %q", ci.compressor)
	}
	return c, nil
}

// clientStream is the client side of one call, unary or streaming.
//
// A call is retried transparently, once, when the server never processed
// its stream (see unprocessed and grpc proposal A6, "Transparent Retry"),
// as long as it has not committed: no response headers came and what it sent
// is still at hand to send again. Until then the call keeps a copy of the
// request bytes it sent (a unary call's request is Invoke's own buffer),
// up to the per-call retry buffer (WithRetryBuffer); past that, or once the response headers arrive, it
// commits and its stream is final.
type clientStream struct {
	cc      *ClientConn
	ctx     context.Context
	ci      *callInfo
	method  string
	st      *conn.Stream // guarded by retryMu until committed, then fixed
	backend *Backend     // st's; guarded by retryMu until committed, then fixed
	desc    *StreamDesc
	codec   Codec
	comp    Compressor
	maxSend int

	retryMu   sync.Mutex
	committed atomic.Bool // stored under retryMu: no retry any more, st is final
	retried   bool        // guarded by retryMu: the one transparent retry was made
	replay    []byte      // guarded by retryMu: the request bytes sent, until committed
	replayPre []byte      // guarded by retryMu: a unary call's message prefix, sent before replay when rawMsg left it apart
	replayEnd bool        // guarded by retryMu: END_STREAM was sent

	sendClosed atomic.Bool        // END_STREAM sent (or the call is over)
	over       atomic.Bool        // the receiving side finished the call
	sendBuf    *[]byte            // used by the sending goroutine only
	sendHdr    [msgHeaderLen]byte // the prefix of a message sent by rawMsg; likewise

	headerOnce sync.Once
	headerMD   MD    // set by headerOnce
	headerErr  error // set by headerOnce: the call failed before its headers
	// trailersOnly is set by headerOnce: the response was one block.
	trailersOnly bool

	// Used by the receiving goroutine only.
	rd       msgReader
	received int
	finished bool
	finalErr error // what RecvMsg returns once finished
	trailer  MD

	// headerOut and trailerOut receive the metadata when a streaming call
	// finishes (the Header and Trailer call options).
	headerOut, trailerOut *MD

	stats *callStats // nil without a StatsHandler

	// policy is the service config's for a streaming call (retry.go).
	policy streamPolicy
	// hedge is the state of a hedged streaming call (hedgestream.go); nil
	// for others. Set before NewStream returns.
	hedge *streamHedge
}

// openStream starts a call: it opens its stream (see newAttempt). A unary
// call's whole request, hdr (if not nil, the prefix rawMsg left apart)
// followed by msg, goes with the headers and ends the stream; a nil msg
// sends headers only.
func (cc *ClientConn) openStream(ctx context.Context, ci *callInfo, comp Compressor, desc *StreamDesc, method string, hdr *[msgHeaderLen]byte, msg []byte) (*clientStream, error) {
	var cs *clientStream
	if desc == unaryDesc {
		cs = unaryStreams.Get().(*clientStream)
	} else {
		cs = new(clientStream)
	}
	// The prefix lives in cs, which the call keeps (for a retry) to its end.
	var pre []byte
	if hdr != nil {
		cs.sendHdr = *hdr
		pre = cs.sendHdr[:]
	}
	st, b, err := cc.newAttempt(ctx, ci, comp, desc, method, pre, msg, msg != nil)
	if err != nil {
		if desc == unaryDesc {
			*cs = clientStream{}
			unaryStreams.Put(cs)
		}
		return nil, err
	}
	*cs = clientStream{cc: cc, ctx: ctx, ci: ci, method: method, st: st, backend: b, desc: desc, codec: ci.codec, comp: comp, maxSend: ci.maxSend,
		headerOut: ci.header, trailerOut: ci.trailer, sendHdr: cs.sendHdr, replayPre: pre, replay: msg, replayEnd: msg != nil}
	cs.rd.r = st
	cs.rd.maxSize = ci.maxRecv
	return cs, nil
}

// newAttempt opens a stream for a call and sends the request headers:
// "Request-Headers → Call-Definition *Custom-Metadata" (PROTOCOL-HTTP2.md,
// Requests), then pre followed by body (END_STREAM after it if end), in one batch, on a
// connection of the backend the balancer picks, which counts the call as
// outstanding until its done is called.
func (cc *ClientConn) newAttempt(ctx context.Context, ci *callInfo, comp Compressor, desc *StreamDesc, method string, pre, body []byte, end bool) (*conn.Stream, *Backend, error) {
	if ctx.Err() != nil {
		return nil, nil, contextStatus(ctx)
	}
	fp := fieldsPool.Get().(*[]hpack.Field)
	defer func() {
		clear((*fp)[:cap(*fp)]) // drop the strings for the garbage collector
		fieldsPool.Put(fp)
	}()
	fields := (*fp)[:0]
	fields = append(fields,
		hpack.Field{Name: ":method", Value: "POST"},
		hpack.Field{Name: ":scheme", Value: cc.scheme()},
		hpack.Field{Name: ":path", Value: method},
		hpack.Field{Name: ":authority", Value: cc.authority},
	)
	deadline, hasDeadline := ctx.Deadline()
	timeoutAt := -1
	if hasDeadline {
		// "implementations should send Timeout immediately after the
		// reserved headers" (PROTOCOL-HTTP2.md, Requests). Its value is
		// set below, once a connection is at hand.
		timeoutAt = len(fields)
		fields = append(fields, hpack.Field{Name: "grpc-timeout"})
	}
	fields = append(fields,
		hpack.Field{Name: "content-type", Value: contentType(ci.codec.Name())},
		hpack.Field{Name: "te", Value: "trailers"},
		hpack.Field{Name: "user-agent", Value: cc.userAgent},
	)
	if comp != nil {
		fields = append(fields, hpack.Field{Name: "grpc-encoding", Value: comp.Name()})
	}
	fields = append(fields, hpack.Field{Name: "grpc-accept-encoding", Value: acceptEncoding()})
	if ci.attempt != nil && ci.attempt.prev > 0 {
		fields = append(fields, hpack.Field{Name: "grpc-previous-rpc-attempts", Value: strconv.Itoa(ci.attempt.prev)})
	}
	fields, err := appendOutgoing(fields, ctx)
	*fp = fields[:0]
	if err != nil {
		return nil, nil, err
	}

	var st *conn.Stream
	for attempt := 0; ; attempt++ {
		var c *conn.Conn
		var b *Backend
		if ci.pinned != nil {
			c = ci.pinned
		} else if c, b, err = cc.pick(ctx, ci); err != nil {
			return nil, nil, err
		}
		if testHookPicked != nil {
			testHookPicked(c)
		}
		if hasDeadline {
			// The time left is measured after dialing, so the server
			// never gets more time than the client has.
			left := time.Until(deadline)
			if left <= 0 {
				b.release()
				return nil, nil, &Status{Code: DeadlineExceeded, Message: "context deadline exceeded", cause: context.DeadlineExceeded}
			}
			fields[timeoutAt].Value = encodeTimeout(left)
		}
		var flags conn.OpenFlags
		if end {
			flags |= conn.EndStream
		}
		if desc == unaryDesc {
			// Invoke stays in the stream's calls until the call is over,
			// and resets the stream if it ends early (finish): conn
			// need not watch ctx in between.
			flags |= conn.Unwatched
		}
		st, err = c.OpenStreamPrefixed(ctx, fields, pre, body, flags)
		if err == nil {
			if ci.peer != nil {
				*ci.peer = *cc.peerOfConn(c) // peer.go
			}
			return st, b, nil
		}
		b.release()
		// A stream refused because the connection drains, or because it
		// ended after the pick (a GOAWAY drained it with no stream left),
		// was never sent: retry it transparently, on whichever backend the
		// balancer picks now (a pinned call has no other connection).
		unsent := errors.Is(err, conn.ErrNotAvailable) || errors.Is(err, conn.ErrClosed) && ci.pinned == nil
		if unsent && attempt < 3 && ctx.Err() == nil {
			continue
		}
		return nil, nil, clientErr(ctx, err)
	}
}

// testHookPicked, set by tests only, runs between a call's pick of a
// connection and the opening of its stream there.
var testHookPicked func(*conn.Conn)

// write sends one message, pre followed by p (END_STREAM after it if end),
// on the call's stream, keeping a copy for a retry until the call commits.
// It returns io.EOF if the call is over: RecvMsg has the status.
func (cs *clientStream) write(pre, p []byte, end bool) error {
	if cs.committed.Load() {
		if err := cs.st.WriteData(pre, p, end); err != nil {
			return io.EOF
		}
		return nil
	}
	cs.retryMu.Lock()
	if !cs.committed.Load() {
		if len(cs.replay)+len(pre)+len(p) > cs.cc.retryCallBuffer || !cs.policy.hold(cs.cc, len(pre)+len(p)) {
			cs.commitLocked()
		} else {
			cs.replay = append(append(cs.replay, pre...), p...)
			cs.replayEnd = end
		}
	}
	st := cs.st
	var hedged []*conn.Stream
	undecided := cs.hedge != nil && !cs.hedge.won
	if undecided {
		hedged = cs.hedgeStreamsLocked()
	}
	cs.retryMu.Unlock()
	if undecided {
		// Every open attempt gets the message; an attempt opened later
		// gets it from the replay buffer. One that fails reports through
		// its watcher (hedgestream.go).
		for _, st := range hedged {
			_ = st.WriteData(pre, p, end)
		}
		return nil
	}
	if err := st.WriteData(pre, p, end); err != nil && cs.retry(st, err) != nil {
		return io.EOF
	}
	// Sent, or sent again on a new stream with what came before it.
	return nil
}

// stream returns the call's current stream.
func (cs *clientStream) stream() *conn.Stream {
	if cs.committed.Load() {
		return cs.st
	}
	cs.retryMu.Lock()
	defer cs.retryMu.Unlock()
	return cs.st
}

// commit ends the call's chance of a retry: its stream is final.
func (cs *clientStream) commit() {
	if cs.committed.Load() {
		return
	}
	cs.retryMu.Lock()
	cs.commitLocked()
	cs.retryMu.Unlock()
}

func (cs *clientStream) commitLocked() {
	if h := cs.hedge; h != nil && !h.won {
		// The oldest open attempt has been sent everything and goes on
		// (or, with none open, the last that failed ends the call).
		a := h.last
		if len(h.live) > 0 {
			a = h.live[0]
		}
		cs.decideLocked(a) // hedgestream.go
	}
	cs.policy.release(cs.cc)
	cs.committed.Store(true)
	cs.replayPre, cs.replay = nil, nil // a copy of ours, or Invoke's buffer (or message), which it recycles
}

// retry is called when a write on failed, or the wait for its response
// headers, failed with err. If the server never processed the stream, the
// call has not committed and has not been retried yet, it opens the call
// again (on whatever connection takes new streams now) and sends what was
// sent on failed; nil means the call goes on, on cs.st. Otherwise it returns
// the error to report. Either goroutine of a call may get here first; the
// other then finds cs.st replaced and goes on with it.
func (cs *clientStream) retry(failed *conn.Stream, err error) error {
	cs.retryMu.Lock()
	defer cs.retryMu.Unlock()
	if cs.st != failed {
		return nil
	}
	if cs.committed.Load() || cs.retried || !unprocessed(err, failed.ID()) {
		return err
	}
	if _, herr := failed.ReadHeaders(); herr == nil {
		// Response headers came before the reset: the server saw the
		// call. (The stream has ended, so this does not wait.)
		return err
	}
	if st := ctxEnded(cs.ctx); st != nil {
		return st
	}
	cs.retried = true
	st, b, nerr := cs.cc.newAttempt(cs.ctx, cs.ci, cs.comp, cs.desc, cs.method, cs.replayPre, cs.replay, cs.replayEnd)
	if nerr != nil {
		cs.commitLocked()
		return nerr
	}
	// The backend that refused the stream did not serve the call: it
	// counts it neither as outstanding nor as a failure.
	cs.backend.release()
	cs.st, cs.backend = st, b
	return nil
}

// unaryStreams recycles the state of unary calls, which never leaves
// Invoke (streaming calls hand theirs to the caller).
var unaryStreams = sync.Pool{New: func() any { return new(clientStream) }}

func (cs *clientStream) Context() context.Context { return cs.ctx }

func (cs *clientStream) SendMsg(m any) error {
	only := !cs.desc.ClientStreams && !cs.sendClosed.Load()
	err := cs.sendMsg(m)
	if err == io.EOF && only {
		// The call's one request found the call over (the server may
		// answer before reading it, as an interceptor denying the call
		// does). The generated code of a server-streaming method returns
		// SendMsg's error as the method's own, where io.EOF would hide
		// the status: report success and leave the status to RecvMsg,
		// as grpc-go does.
		return nil
	}
	return err
}

func (cs *clientStream) sendMsg(m any) error {
	if cs.over.Load() {
		return io.EOF // the call is over: RecvMsg has the status
	}
	if cs.sendClosed.Load() {
		return newStatus(Internal, "rpc: SendMsg after CloseSend")
	}
	// The one request of a unary or server-streaming call carries
	// END_STREAM itself.
	last := !cs.desc.ClientStreams
	if data, ok := rawMsg(&cs.sendHdr, cs.codec, m, cs.comp, cs.maxSend); ok {
		if last {
			cs.sendClosed.Store(true)
		}
		err := cs.write(cs.sendHdr[:], data, last)
		if err == nil {
			cs.stats.payload(OutPayload, len(data), msgHeaderLen+len(data), false)
		}
		return err
	}
	if cs.sendBuf == nil {
		cs.sendBuf = getBuf()
	}
	b, plain, err := encodeMsgLen((*cs.sendBuf)[:0], cs.codec, m, cs.comp, nil, cs.maxSend)
	*cs.sendBuf = b[:0]
	if err != nil {
		return err
	}
	if last {
		cs.sendClosed.Store(true)
	}
	err = cs.write(nil, b, last)
	if err == nil {
		cs.stats.sentMsg(b, plain)
	}
	return err
}

func (cs *clientStream) CloseSend() error {
	if cs.sendClosed.Swap(true) {
		return nil
	}
	if cs.sendBuf != nil {
		putBuf(cs.sendBuf)
		cs.sendBuf = nil
	}
	// "In scenarios where the Request stream needs to be closed but no data
	// remains to be sent implementations MUST send an empty DATA frame with
	// this flag set" (PROTOCOL-HTTP2.md, Requests). An error means the call
	// is over: RecvMsg reports it.
	_ = cs.write(nil, nil, true)
	return nil
}

func (cs *clientStream) Header() (MD, error) {
	cs.headerOnce.Do(cs.readHeaders)
	if cs.headerErr != nil {
		return nil, cs.headerErr
	}
	return cs.headerMD, nil
}

func (cs *clientStream) Trailer() MD { return cs.trailer }

// readHeaders reads the response headers (once). A Trailers-Only response
// leaves the call's status for RecvMsg in headerErr's place: see recv.
func (cs *clientStream) readHeaders() {
	if cs.hedge != nil {
		<-cs.hedge.done // the call committed to cs.st, which has its headers or ended
	}
	st := cs.stream()
	fields, err := st.ReadHeaders()
	for {
		for err != nil {
			if err = cs.retry(st, err); err != nil {
				cs.commit()
				cs.headerErr = clientErr(cs.ctx, err)
				return
			}
			st = cs.stream()
			fields, err = st.ReadHeaders()
		}
		// A Trailers-Only failure of a call with a retry policy may be
		// retried while the call has not committed (retry.go).
		if cs.policy.retry == nil || !st.TrailersOnly() || !cs.retryByPolicy(st) {
			break
		}
		st = cs.stream()
		fields, err = st.ReadHeaders()
	}
	// The response began: the server has the call.
	cs.commit()
	cs.rd.r = st
	if cs.stats != nil {
		defer func() {
			if cs.headerErr == nil && !cs.trailersOnly {
				cs.stats.header(InHeader, cs.headerMD)
			}
		}()
	}
	if st.TrailersOnly() {
		cs.trailersOnly = true
		return // RecvMsg reads the same block as trailers.
	}
	statusField, ct, enc := "", "", ""
	for _, f := range fields {
		switch f.Name {
		case ":status":
			statusField = f.Value
		case "content-type":
			ct = f.Value
		case "grpc-encoding":
			enc = f.Value
		default:
			if isCustomReceived(f.Name) && f.Name != "user-agent" {
				if cs.headerMD == nil {
					cs.headerMD = MD{}
				}
				if err := addReceived(cs.headerMD, f); err != nil {
					cs.headerErr = statusf(Internal, "grpc: %v", err)
					return
				}
			}
		}
	}
	if statusField != "200" {
		// "Implementations should expect broken deployments to send
		// non-200 HTTP status codes ... Implementations must synthesize a
		// Status" (PROTOCOL-HTTP2.md, Responses).
		n, _ := strconv.Atoi(statusField)
		cs.headerErr = httpStatus(n, "not a gRPC response")
		return
	}
	if _, ok := contentSubtype(ct); !ok {
		cs.headerErr = httpStatus(200, "unexpected content-type "+strconv.Quote(ct))
		return
	}
	cs.rd.encoding = enc
	if enc != "" && enc != "identity" {
		cs.rd.decomp = compressorFor(enc) // nil: a compressed message fails INTERNAL
	}
}

func (cs *clientStream) RecvMsg(m any) error {
	if cs.finished {
		return cs.finalErr
	}
	err := cs.recv(m)
	if err != nil {
		cs.finish(err)
		return cs.finalErr
	}
	return nil
}

// pastDeadline fails a call whose deadline has passed with a local
// DEADLINE_EXCEEDED, whatever else went wrong: "Client implementations are
// entitled to fail calls with DEADLINE_EXCEEDED at any point after the
// deadline expires" (PROTOCOL-HTTP2.md, Client Cancellation). The clock is
// read rather than ctx.Err(), which may lag the deadline by a timer tick
// while a server's DEADLINE_EXCEEDED or CANCEL has already arrived.
func pastDeadline(ctx context.Context, err error) error {
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return &Status{Code: DeadlineExceeded, Message: "context deadline exceeded", cause: context.DeadlineExceeded}
	}
	return err
}

func (cs *clientStream) recv(m any) error {
	cs.headerOnce.Do(cs.readHeaders)
	if cs.headerErr != nil {
		return cs.headerErr
	}
	var b []byte
	var direct bool
	var err error
	if cs.trailersOnly {
		// The one block is the whole response: nothing to read (and a
		// RST_STREAM(NO_ERROR) the server may send after it, RFC 9113
		// §8.1, must not turn it into an error).
		err = io.EOF
	} else {
		b, direct, err = cs.rd.nextInto(bytesTarget(cs.codec, m))
		if err != nil && err != io.EOF && cs.st.Trailers() != nil {
			// The response ended with trailers and then the stream was
			// reset: the trailers' status, if an error, says more.
			if terr := cs.readTrailers(); terr != nil {
				return terr
			}
		}
	}
	if err == io.EOF {
		if err := cs.readTrailers(); err != nil {
			return cs.ended(err)
		}
		if !cs.desc.ServerStreams && cs.received == 0 {
			// "Response cardinality violation (method requires exactly one
			// response but server sent some other number of responses) |
			// UNIMPLEMENTED | Client" (statuscodes.md).
			return newStatus(Unimplemented, "grpc: cardinality violation: no response message on a non-server-streaming call")
		}
		return io.EOF
	}
	if err != nil {
		return clientErr(cs.ctx, err)
	}
	cs.stats.received(&cs.rd, b)
	if !direct {
		if err := cs.codec.Unmarshal(b, m); err != nil {
			return statusf(Internal, "grpc: failed to unmarshal the response: %v", err)
		}
	}
	cs.received++
	if cs.desc.ServerStreams {
		return nil
	}
	// One response only: the stream must end here, and its status decides
	// the call.
	if _, err := cs.rd.next(); err != io.EOF {
		if err == nil {
			err = newStatus(Unimplemented, "grpc: cardinality violation: more than one response message on a non-server-streaming call")
		}
		cs.finish(clientErr(cs.ctx, err))
		return cs.finalErr
	}
	if err := cs.readTrailers(); err != nil {
		cs.finish(cs.ended(err))
		return cs.finalErr
	}
	cs.finish(io.EOF)
	return nil
}

// finish ends the call on the receiving side with err (io.EOF: success).
// A call that ends before the client finished sending resets the stream:
// after an error with CANCEL, after the server's trailers with NO_ERROR
// ("when a client receives Trailers before the client's END_STREAM, then
// the client should send RST_STREAM with NO_ERROR", PROTOCOL-HTTP2.md).
func (cs *clientStream) finish(err error) {
	if cs.finished {
		return
	}
	cs.finished = true
	cs.over.Store(true)
	if err != io.EOF {
		err = pastDeadline(cs.ctx, err)
	}
	st, _ := err.(*Status)
	fromPeer := err == io.EOF || (st != nil && st.cause == errFromTrailers)
	if err == io.EOF {
		cs.finalErr = io.EOF
	} else {
		cs.finalErr = err
	}
	if !cs.sendClosed.Swap(true) || !fromPeer {
		if fromPeer {
			cs.st.Reset(frame.ErrCodeNo)
		} else {
			cs.st.Reset(frame.ErrCodeCancel)
		}
	}
	cs.rd.release()
	if cs.stats != nil {
		if cs.st.Trailers() != nil {
			cs.stats.header(InTrailer, cs.trailer)
		}
		cs.stats.end(cs.finalErr)
	}
	cs.commit() // no retry now: the backend is final
	cs.backend.done(cs.finalErr, cs.trailer)
	if cs.policy.retry != nil || cs.policy.hedge != nil || cs.policy.cancel != nil {
		cs.policy.finish(cs.finalErr)
	}
	if cs.desc != unaryDesc { // Invoke stores a unary call's metadata itself
		if cs.headerOut != nil {
			*cs.headerOut = cs.headerMD
		}
		if cs.trailerOut != nil {
			*cs.trailerOut = cs.trailer
		}
	}
}

// ended refines the error of a stream that ended without a status in
// trailers: the caller's context ending, or a reset, explains it better than
// the missing trailers do. (conn's Read reports io.EOF rather than the
// *ResetError on a stream reset after its data ended, so the reset comes
// from the stream's Err.)
func (cs *clientStream) ended(err error) error {
	if st, ok := err.(*Status); !ok || st.cause == errFromTrailers || cs.st.Trailers() != nil {
		return err
	}
	if cs.ctx.Err() != nil {
		return contextStatus(cs.ctx)
	}
	if serr := cs.st.Err(); serr != nil {
		var re *conn.ResetError
		if errors.As(serr, &re) || errors.Is(serr, conn.ErrClosed) {
			return clientErr(cs.ctx, serr)
		}
	}
	return err
}

// errFromTrailers marks a status the server sent, as opposed to one made up
// locally.
var errFromTrailers = errors.New("status from the server's trailers")

// readTrailers reads the status from the trailers (or the Trailers-Only
// block) after the stream ended; nil means OK.
func (cs *clientStream) readTrailers() error {
	fields := cs.st.Trailers()
	if fields == nil {
		return newStatus(Internal, "grpc: the server closed the stream without sending trailers")
	}
	var (
		code      Code
		haveCode  bool
		msg       string
		details   []byte
		httpCode  = 200
		badStatus string
		sawBad    bool
	)
	for _, f := range fields {
		switch f.Name {
		case "grpc-status":
			c, ok := parseCode(f.Value)
			if !ok {
				badStatus, sawBad = f.Value, true
				continue
			}
			code, haveCode = c, true
		case "grpc-message":
			msg = decodeGRPCMessage(f.Value)
		case "grpc-status-details-bin":
			d, err := decodeBin(f.Value)
			if err == nil {
				details = []byte(d)
			}
		case ":status":
			httpCode, _ = strconv.Atoi(f.Value)
		default:
			if isCustomReceived(f.Name) && f.Name != "user-agent" {
				if cs.trailer == nil {
					cs.trailer = MD{}
				}
				if err := addReceived(cs.trailer, f); err != nil {
					return statusf(Internal, "grpc: %v", err)
				}
			}
		}
	}
	switch {
	case sawBad:
		// "Error parsing returned status | UNKNOWN | Client"
		// (statuscodes.md).
		return statusf(Unknown, "grpc: malformed grpc-status %q", badStatus)
	case !haveCode && httpCode != 200:
		return httpStatus(httpCode, "no grpc-status")
	case !haveCode:
		// grpc doc/http-grpc-status-mapping.md: "200 is UNKNOWN because
		// there should be a grpc-status in case of truly OK response".
		return newStatus(Unknown, "grpc: the server sent no grpc-status")
	case code == OK:
		return nil
	}
	return &Status{Code: code, Message: msg, Details: details, cause: errFromTrailers}
}

// clientErr maps an error of a client stream to the call's status. The
// caller's context comes first: "The RPC's deadline expiring is considered
// a client cancellation" and "when a call fails with CANCELLED status the
// client is encouraged to check whether the deadline has expired and fail
// the call with DEADLINE_EXCEEDED instead" (PROTOCOL-HTTP2.md, Client
// Cancellation). A failed connection is UNAVAILABLE ("If a detectable
// connection failure occurs on the client all calls will be closed with an
// UNAVAILABLE status").
func clientErr(ctx context.Context, err error) error {
	if st := ctxEnded(ctx); st != nil {
		return st
	}
	var st *Status
	if errors.As(err, &st) {
		return st
	}
	var re *conn.ResetError
	if errors.As(err, &re) {
		if re.Remote {
			return pastDeadline(ctx, resetStatus(re.Code, err))
		}
		return &Status{Code: Internal, Message: "grpc: " + err.Error(), cause: err}
	}
	if errors.Is(err, conn.ErrClosed) || errors.Is(err, conn.ErrNotAvailable) {
		return &Status{Code: Unavailable, Message: "grpc: " + err.Error(), cause: err}
	}
	// Anything else is a request conn refused to send (a header list over
	// the peer's limit, ...): not a transport failure.
	return &Status{Code: Internal, Message: "grpc: " + err.Error(), cause: err}
}

func resetStatus(code frame.ErrCode, cause error) *Status {
	c := codeForReset(code)
	msg := "stream reset by the peer with " + code.String()
	switch code {
	case frame.ErrCodeEnhanceYourCalm:
		msg += " (the exhausted resource is bandwidth)"
	case frame.ErrCodeInadequateSecurity:
		msg += " (the protocol is not secure enough for the call)"
	}
	return &Status{Code: c, Message: msg, cause: cause}
}

func httpStatus(status int, why string) *Status {
	return &Status{Code: CodeForHTTPStatus(status), Message: "unexpected HTTP status " + strconv.Itoa(status) + ": " + why}
}
