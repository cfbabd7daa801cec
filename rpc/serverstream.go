package rpc

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/hpack"
)

// request is what the server reads from a request's header block.
type request struct {
	path, contentType, subtype string
	encoding, acceptEncoding   string
	userAgent                  string
	hasTimeout                 bool
	timeout                    time.Duration
	arrival                    time.Time
	md                         MD
}

// rejection is an answer to a request that is not a well-formed gRPC call,
// given before any handler runs.
type rejection struct {
	httpStatus int // 200: a gRPC Trailers-Only answer
	status     *Status
	// contentType is the request's, echoed as a call's answer echoes it
	// (and as grpc-go's does); "" for one that is not gRPC's.
	contentType string
}

// parseRequest checks a request's header block (hpack has already applied
// the HTTP/2 rules of RFC 9113 §8.2 and §8.3: pseudo-header presence and
// order, te, connection-specific fields).
func parseRequest(fields []hpack.Field) (request, *rejection) {
	var r request
	var method, timeout string
	var sawTimeout bool
	var mdErr error
	for _, f := range fields {
		switch f.Name {
		case ":method":
			method = f.Value
		case ":path":
			r.path = f.Value
		case "content-type":
			r.contentType = f.Value
		case "grpc-timeout":
			timeout, sawTimeout = f.Value, true
		case "grpc-encoding":
			r.encoding = f.Value
		case "grpc-accept-encoding":
			if r.acceptEncoding == "" {
				r.acceptEncoding = f.Value
			} else {
				r.acceptEncoding += "," + f.Value
			}
		case "user-agent":
			r.userAgent = f.Value // added to the metadata only if asked for
		default:
			if !isCustomReceived(f.Name) {
				continue
			}
			if r.md == nil {
				r.md = MD{}
			}
			if err := addReceived(r.md, f); err != nil && mdErr == nil {
				mdErr = err
			}
		}
	}
	// The content-type first, then :method, in grpc-go's order, so a
	// request that is not gRPC at all gets the same answer from both.
	sub, ok := contentSubtype(r.contentType)
	if !ok {
		// "If Content-Type does not begin with "application/grpc", gRPC
		// servers SHOULD respond with HTTP status of 415 (Unsupported Media
		// Type)" (PROTOCOL-HTTP2.md, Requests). The grpc-status is
		// INVALID_ARGUMENT, as grpc-go sends.
		return r, &rejection{415, statusf(InvalidArgument, "grpc: invalid gRPC request content-type %q", r.contentType), ""}
	}
	r.subtype = sub
	if method != "POST" {
		// Request-Headers: "Method → ":method POST"" (PROTOCOL-HTTP2.md);
		// anything else is not a gRPC call: 405 Method Not Allowed.
		return r, &rejection{405, statusf(Internal, "grpc: invalid :method %q: gRPC requires POST", method), r.contentType}
	}
	// A malformed grpc-timeout or -bin value is a bad request: HTTP 400
	// with grpc-status INTERNAL, as grpc-go answers (its clients map a 400
	// without grpc-status to INTERNAL too: http-grpc-status-mapping.md).
	if sawTimeout {
		d, err := decodeTimeout(timeout)
		if err != nil {
			return r, &rejection{400, statusf(Internal, "grpc: malformed grpc-timeout %q", timeout), r.contentType}
		}
		r.hasTimeout, r.timeout, r.arrival = true, d, time.Now()
	}
	if mdErr != nil {
		return r, &rejection{400, statusf(Internal, "grpc: %v", mdErr), r.contentType}
	}
	return r, nil
}

// isCustomReceived reports whether a received field is custom metadata to
// hand to the application: not a pseudo-header, not one of the fields gRPC
// or HTTP/2 define (grpc-* is reserved), but user-agent and the retry
// fields (grpc-previous-rpc-attempts, grpc-retry-pushback-ms) are passed
// on, as grpc-go does.
func isCustomReceived(name string) bool {
	return name == "user-agent" || name == "grpc-previous-rpc-attempts" || (name != "" && !isReservedKey(name))
}

// serverStream is the server side of one call. It is also the handler's
// context: it forwards to the call's context and answers Value for the
// incoming metadata and for itself, which saves two context allocations
// per call.
type serverStream struct {
	ctx context.Context // the call's context: the stream's, with the deadline applied

	srv       *Server
	st        *conn.Stream
	method    string
	userAgent string
	codec     Codec
	ct        string // the request's content-type, echoed in the response
	accept    string // the client's grpc-accept-encoding
	maxSend   int
	// recvErr is the outcome of reading the one request (recvDone); used
	// by the receiving goroutine only.
	recvErr error
	// violation, once set, is the status of a call whose client sent a
	// wrong number of requests: it ends the call whatever the handler says.
	violation atomic.Pointer[Status]
	rd        msgReader // used by the receiving goroutine only

	mu       sync.Mutex
	sendComp Compressor // guarded by mu until the headers are sent
	header   MD         // guarded by mu
	trailer  MD         // guarded by mu
	incoming MD         // guarded by mu: the custom request metadata
	sendBuf  *[]byte    // used by the sending goroutine only
	// peer is the connection's peer; caller the identity of the call's
	// original caller (peer.go). Set before the handler runs.
	peer   *Peer
	caller string

	// The small fields, together so that the struct packs into a
	// 320-byte size class (one is allocated per call).
	sendHdr   [msgHeaderLen]byte // the prefix of a message sent by rawMsg; used by the sending goroutine only
	advertise bool               // answer with our grpc-accept-encoding (an unsupported grpc-encoding came)
	// oneRequest: the method takes exactly one request (unary or server
	// streaming); recvDone: it was read, with the outcome recvErr. recvDone
	// is used by the receiving goroutine only.
	oneRequest bool
	recvDone   bool
	headerSent bool // guarded by mu
	done       bool // guarded by mu: the status was written
	mdReady    bool // guarded by mu: incoming holds user-agent too
}

type streamKey struct{}

// Value answers the keys of this package and defers the rest.
func (ss *serverStream) Value(key any) any {
	switch key.(type) {
	case streamKey:
		return ss
	case incomingKey:
		return ss.incomingMD()
	case peerKey:
		return ss.peer
	case callerKey:
		return ss.caller
	}
	return ss.ctx.Value(key)
}

// incomingMD returns the request metadata, adding user-agent on first use
// (most handlers never ask, and most calls carry no other metadata).
func (ss *serverStream) incomingMD() MD {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !ss.mdReady {
		ss.mdReady = true
		if ss.incoming == nil {
			ss.incoming = MD{}
		}
		if ss.userAgent != "" {
			ss.incoming["user-agent"] = []string{ss.userAgent}
		}
	}
	return ss.incoming
}

func (ss *serverStream) Deadline() (time.Time, bool) { return ss.ctx.Deadline() }
func (ss *serverStream) Done() <-chan struct{}       { return ss.ctx.Done() }
func (ss *serverStream) Err() error                  { return ss.ctx.Err() }
func (ss *serverStream) Context() context.Context    { return ss }

func (ss *serverStream) SetHeader(md MD) error {
	if len(md) == 0 {
		return nil
	}
	if err := checkMD(md); err != nil {
		return err
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.headerSent {
		return newStatus(Internal, "rpc: SetHeader after the headers were sent")
	}
	ss.header = joinInto(ss.header, md)
	return nil
}

func (ss *serverStream) SendHeader(md MD) error {
	if err := ss.SetHeader(md); err != nil {
		return err
	}
	return ss.sendHeaders(nil)
}

func (ss *serverStream) SetTrailer(md MD) {
	if len(md) == 0 {
		return
	}
	ss.mu.Lock()
	ss.trailer = joinInto(ss.trailer, md)
	ss.mu.Unlock()
}

func joinInto(dst, src MD) MD {
	if dst == nil {
		dst = MD{}
	}
	for k, v := range src {
		dst[k] = append(dst[k], v...)
	}
	return dst
}

func checkMD(md MD) error {
	_, err := appendMD(make([]hpack.Field, 0, 4), md)
	return err
}

// sendHeaders sends the response headers if they are not sent yet, with msg
// (an encoded message, if not nil) in the same batch.
func (ss *serverStream) sendHeaders(msg []byte) error {
	ss.mu.Lock()
	if ss.headerSent {
		ss.mu.Unlock()
		if msg == nil {
			return nil
		}
		return ss.transportErr(ss.st.WriteData(nil, msg, false))
	}
	ss.headerSent = true
	comp, md := ss.sendComp, ss.header
	ss.mu.Unlock()
	fields, err := responseHeaders(ss.ct, comp, md)
	if err != nil {
		return err
	}
	err = ss.transportErr(ss.st.WriteAll(fields, msg, nil))
	if err == nil {
		ss.stats().header(OutHeader, md)
	}
	return err
}

// responseHeaders builds "Response-Headers → HTTP-Status [Message-Encoding]
// [Message-Accept-Encoding] Content-Type *Custom-Metadata"
// (PROTOCOL-HTTP2.md, Responses). The optional Message-Accept-Encoding is
// left to Trailers-Only answers, where an UNIMPLEMENTED for an unsupported
// grpc-encoding needs it (doc/compression.md): every field costs the
// client's HPACK decoder an allocation.
func responseHeaders(ct string, comp Compressor, md MD) ([]hpack.Field, error) {
	if comp == nil && md == nil && ct == "application/grpc" {
		return grpcRespHeaders, nil // shared, read-only
	}
	fields := make([]hpack.Field, 0, 3+len(md))
	fields = append(fields, hpack.Field{Name: ":status", Value: "200"}, hpack.Field{Name: "content-type", Value: ct})
	if comp != nil {
		fields = append(fields, hpack.Field{Name: "grpc-encoding", Value: comp.Name()})
	}
	return appendMD(fields, md)
}

// SendMsg sends one response message.
func (ss *serverStream) SendMsg(m any) error {
	if v := ss.violation.Load(); v != nil {
		return v
	}
	ss.mu.Lock()
	comp, headerSent := ss.sendComp, ss.headerSent
	ss.mu.Unlock()
	if data, ok := rawMsg(&ss.sendHdr, ss.codec, m, comp, ss.maxSend); ok && headerSent {
		err := ss.transportErr(ss.st.WriteData(ss.sendHdr[:], data, false))
		if err == nil {
			ss.stats().payload(OutPayload, len(data), msgHeaderLen+len(data), false)
		}
		return err
	}
	if ss.sendBuf == nil {
		ss.sendBuf = getBuf()
	}
	b, plain, err := encodeMsgLen((*ss.sendBuf)[:0], ss.codec, m, comp, nil, ss.maxSend)
	*ss.sendBuf = b[:0]
	if err != nil {
		ss.logUnsent(err)
		return err
	}
	if err := ss.sendHeaders(b); err != nil {
		return err
	}
	ss.stats().sentMsg(b, plain)
	return nil
}

// RecvMsg receives one request message into m.
func (ss *serverStream) RecvMsg(m any) error {
	if ss.oneRequest {
		return ss.recvOne(m)
	}
	return ss.recv(m)
}

func (ss *serverStream) recv(m any) error {
	b, direct, err := ss.rd.nextInto(bytesTarget(ss.codec, m))
	if err != nil {
		if err == io.EOF {
			if ss.ctx.Err() != nil {
				// The client reset the stream (conn may report that as the
				// end of the data): not a clean end of the requests.
				return contextStatus(ss.ctx)
			}
			return io.EOF
		}
		return ss.transportErr(err)
	}
	ss.stats().received(&ss.rd, b)
	if direct {
		return nil
	}
	if err := ss.codec.Unmarshal(b, m); err != nil {
		ss.srv.log(slog.LevelError, "rpc: failed to unmarshal the request", "method", ss.method, "codec", ss.codec.Name(), "err", err)
		return &Status{Code: Internal, Message: "grpc: failed to unmarshal the request: " + err.Error(), cause: err}
	}
	return nil
}

// recvOne receives the one request of a unary or server-streaming call:
// exactly one message, then the end of the request ("Request →
// Request-Headers *Length-Prefixed-Message EOS", PROTOCOL-HTTP2.md). Any
// other count is a "Request cardinality violation (method requires exactly
// one request but client sent some other number of requests)", UNIMPLEMENTED
// (statuscodes.md), which then ends the call whatever the handler returns.
// Reading up to EOS before the handler goes on means the stream is closed
// both ways once the trailers go out, so it ends without a RST_STREAM. It is
// also the dec function of a unary handler.
func (ss *serverStream) recvOne(m any) error {
	if ss.recvDone {
		// Asked again: the request is over, or failed.
		if ss.recvErr != nil {
			return ss.recvErr
		}
		return io.EOF
	}
	ss.recvDone = true
	ss.recvErr = ss.recvOneMsg(m)
	return ss.recvErr
}

func (ss *serverStream) recvOneMsg(m any) error {
	err := ss.recv(m)
	if err == io.EOF {
		return ss.countViolation("grpc: cardinality violation: no request message on a non-client-streaming call")
	}
	if err != nil {
		return err
	}
	_, err = ss.rd.next()
	switch {
	case err == nil:
		return ss.countViolation("grpc: cardinality violation: more than one request message on a non-client-streaming call")
	case err != io.EOF:
		return ss.transportErr(err)
	case ss.ctx.Err() != nil:
		return contextStatus(ss.ctx) // a reset, not the end of the request
	}
	return nil
}

// countViolation records that the client sent a wrong number of requests
// and returns the status that will end the call.
func (ss *serverStream) countViolation(msg string) error {
	st := newStatus(Unimplemented, msg)
	ss.violation.CompareAndSwap(nil, st)
	return ss.violation.Load()
}

func (ss *serverStream) sendUnaryResponse(resp any) error {
	ss.mu.Lock()
	comp := ss.sendComp
	ss.mu.Unlock()
	if ss.stats() == nil {
		// A large []byte goes out behind its prefix, not copied after it.
		if data, ok := rawMsg(&ss.sendHdr, ss.codec, resp, comp, ss.maxSend); ok {
			ss.writeFinal(ss.sendHdr[:], data, nil)
			return nil
		}
	}
	buf := getBuf()
	defer putBuf(buf)
	b, plain, err := encodeMsgLen((*buf)[:0], ss.codec, resp, comp, nil, ss.maxSend)
	*buf = b[:0]
	if err != nil {
		ss.logUnsent(err)
		return err
	}
	if cs := ss.stats(); cs != nil {
		cs.plain = plain
	}
	ss.writeFinal(nil, b, nil)
	return nil
}

// logUnsent logs a response message that could not be encoded (the codec
// failed, compression failed, or it is over the send limit): the client
// sees only the status.
func (ss *serverStream) logUnsent(err error) {
	ss.srv.log(slog.LevelError, "rpc: response message not sent", "method", ss.method, "codec", ss.codec.Name(), "err", err)
}

// transportErr maps an error of the stream to the handler's view: a
// *Status as is; the call's context ending as CANCELLED or
// DEADLINE_EXCEEDED; a reset or a dead connection as CANCELLED ("For
// servers open calls will be closed with a CANCELLED status",
// PROTOCOL-HTTP2.md, Connection failure).
func (ss *serverStream) transportErr(err error) error {
	if err == nil {
		return nil
	}
	var st *Status
	if errors.As(err, &st) {
		return err
	}
	if ss.ctx != nil && ss.ctx.Err() != nil {
		return contextStatus(ss)
	}
	if !streamGone(err) {
		// conn refused this one write (a header block over the client's
		// limit, ...): the call itself goes on.
		return &Status{Code: Internal, Message: "grpc: " + err.Error(), cause: err}
	}
	return &Status{Code: Canceled, Message: "grpc: the call ended: " + err.Error(), cause: err}
}

// writeStatus ends the call with st (nil is OK): trailers after headers, or a
// Trailers-Only response if nothing was sent yet ("Trailers-Only is permitted
// for calls that produce an immediate error", PROTOCOL-HTTP2.md).
func (ss *serverStream) writeStatus(st *Status) { ss.writeFinal(nil, nil, st) }

// writeFinal ends the call: the response headers if they are due and not
// sent yet, pre followed by msg (an encoded response message, if msg is
// not nil; pre is its prefix when rawMsg left it apart), then st in the
// trailers, all as one batch: a unary response takes one write.
func (ss *serverStream) writeFinal(pre, msg []byte, st *Status) {
	defer func() {
		if ss.sendBuf != nil {
			putBuf(ss.sendBuf)
			ss.sendBuf = nil
		}
	}()
	ss.mu.Lock()
	if ss.done {
		ss.mu.Unlock()
		return
	}
	ss.done = true
	headerSent, header, trailer, comp := ss.headerSent, ss.header, ss.trailer, ss.sendComp
	sendHeaders := !headerSent && (msg != nil || len(header) > 0)
	if sendHeaders {
		// Header metadata was set, or there is a message: headers, then
		// trailers.
		ss.headerSent = true
	}
	ss.mu.Unlock()
	wasSent := headerSent
	var headers []hpack.Field
	if sendHeaders {
		var err error
		if headers, err = responseHeaders(ss.ct, comp, header); err != nil {
			pre, msg, st = nil, nil, StatusOf(err)
		} else {
			headerSent = true
		}
	}
	var fields []hpack.Field
	if st == nil && len(trailer) == 0 && headerSent {
		fields = okTrailers
	} else {
		if !headerSent {
			fields = ss.trailersOnlyPrefix(fields)
		}
		fields = appendStatus(fields, st, trailer)
	}
	if err := ss.st.WriteAllPrefixed(headers, pre, msg, fields); err != nil && !streamGone(err) {
		// conn refused a block (over the client's header list limit) and
		// sent nothing: end the call with a status that fits.
		fields = fields[:0]
		if !wasSent {
			fields = ss.trailersOnlyPrefix(fields)
		}
		fields = appendStatus(fields, newStatus(Internal, "grpc: the response metadata exceeds the client's header list limit"), nil)
		ss.st.WriteAll(nil, nil, fields)
		ss.srv.log(slog.LevelError, "rpc: response metadata not sent: over the client's header list limit", "method", ss.method, "err", err)
		st = newStatus(Internal, "grpc: the response metadata exceeds the client's header list limit")
		msg, trailer = nil, nil
	}
	if cs := ss.stats(); cs != nil {
		finalStats(cs, headers != nil, header, msg, st, trailer)
	}
}

// stats returns the call's stats state; nil (one load and a nil check)
// without a StatsHandler.
func (ss *serverStream) stats() *callStats {
	if ss.srv.opts.stats == nil || ss.ctx == nil {
		return nil
	}
	return callStatsFrom(ss.ctx)
}

// finalStats reports what writeFinal sent and the call's end.
func finalStats(cs *callStats, sentHeaders bool, header MD, msg []byte, st *Status, trailer MD) {
	if sentHeaders {
		cs.header(OutHeader, header)
	}
	if msg != nil {
		cs.sentMsg(msg, cs.plain)
	}
	cs.header(OutTrailer, trailer)
	var err error
	if st != nil {
		err = st
	}
	cs.end(err)
}

// trailersOnlyPrefix appends the head of a Trailers-Only response:
// "Trailers-Only → HTTP-Status Content-Type Trailers".
func (ss *serverStream) trailersOnlyPrefix(fields []hpack.Field) []hpack.Field {
	ct := ss.ct
	if ct == "" {
		ct = "application/grpc"
	}
	fields = append(fields, hpack.Field{Name: ":status", Value: "200"}, hpack.Field{Name: "content-type", Value: ct})
	if ss.advertise {
		fields = append(fields, hpack.Field{Name: "grpc-accept-encoding", Value: acceptEncoding()})
	}
	return fields
}

// streamGone reports whether a stream error means the stream or the
// connection ended, as opposed to conn refusing one request.
func streamGone(err error) bool {
	var re *conn.ResetError
	return errors.As(err, &re) || errors.Is(err, conn.ErrClosed)
}

// grpcRespHeaders are the response headers of the common case (content-type
// application/grpc, no compression, no metadata), shared read-only by every
// call: conn encodes a block before WriteAll returns.
var grpcRespHeaders = []hpack.Field{{Name: ":status", Value: "200"}, {Name: "content-type", Value: "application/grpc"}}

// okTrailers are the trailers of a successful call without trailer
// metadata: "Status must be sent in Trailers even if the status code is OK".
var okTrailers = []hpack.Field{{Name: "grpc-status", Value: "0"}}

// appendStatus appends "Trailers → Status [Status-Message] *Custom-Metadata"
// plus grpc-status-details-bin. Invalid trailer metadata turns the status
// into INTERNAL rather than being sent.
func appendStatus(fields []hpack.Field, st *Status, trailer MD) []hpack.Field {
	n := len(fields)
	if len(trailer) > 0 {
		var err error
		fields, err = appendMD(fields, trailer)
		if err != nil {
			fields = fields[:n]
			st = StatusOf(err)
		}
	}
	code, msg := OK, ""
	if st != nil {
		code, msg = st.Code, st.Message
	}
	fields = append(fields, hpack.Field{Name: "grpc-status", Value: code.headerValue()})
	if msg != "" {
		fields = append(fields, hpack.Field{Name: "grpc-message", Value: encodeGRPCMessage(msg)})
	}
	if st != nil && len(st.Details) > 0 {
		fields = append(fields, hpack.Field{Name: "grpc-status-details-bin", Value: base64.RawStdEncoding.EncodeToString(st.Details)})
	}
	return fields
}

// reject answers a request that is not a well-formed gRPC call.
func (ss *serverStream) reject(r *rejection) {
	if r.httpStatus == 200 {
		ss.writeStatus(r.status)
		return
	}
	ss.mu.Lock()
	ss.done, ss.headerSent = true, true
	ss.mu.Unlock()
	ct := r.contentType
	if ct == "" {
		ct = "application/grpc"
	}
	fields := []hpack.Field{
		{Name: ":status", Value: strconv.Itoa(r.httpStatus)},
		{Name: "content-type", Value: ct},
	}
	fields = appendStatus(fields, r.status, nil)
	ss.st.WriteAll(nil, nil, fields)
}

func streamFromContext(ctx context.Context) (*serverStream, error) {
	ss, ok := ctx.Value(streamKey{}).(*serverStream)
	if !ok {
		return nil, newStatus(Internal, "rpc: the context is not a server call's context")
	}
	return ss, nil
}

// SetHeader adds md to the response headers of the call ctx belongs to (a
// handler's context); see ServerStream.SetHeader.
func SetHeader(ctx context.Context, md MD) error {
	ss, err := streamFromContext(ctx)
	if err != nil {
		return err
	}
	return ss.SetHeader(md)
}

// SendHeader sends the response headers of the call ctx belongs to, with md
// added; see ServerStream.SendHeader.
func SendHeader(ctx context.Context, md MD) error {
	ss, err := streamFromContext(ctx)
	if err != nil {
		return err
	}
	return ss.SendHeader(md)
}

// SetTrailer adds md to the trailers of the call ctx belongs to.
func SetTrailer(ctx context.Context, md MD) error {
	ss, err := streamFromContext(ctx)
	if err != nil {
		return err
	}
	ss.SetTrailer(md)
	return nil
}

// SetSendCompressor makes the call ctx belongs to compress its responses
// with the registered compressor name ("identity" turns compression off).
// It must be called before the headers are sent; if the client did not
// list name in grpc-accept-encoding the responses go uncompressed, as
// doc/compression.md requires.
func SetSendCompressor(ctx context.Context, name string) error {
	ss, err := streamFromContext(ctx)
	if err != nil {
		return err
	}
	var comp Compressor
	if name != "identity" {
		if comp = compressorFor(name); comp == nil {
			return statusf(Internal, "rpc: no compressor registered as %q", name)
		}
		if !acceptsEncoding(ss.accept, name) {
			comp = nil
		}
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.headerSent {
		return newStatus(Internal, "rpc: SetSendCompressor after the headers were sent")
	}
	ss.sendComp = comp
	return nil
}

// Method returns the full method name ("/package.Service/Method") of the
// call ctx belongs to.
func Method(ctx context.Context) (string, bool) {
	ss, err := streamFromContext(ctx)
	if err != nil {
		return "", false
	}
	return ss.method, true
}
