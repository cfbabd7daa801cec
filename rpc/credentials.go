package rpc

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Transport security (docs/security.md).
//
// A Server with ServerHandshake runs the handshake on every accepted
// connection, on a goroutine of its own so that a slow client holds up no
// one else. A ClientConn with WithHandshake runs it on every connection it
// dials and sends :scheme https. Package h2tls makes the TLS ones
// (h2tls.Server, h2tls.Client). A server without one speaks h2c with prior
// knowledge; a client must say that it means to (WithInsecure): Dial with
// neither fails (ErrNoTransportSecurity).
//
// The handshake is a function the option installs, not a *tls.Config that
// the connection code looks at, and rpc does not import crypto/tls: a
// program that never asks for TLS links none of it (a hello-world server
// is half the size).

// A Handshake secures a connection before HTTP/2 runs on it. authority is
// the name the client dials (the name of the server to verify); "" on a
// server. It returns the connection HTTP/2 is to run on and what it learnt
// of the peer. It fails with an error that names the cause; its caller
// then closes nc.
type Handshake func(ctx context.Context, nc net.Conn, authority string) (net.Conn, AuthInfo, error)

// AuthInfo is what a Handshake learnt of the peer (Peer carries it).
type AuthInfo struct {
	// State is the security layer's record of the connection: a
	// *tls.ConnectionState for package h2tls's handshakes (whose
	// VerifiedChains hold the peer's verified certificate chains); nil
	// over h2c.
	State any
	// Identity is the peer's workload identity ("" when it proved none):
	// for h2tls, h2tls.WorkloadIdentity of the first certificate of its
	// first verified chain.
	Identity string
}

// ServerHandshake makes the server run h on every connection it accepts
// (or is given, ServeConn) and serve HTTP/2 on the connection h returns.
// h2tls.Server is the TLS one. Failures are logged to the ServerLogger at
// WARN, at most one a second (the others are counted in the next).
func ServerHandshake(h Handshake) ServerOption {
	return func(o *serverOptions) { o.sec.handshake = h }
}

// WithHandshake makes the ClientConn run h on every connection it dials,
// and send :scheme https. h2tls.Client is the TLS one. A handshake that
// fails fails the call with UNAVAILABLE and its error's message.
func WithHandshake(h Handshake) DialOption {
	return func(o *dialOptions) { o.sec.handshake, o.sec.insecure = h, false }
}

// ErrNoTransportSecurity is why Dial fails when given neither a handshake
// (h2tls.Client, WithHandshake) nor WithInsecure.
var ErrNoTransportSecurity = errors.New("rpc: no transport security set: add h2tls.Client(cfg) to dial over TLS, or rpc.WithInsecure() to speak h2c in cleartext")

// WithInsecure makes the ClientConn speak h2c (HTTP/2 in cleartext, with
// prior knowledge): for loopback, tests, and a proxy that terminates TLS.
// Of WithInsecure and WithHandshake (h2tls.Client), the last given wins.
// Per-call credentials are refused over it (see WithCallCredentials).
func WithInsecure() DialOption {
	return func(o *dialOptions) { o.sec.handshake, o.sec.insecure = nil, true }
}

// clientSecurity is the DialOptions' part on transport security.
type clientSecurity struct {
	handshake Handshake // nil: h2c
	insecure  bool      // WithInsecure was given
}

// serverSecurity is the ServerOptions' part on transport security.
type serverSecurity struct {
	handshake Handshake       // nil: h2c
	trust     map[string]bool // identities trusted to assert an original caller
}

// scheme is the :scheme of the ClientConn's requests.
func (cc *ClientConn) scheme() string {
	if cc.opts.sec.handshake != nil {
		return "https"
	}
	return "http"
}

// secure turns a dialled connection into the one HTTP/2 runs on: the
// handshake when one was given, nc itself otherwise. It closes nc when it
// fails.
func (cc *ClientConn) secure(ctx context.Context, nc net.Conn) (net.Conn, AuthInfo, error) {
	handshake := cc.opts.sec.handshake
	if handshake == nil {
		return nc, AuthInfo{}, nil
	}
	sc, auth, err := handshake(ctx, nc, cc.authority)
	if err != nil {
		nc.Close()
		return nil, AuthInfo{}, err
	}
	return sc, auth, nil
}

// acceptConn serves a connection Serve accepted: at once for h2c; for TLS
// after a handshake on a goroutine of its own.
func (s *Server) acceptConn(nc net.Conn) {
	if s.opts.sec.handshake == nil {
		s.serveConn(nc, AuthInfo{})
		return
	}
	if !s.startHandshake(nc) {
		return
	}
	go func() {
		if sc, auth, err := s.handshake(nc); err == nil {
			s.serveConn(sc, auth)
		}
	}()
}

// startHandshake counts in a handshake about to run on nc, tracked in
// s.handshaking so that Stop can end it; false (nc closed) if the server
// is stopping. handshake counts it out.
func (s *Server) startHandshake(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		nc.Close()
		return false
	}
	if s.handshaking == nil {
		s.handshaking = map[net.Conn]bool{}
	}
	s.handshaking[nc] = true
	s.handshakes.Add(1)
	return true
}

// handshake runs the server's handshake on nc, started by
// startHandshake, closing nc and logging if it fails.
func (s *Server) handshake(nc net.Conn) (net.Conn, AuthInfo, error) {
	defer s.handshakes.Done()
	sc, auth, err := s.opts.sec.handshake(context.Background(), nc, "")
	s.mu.Lock()
	delete(s.handshaking, nc)
	s.mu.Unlock()
	if err != nil {
		nc.Close()
		s.logHandshake(nc.RemoteAddr(), err)
		return nil, AuthInfo{}, err
	}
	return sc, auth, nil
}

// closeHandshakesLocked ends the handshakes in progress (Stop).
func (s *Server) closeHandshakesLocked() {
	for nc := range s.handshaking {
		nc.Close()
	}
}

// handshakeLogEvery is the least time between two handshake failures
// logged; the ones in between are counted.
const handshakeLogEvery = time.Second

// handshakeLog rate-limits the logging of failed handshakes: a port
// scanner or a misconfigured fleet must not flood the log.
type handshakeLog struct {
	mu         sync.Mutex
	last       time.Time // guarded by mu
	suppressed int       // guarded by mu
}

func (s *Server) logHandshake(remote net.Addr, err error) {
	if s.opts.logf == nil {
		return
	}
	if errors.Is(err, net.ErrClosed) {
		return // Stop ended it
	}
	l := &s.hsLog
	l.mu.Lock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < handshakeLogEvery {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.last = now
	n := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	s.log(slog.LevelWarn, "rpc: handshake failed", "remote", remote.String(), "err", err, "suppressed", n)
}
