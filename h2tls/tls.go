package h2tls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/internal/linger"
)

// ALPNProtocol is the ALPN protocol id of HTTP/2 over TLS (RFC 9113 §3.2).
const ALPNProtocol = "h2"

// errNotH2 is the error of a handshake whose peer did not agree to speak
// HTTP/2.
var errNotH2 = errors.New("the peer did not agree to speak HTTP/2 (RFC 9113 §3.2)")

// checkHTTP2 applies RFC 9113's rules to a negotiated connection. err
// means HTTP/2 must not start at all; insecure, a §9.2 violation that the
// connection is to start and end with at once.
func checkHTTP2(st *tls.ConnectionState) (insecure *frame.ConnError, err error) {
	if st.NegotiatedProtocol != ALPNProtocol {
		// RFC 9113 §3.2: "HTTP/2 over TLS uses the "h2" protocol
		// identifier"; §3.3: a client over TLS "MUST use the TLS-ALPN
		// extension".
		return nil, fmt.Errorf("the TLS connection negotiated ALPN protocol %q, not %q: %w", st.NegotiatedProtocol, ALPNProtocol, errNotH2)
	}
	// RFC 9113 §9.2: "Implementations of HTTP/2 MUST use TLS version 1.2
	// or higher"; §9.2.1 "... MUST disable compression" (crypto/tls has
	// none); §9.2.2 "A deployment of HTTP/2 over TLS 1.2 SHOULD NOT use
	// any of the prohibited cipher suites", and "An endpoint MAY choose to
	// generate a connection error ... of type INADEQUATE_SECURITY if one
	// of the prohibited cipher suites is negotiated."
	if st.Version < tls.VersionTLS12 {
		return &frame.ConnError{Code: frame.ErrCodeInadequateSecurity, Reason: fmt.Sprintf("TLS version %s is below TLS 1.2 (RFC 9113 §9.2)", tls.VersionName(st.Version))}, nil
	}
	if st.Version == tls.VersionTLS12 && !http2CipherSuite(st.CipherSuite) {
		return &frame.ConnError{Code: frame.ErrCodeInadequateSecurity, Reason: fmt.Sprintf("TLS 1.2 cipher suite %s is prohibited (RFC 9113 §9.2.2)", tls.CipherSuiteName(st.CipherSuite))}, nil
	}
	return nil, nil
}

// refuseInsecure starts HTTP/2 on tc only to end it, as §9.2 allows: the
// client's preface (client), an empty SETTINGS, and GOAWAY with ce, so that
// the peer learns why. It returns the handshake's error.
func refuseInsecure(tc net.Conn, ce *frame.ConnError, client bool) error {
	var b []byte
	if client {
		b = append(b, frame.ClientPreface...)
	}
	b = frame.AppendSettings(b)
	b = frame.AppendGoAway(b, 0, ce.Code, []byte(ce.Reason))
	tc.SetWriteDeadline(time.Now().Add(time.Second))
	tc.Write(b) // best effort: the peer learns why
	return ce
}

// http2CipherSuites are the TLS 1.2 suites crypto/tls implements that are
// not on the RFC 9113 Appendix A block list: AEAD ciphers with ephemeral
// key exchange. Every TLS 1.3 suite is allowed.
var http2CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

func http2CipherSuite(id uint16) bool { return slices.Contains(http2CipherSuites, id) }

// Configure returns a copy of cfg (nil: an empty one) made fit for
// HTTP/2: ALPN offers "h2" (first, if cfg already offers others), the
// minimum version is TLS 1.2, the TLS 1.2 cipher suites are those §9.2.2
// allows (cfg's own, filtered, or all that crypto/tls implements), and a
// client never renegotiates. Everything else (certificates, roots, client
// authentication, GetCertificate) is kept. A GetConfigForClient is wrapped
// so that the configs it returns are made fit the same way.
func Configure(cfg *tls.Config) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	}
	c := cfg.Clone()
	if !slices.Contains(c.NextProtos, ALPNProtocol) {
		c.NextProtos = append([]string{ALPNProtocol}, c.NextProtos...)
	}
	c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
	if c.CipherSuites == nil {
		c.CipherSuites = slices.Clone(http2CipherSuites)
	} else {
		c.CipherSuites = slices.DeleteFunc(slices.Clone(c.CipherSuites), func(id uint16) bool { return !http2CipherSuite(id) })
		if len(c.CipherSuites) == 0 {
			// None of them would do; TLS 1.3 still works, and a TLS 1.2
			// peer gets a handshake failure rather than a weak cipher.
			c.CipherSuites = []uint16{}
		}
	}
	c.Renegotiation = tls.RenegotiateNever
	if get := c.GetConfigForClient; get != nil {
		c.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			cfg, err := get(hello)
			if cfg == nil || err != nil {
				return cfg, err
			}
			return Configure(cfg), nil
		}
	}
	return c
}

// DefaultHandshakeTimeout bounds ServerHandshake and ClientHandshake when
// ctx has no earlier deadline.
const DefaultHandshakeTimeout = 10 * time.Second

// ServerHandshake runs the server side of a TLS handshake on nc with cfg
// (see Configure) and returns the connection to give conn.Server. It has a
// *tls.Conn's methods (ConnectionState too), but each Write goes out in one
// write on nc, not one per TLS record (tlswrite.go), and a failed read
// before the first that succeeds (the client's preface) says why, as the
// handshake's errors do.
//
// It fails, with an error naming the cause, if ctx ends or
// DefaultHandshakeTimeout passes first, if the handshake fails, or if the
// client did not agree to speak HTTP/2 (ALPN "h2", RFC 9113 §3.2). A
// connection below TLS 1.2 or on a TLS 1.2 cipher suite that RFC 9113
// §9.2.2 prohibits is answered with GOAWAY INADEQUATE_SECURITY, and fails
// with the *frame.ConnError sent. A client that sent the HTTP/2 cleartext
// preface instead of a TLS ClientHello (h2c to a TLS port) is answered in
// its own language: an empty SETTINGS and a GOAWAY INADEQUATE_SECURITY
// saying that the port requires TLS (ErrRequired). The caller closes nc
// when ServerHandshake fails.
func ServerHandshake(ctx context.Context, nc net.Conn, cfg *tls.Config) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultHandshakeTimeout)
	defer cancel()
	raw := newCoalescer(nc)
	tc := tls.Server(raw, cfg)
	err := tc.HandshakeContext(ctx)
	if err == nil {
		return checked(&tlsConn{Conn: tc, raw: raw, client: false})
	}
	var rhe tls.RecordHeaderError
	if errors.As(err, &rhe) && rhe.Conn != nil && string(rhe.RecordHeader[:]) == string(frame.ClientPreface[:5]) {
		b := frame.AppendSettings(nil)
		b = frame.AppendGoAway(b, 0, frame.ErrCodeInadequateSecurity, []byte(ErrRequired.Error()))
		rhe.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		rhe.Conn.Write(b) // best effort: the client learns why
		return nil, fmt.Errorf("h2tls: TLS handshake: the client sent the HTTP/2 cleartext preface (h2c) to a TLS port: %w", ErrRequired)
	}
	// The client may have finished its side (TLS 1.3 does before the
	// server checks its certificate) and sent its preface behind it:
	// closing now, with that unread, would make the kernel send RST and
	// could drop our alert before the client reads the reason.
	linger.Linger(nc, handshakeLinger)
	return nil, fmt.Errorf("h2tls: TLS handshake: %w", explainTLS(err, false))
}

// checked returns tc if HTTP/2 may run on it (checkHTTP2), else the error
// why, after a GOAWAY that says it for a §9.2 violation.
func checked(tc *tlsConn) (net.Conn, error) {
	st := tc.ConnectionState()
	insecure, err := checkHTTP2(&st)
	if err != nil {
		return nil, fmt.Errorf("h2tls: %w", err)
	}
	if insecure != nil {
		err := refuseInsecure(tc, insecure, tc.client)
		linger.Linger(tc.raw.Conn, handshakeLinger)
		return nil, fmt.Errorf("h2tls: %w", err)
	}
	return tc, nil
}

// handshakeLinger bounds how long a failed server handshake waits for the
// client to close after our alert (see linger).
const handshakeLinger = time.Second

// ErrRequired is the GOAWAY debug text ServerHandshake sends to an h2c
// client, and the error it returns then.
var ErrRequired = errors.New("this port requires TLS: connect with TLS (https)")

// ClientHandshake runs the client side of a TLS handshake on nc with cfg
// (see Configure; cfg.ServerName names the server to verify) and returns
// the connection to give conn.Client (as ServerHandshake's: one write per
// Write, and a failed first read that says why). Its errors say what went
// wrong in words a user can act on: a server that answered in plaintext (an
// h2c port), an unknown certificate authority, a name mismatch, an expired
// certificate, a client certificate the server refused, a server that did
// not agree to speak HTTP/2. It fails as ServerHandshake does on a §9.2
// violation. The caller closes nc when it fails.
func ClientHandshake(ctx context.Context, nc net.Conn, cfg *tls.Config) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultHandshakeTimeout)
	defer cancel()
	raw := newCoalescer(nc)
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("h2tls: TLS handshake with %s: %w", nc.RemoteAddr(), explainTLS(err, true))
	}
	return checked(&tlsConn{Conn: tc, raw: raw, client: true})
}

// explainTLS adds to a handshake error, or a first read's after it, the
// likely cause in plain words. It keeps err in the chain.
func explainTLS(err error, client bool) error {
	var (
		rhe     tls.RecordHeaderError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		alert   tls.AlertError
		verify  *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &rhe) && client:
		return fmt.Errorf("the server answered in plaintext, not TLS (is it an h2c port?): %w", err)
	case errors.As(err, &rhe):
		return fmt.Errorf("the client did not start a TLS handshake: %w", err)
	case errors.As(err, &unknown):
		who := "server"
		if !client {
			who = "client"
		}
		return fmt.Errorf("the %s's certificate is signed by an authority we do not trust: %w", who, err)
	case errors.As(err, &host):
		return fmt.Errorf("the server's certificate is not valid for the name we asked for (set the server name to one it names): %w", err)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Errorf("a certificate has expired or is not yet valid: %w", err)
	case client && strings.Contains(err.Error(), "remote error: tls: certificate required"):
		// TLS 1.3 ends the client's handshake before the server checks
		// the client's certificate: the refusal comes with the first read.
		return fmt.Errorf("the server requires a client certificate signed by an authority it trusts, and we presented none it accepts: %w", err)
	case client && strings.Contains(err.Error(), "remote error: tls: "):
		return fmt.Errorf("the server refused the TLS handshake (our client certificate?): %w", err)
	case errors.As(err, &alert) || errors.As(err, &verify):
		return fmt.Errorf("the peer refused the handshake: %w", err)
	case client && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return fmt.Errorf("the server closed the connection during the TLS handshake (a plaintext h2c port, or it refused us): %w", err)
	case !client && err.Error() == "tls: client didn't provide a certificate":
		return fmt.Errorf("the client sent no certificate, and one is required: %w", err)
	}
	return err
}
