package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/h2rpc/h2rpc/conn"
)

// Transport credentials: TLS on both sides (docs/security.md).
//
// A Server with ServerTLS runs a TLS handshake on every accepted
// connection, on a goroutine of its own so that a slow client holds up no
// one else, and serves HTTP/2 only over ALPN "h2". A ClientConn with WithTLS
// runs the handshake on every connection it dials and sends :scheme https.
// Without either, both speak h2c with prior knowledge.

// ServerTLS makes the server speak TLS only, with cfg made fit for HTTP/2
// (conn.ConfigureTLS: ALPN h2, TLS 1.2 or later, §9.2.2 cipher suites).
// cfg holds the certificate (Certificates, or GetCertificate to rotate it
// without a restart: see KeyPairReloader) and, for mutual TLS, ClientCAs
// with ClientAuth tls.RequireAndVerifyClientCert. A plaintext client gets
// a GOAWAY saying that the port requires TLS. Handshake failures are logged
// to the ServerLogger at WARN, at most one a second (the others are
// counted in the next).
func ServerTLS(cfg *tls.Config) ServerOption {
	return func(o *serverOptions) { o.sec.tls = conn.ConfigureTLS(cfg) }
}

// WithTLS makes the ClientConn connect over TLS, with cfg made fit for
// HTTP/2 (conn.ConfigureTLS). A nil cfg verifies the server against the
// system roots; cfg.RootCAs names another pool. The name verified is
// cfg.ServerName, or else the host of the call authority (the target's, or
// WithAuthority's). For mutual TLS set cfg.Certificates, or
// GetClientCertificate. Calls send :scheme https. A handshake that fails
// fails the call with UNAVAILABLE and a message naming the cause.
func WithTLS(cfg *tls.Config) DialOption {
	return func(o *dialOptions) { o.sec.tls, o.sec.insecure = conn.ConfigureTLS(cfg), false }
}

// WithInsecure makes the ClientConn speak h2c (HTTP/2 in cleartext, with
// prior knowledge), as it does without WithTLS: it says so where the dial
// is written. Per-call credentials are refused over it (see
// WithCallCredentials).
func WithInsecure() DialOption {
	return func(o *dialOptions) { o.sec.tls, o.sec.insecure = nil, true }
}

// clientSecurity is the DialOptions' part on transport security.
type clientSecurity struct {
	tls      *tls.Config // nil: h2c
	insecure bool        // WithInsecure was given
}

// serverSecurity is the ServerOptions' part on transport security.
type serverSecurity struct {
	tls   *tls.Config     // nil: h2c
	trust map[string]bool // identities trusted to assert an original caller
}

// scheme is the :scheme of the ClientConn's requests.
func (cc *ClientConn) scheme() string {
	if cc.opts.sec.tls != nil {
		return "https"
	}
	return "http"
}

// secure turns a dialled connection into the one HTTP/2 runs on: a TLS
// handshake when WithTLS was given, nc itself otherwise. It closes nc when
// it fails.
func (cc *ClientConn) secure(ctx context.Context, nc net.Conn) (net.Conn, error) {
	cfg := cc.opts.sec.tls
	if cfg == nil {
		return nc, nil
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = cc.authority
		if host, _, err := net.SplitHostPort(cc.authority); err == nil {
			cfg.ServerName = host
		}
	}
	tc, err := conn.ClientHandshake(ctx, nc, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}

// acceptConn serves a connection Serve accepted: at once for h2c; for TLS
// after a handshake on a goroutine of its own.
func (s *Server) acceptConn(nc net.Conn) {
	if s.opts.sec.tls == nil {
		s.serveConn(nc)
		return
	}
	if !s.startHandshake(nc) {
		return
	}
	go func() {
		if tc, err := s.handshake(nc); err == nil {
			s.serveConn(tc)
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

// handshake runs the server's TLS handshake on nc, started by
// startHandshake, closing nc and logging if it fails.
func (s *Server) handshake(nc net.Conn) (net.Conn, error) {
	defer s.handshakes.Done()
	tc, err := conn.ServerHandshake(context.Background(), nc, s.opts.sec.tls)
	s.mu.Lock()
	delete(s.handshaking, nc)
	s.mu.Unlock()
	if err != nil {
		nc.Close()
		s.logHandshake(nc.RemoteAddr(), err)
		return nil, err
	}
	return tc, nil
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
	if s.opts.logger == nil {
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
	s.log(slog.LevelWarn, "rpc: TLS handshake failed", "remote", remote.String(), "err", err, "suppressed", n)
}
