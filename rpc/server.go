package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
)

// ErrServerStopped is returned by Serve once Stop or GracefulStop was called.
var ErrServerStopped = errors.New("rpc: server stopped")

// Server serves gRPC calls on HTTP/2 connections. Register services, then
// call Serve with one or more listeners. A handler that panics fails its
// call with INTERNAL and the server goes on (ServerLogger logs the panic
// with its stack).
type Server struct {
	opts serverOptions

	mu       sync.Mutex
	services map[string]bool         // guarded by mu; read-only once serving
	methods  map[string]*methodEntry // guarded by mu; read-only once serving, so read without it then
	serving  bool                    // guarded by mu: Serve was called
	stopping bool                    // guarded by mu: Stop or GracefulStop was called
	refuse   bool                    // guarded by mu: new streams are refused (Stop)
	lis      map[net.Listener]bool   // guarded by mu
	conns    map[*conn.Conn]bool     // guarded by mu
	active   int                     // guarded by mu: running handlers
	idle     chan struct{}           // guarded by mu: closed when active drops to 0 while stopping

	watchers sync.WaitGroup // one per connection until its end has removed it from conns
	// handshaking holds the accepted connections whose TLS handshake
	// runs, each on a goroutine counted by handshakes (credentials.go).
	handshaking map[net.Conn]bool // guarded by mu
	handshakes  sync.WaitGroup
	hsLog       handshakeLog
	serveWG     sync.WaitGroup // Serve calls in progress
}

// NewServer returns a Server with the given options.
func NewServer(opts ...ServerOption) *Server {
	s := &Server{
		opts: serverOptions{
			codecs:  map[string]Codec{"proto": DefaultCodec},
			maxRecv: DefaultMaxRecvMsgSize,
			maxSend: DefaultMaxSendMsgSize,
		},
		services: map[string]bool{},
		methods:  map[string]*methodEntry{},
		lis:      map[net.Listener]bool{},
		conns:    map[*conn.Conn]bool{},
	}
	for _, o := range opts {
		o(&s.opts)
	}
	return s
}

// Serve accepts connections on lis and serves each on its own HTTP/2
// connection until Stop or GracefulStop is called, then returns nil (or
// ErrServerStopped if the server was already stopped). Another error means
// lis failed; the listener is closed either way.
func (s *Server) Serve(lis net.Listener) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		lis.Close()
		return ErrServerStopped
	}
	s.serving = true
	s.lis[lis] = true
	s.serveWG.Add(1)
	s.mu.Unlock()
	defer s.serveWG.Done()

	var delay time.Duration
	for {
		nc, err := lis.Accept()
		if err != nil {
			s.mu.Lock()
			stopping := s.stopping
			s.mu.Unlock()
			if stopping {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// A temporary failure (too many open files, ...): back off
				// and go on, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			s.mu.Lock()
			delete(s.lis, lis)
			s.mu.Unlock()
			lis.Close()
			return err
		}
		delay = 0
		s.acceptConn(nc)
	}
}

// ServeConn serves one connection the caller accepted (or one end of a
// net.Pipe) and returns when it has ended: the client closed it, it failed,
// or the server stopped. It returns ErrServerStopped if the server was
// already stopped.
func (s *Server) ServeConn(nc net.Conn) error {
	s.mu.Lock()
	stopping := s.stopping
	s.serving = true
	s.mu.Unlock()
	if stopping {
		nc.Close()
		return ErrServerStopped
	}
	var auth AuthInfo
	if s.opts.sec.handshake != nil {
		if !s.startHandshake(nc) {
			return ErrServerStopped
		}
		sc, a, err := s.handshake(nc)
		if err != nil {
			return nil
		}
		nc, auth = sc, a
	}
	if c := s.serveConn(nc, auth); c != nil {
		<-c.Done()
	}
	return nil
}

// serveConn starts an HTTP/2 server connection on nc; nil if it could not.
func (s *Server) serveConn(nc net.Conn, auth AuthInfo) *conn.Conn {
	p := &Peer{Addr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr(), AuthInfo: auth}
	c, err := conn.Server(nc, s.opts.connConfig, func(st *conn.Stream) { s.handleStream(st, p) })
	if err != nil {
		nc.Close()
		return nil
	}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		c.Close()
		return nil
	}
	s.conns[c] = true
	s.watchers.Add(1)
	if ka := s.opts.keepalive; ka.MaxConnectionIdle > 0 || ka.MaxConnectionAge > 0 {
		s.watchers.Add(1)
		go s.connLifetime(c)
	}
	s.mu.Unlock()
	// No goroutine waits per connection: its end runs the removal.
	if h := s.opts.stats; h != nil {
		h.HandleConn(&ConnEvent{Begin: true, Local: nc.LocalAddr(), Remote: nc.RemoteAddr()})
	}
	c.OnEnd(func() {
		defer s.watchers.Done()
		if h := s.opts.stats; h != nil {
			h.HandleConn(&ConnEvent{Local: nc.LocalAddr(), Remote: nc.RemoteAddr(), Err: c.Err()})
		}
		s.logConnEnd(nc.RemoteAddr(), c.Err())
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	})
	return c
}

// log logs to the ServerLogger, if any.
func (s *Server) log(level slog.Level, msg string, args ...any) {
	if s.opts.logf != nil {
		s.opts.logf(level, msg, args...)
	}
}

// logConnEnd logs why a connection ended (conn.Conn.Err): a protocol error
// either side detected is a WARN, with the HTTP/2 error code; a connection
// that ended otherwise (closed by either side, the client gone) a DEBUG.
func (s *Server) logConnEnd(remote net.Addr, err error) {
	if s.opts.logf == nil {
		return
	}
	var ce *frame.ConnError
	var ga *conn.GoAwayError
	switch {
	case errors.As(err, &ce):
		s.log(slog.LevelWarn, "rpc: connection failed: we sent GOAWAY", "remote", remote.String(), "code", ce.Code.String(), "reason", ce.Reason)
	case errors.As(err, &ga) && ga.Code != frame.ErrCodeNo:
		s.log(slog.LevelWarn, "rpc: connection failed: the client sent GOAWAY", "remote", remote.String(), "code", ga.Code.String(), "debug", ga.Debug)
	default:
		// Closed by either side, or an I/O error (the client gone, a
		// reset, a timeout): the life of a connection, not a fault.
		s.log(slog.LevelDebug, "rpc: connection ended", "remote", remote.String(), "err", err)
	}
}

// Stop stops the server now: it closes the listeners and every connection,
// which cancels the contexts of all running handlers, and waits for the
// handlers to return. Clients see their calls fail with UNAVAILABLE.
// Handlers must honour their context for Stop to return. The connections
// close in parallel: each may wait up to its conn.Config.CloseTimeout for a
// peer that does not read, so Stop takes about that long however many such
// peers there are.
func (s *Server) Stop() {
	s.mu.Lock()
	s.stopping = true
	s.refuse = true
	conns := s.closeListenersLocked()
	s.mu.Unlock()
	eachConn(conns, func(c *conn.Conn) { c.Close() })
	s.waitDone()
}

// eachConn runs f on every connection at once, each on its own goroutine,
// and waits for them all: closing connections one after another would add
// up their final writes.
func eachConn(conns []*conn.Conn, f func(*conn.Conn)) {
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(c)
		}()
	}
	wg.Wait()
}

// GracefulStop stops the server gracefully: it closes the listeners, sends
// GOAWAY on every connection so clients open no new calls there, lets the
// calls in flight finish, then closes the connections and returns. A call
// that never ends keeps it waiting: call Stop (from another goroutine) to
// end such calls.
func (s *Server) GracefulStop() {
	s.mu.Lock()
	s.stopping = true
	conns := s.closeListenersLocked()
	s.mu.Unlock()
	eachConn(conns, func(c *conn.Conn) { c.Shutdown(context.Background()) })
	s.waitDone()
}

func (s *Server) closeListenersLocked() []*conn.Conn {
	for l := range s.lis {
		l.Close()
	}
	s.closeHandshakesLocked()
	conns := make([]*conn.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// waitDone waits for the Serve loops, the connection watchers and the
// handlers to end.
func (s *Server) waitDone() {
	s.serveWG.Wait()
	s.handshakes.Wait()
	s.watchers.Wait()
	s.mu.Lock()
	s.refuse = true
	var idle chan struct{}
	if s.active > 0 {
		if s.idle == nil {
			s.idle = make(chan struct{})
		}
		idle = s.idle
	}
	s.mu.Unlock()
	if idle != nil {
		<-idle
	}
}

// addHandler counts a handler in; it fails once Stop refuses new streams.
func (s *Server) addHandler() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse {
		return false
	}
	s.active++
	return true
}

func (s *Server) doneHandler() {
	s.mu.Lock()
	s.active--
	if s.active == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.mu.Unlock()
}

// handleStream serves one call; conn runs it on the stream's own goroutine.
func (s *Server) handleStream(st *conn.Stream, p *Peer) {
	if !s.addHandler() {
		// RFC 9113 §8.7: REFUSED_STREAM says no processing happened, so
		// the client may retry elsewhere.
		st.Reset(frame.ErrCodeRefusedStream)
		return
	}
	defer s.doneHandler()

	ss := &serverStream{srv: s, st: st, maxSend: s.opts.maxSend, peer: p}
	ss.rd.r = st
	ss.rd.maxSize = s.opts.maxRecv
	defer ss.rd.release()

	req, rej := parseRequest(st.RequestHeaders())
	if rej != nil {
		ss.reject(rej)
		return
	}
	ss.method = req.path
	ss.incoming, ss.userAgent = req.md, req.userAgent
	ss.ct = req.contentType
	ss.accept = req.acceptEncoding
	if ss.codec = s.opts.codecs[req.subtype]; ss.codec == nil {
		// A subtype without a codec is read with the "proto" one, as
		// grpc-go's server does: a client naming its raw-bytes codec
		// (application/grpc+raw, say) still speaks protobuf's bytes.
		ss.codec = s.opts.codecs["proto"]
		s.log(slog.LevelWarn, "rpc: no codec for the request's content-subtype: reading it with the proto codec",
			"method", req.path, "content-subtype", req.subtype)
	}
	if req.hasTimeout {
		// The handler's context carries the absolute deadline: arrival
		// plus grpc-timeout. When it passes, "the server should locally
		// cancel the RPC and send RST_STREAM with CANCEL error code"
		// (PROTOCOL-HTTP2.md, Client Cancellation), which conn does.
		_ = st.SetDeadline(req.arrival.Add(req.timeout)) // cannot fail on a fresh server stream
	}
	ss.ctx = st.Context()
	if h := s.opts.stats; h != nil {
		ss.ctx = beginServerCall(ss.ctx, h, req.path, req.md)
		ss.stats().header(InHeader, req.md)
	}
	if req.encoding != "" && req.encoding != "identity" {
		comp := compressorFor(req.encoding)
		if comp == nil {
			// "When a message from a client compressed with an unsupported
			// algorithm is processed by a server, it WILL result in an
			// UNIMPLEMENTED error status on the server. The server will
			// then include in its response a grpc-accept-encoding header"
			// (doc/compression.md).
			ss.advertise = true
			ss.writeStatus(statusf(Unimplemented, "grpc: compressed request with unsupported grpc-encoding %q (supported: %s)", req.encoding, acceptEncoding()))
			return
		}
		ss.rd.decomp = comp
		ss.sendComp = comp // answer in kind: the client evidently supports it
	}
	ss.rd.encoding = req.encoding
	if st := s.originalCaller(ss); st != nil { // peer.go
		ss.writeStatus(st)
		return
	}
	entry := s.methods[req.path]
	if entry == nil {
		ss.writeStatus(unknownMethod(req.path, s.services))
		return
	}

	// Past the deadline the answer is the reset, not a status, even if the
	// handler returned before the deadline's reset went out.
	expired := func() bool {
		return req.hasTimeout && ss.ctx.Err() == context.DeadlineExceeded
	}
	var err error
	if entry.unary != nil {
		var resp any
		ss.oneRequest = true
		resp, err = s.runUnary(ss, entry)
		if v := ss.violation.Load(); v != nil {
			err = v
		} else if err == nil && !expired() {
			err = ss.sendUnaryResponse(resp) // with the OK status, unless it fails
		}
	} else {
		ss.oneRequest = !entry.stream.ClientStreams
		err = s.runStream(ss, entry)
		if v := ss.violation.Load(); v != nil {
			err = v
		}
	}
	if expired() {
		st.Reset(frame.ErrCodeCancel)
		ss.stats().end(&Status{Code: DeadlineExceeded, Message: "context deadline exceeded"})
		return
	}
	ss.writeStatus(StatusOf(err))
}

func unknownMethod(path string, services map[string]bool) *Status {
	svc, method, ok := splitMethod(path)
	switch {
	case !ok:
		return statusf(Unimplemented, "malformed method name: %q", path)
	case !services[svc]:
		return statusf(Unimplemented, "unknown service %s", svc)
	}
	return statusf(Unimplemented, "unknown method %s for service %s", method, svc)
}

// splitMethod splits "/service/method".
func splitMethod(path string) (service, method string, ok bool) {
	if len(path) < 3 || path[0] != '/' {
		return "", "", false
	}
	for i := len(path) - 1; i > 0; i-- {
		if path[i] == '/' {
			if i == 1 || i == len(path)-1 {
				return "", "", false
			}
			return path[1:i], path[i+1:], true
		}
	}
	return "", "", false
}

func (s *Server) runUnary(ss *serverStream, e *methodEntry) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, s.handlerPanic(ss, p)
		}
	}()
	return e.unary.Handler(e.impl, ss, ss.recvOne, s.opts.unaryInt)
}

func (s *Server) runStream(ss *serverStream, e *methodEntry) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = s.handlerPanic(ss, p)
		}
	}()
	if s.opts.streamInt == nil {
		return e.stream.Handler(e.impl, ss)
	}
	info := &StreamServerInfo{FullMethod: ss.method, IsClientStream: e.stream.ClientStreams, IsServerStream: e.stream.ServerStreams}
	return s.opts.streamInt(e.impl, ss, info, e.stream.Handler)
}

// handlerPanic turns a handler's panic into the call's status and logs it
// with the stack; the server lives on. A panic is "Server side application
// throws an exception (or does something other than returning a Status code
// to terminate an RPC)", UNKNOWN (statuscodes.md). grpc-go lets the panic
// crash the process; recovering keeps one bad call from ending every other
// call of the server, and the log keeps it from passing unseen. It runs in
// the deferred function that recovered, so the stack is the panic's.
func (s *Server) handlerPanic(ss *serverStream, p any) error {
	if s.opts.logf != nil {
		s.log(slog.LevelError, "rpc: handler panicked", "method", ss.method, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	}
	return &Status{Code: Unknown, Message: fmt.Sprintf("rpc: handler panicked: %v", p)}
}
