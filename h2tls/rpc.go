package h2tls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"

	"github.com/h2rpc/h2rpc/rpc"
)

// Server makes an rpc.Server speak TLS only, with cfg made fit for HTTP/2
// (Configure: ALPN h2, TLS 1.2 or later, §9.2.2 cipher suites). cfg holds
// the certificate (Certificates, or GetCertificate to rotate it without a
// restart: see KeyPairReloader) and, for mutual TLS, ClientCAs with
// ClientAuth tls.RequireAndVerifyClientCert. A plaintext client gets a
// GOAWAY saying that the port requires TLS. Handshake failures are logged
// to the ServerLogger at WARN, at most one a second (the others are
// counted in the next). A handler finds the client's TLS state and
// identity in its rpc.Peer.
func Server(cfg *tls.Config) rpc.ServerOption {
	cfg = Configure(cfg)
	return rpc.ServerHandshake(func(ctx context.Context, nc net.Conn, _ string) (net.Conn, rpc.AuthInfo, error) {
		tc, err := ServerHandshake(ctx, nc, cfg)
		if err != nil {
			return nil, rpc.AuthInfo{}, err
		}
		return tc, authInfo(tc.(*tlsConn).Conn), nil
	})
}

// Client makes an rpc.ClientConn connect over TLS, with cfg made fit for
// HTTP/2 (Configure). A nil cfg verifies the server against the system
// roots; cfg.RootCAs names another pool. The name verified is
// cfg.ServerName, or else the host of the call authority (the target's,
// or rpc.WithAuthority's). For mutual TLS set cfg.Certificates, or
// GetClientCertificate. Calls send :scheme https. A handshake that fails
// fails the call with UNAVAILABLE and a message naming the cause.
//
// A connection that an rpc.WithDialer dialer returns already over TLS (a
// *tls.Conn) is not wrapped in TLS again: its handshake is run if it has
// not been, with the dialer's own config, and the connection is checked
// as ours are (ALPN h2, RFC 9113 §9.2); cfg is not used for it.
func Client(cfg *tls.Config) rpc.DialOption {
	cfg = Configure(cfg)
	return rpc.WithHandshake(func(ctx context.Context, nc net.Conn, authority string) (net.Conn, rpc.AuthInfo, error) {
		if tc, ok := nc.(*tls.Conn); ok {
			return dialedTLS(ctx, tc)
		}
		cfg := cfg
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName = authority
			if host, _, err := net.SplitHostPort(authority); err == nil {
				cfg.ServerName = host
			}
		}
		tc, err := ClientHandshake(ctx, nc, cfg)
		if err != nil {
			return nil, rpc.AuthInfo{}, err
		}
		return tc, authInfo(tc.(*tlsConn).Conn), nil
	})
}

// dialedTLS completes and checks a TLS connection a dialer made.
func dialedTLS(ctx context.Context, tc *tls.Conn) (net.Conn, rpc.AuthInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, rpc.AuthInfo{}, fmt.Errorf("h2tls: TLS handshake with %s: %w", tc.RemoteAddr(), explainTLS(err, true))
	}
	st := tc.ConnectionState()
	insecure, err := checkHTTP2(&st)
	if err != nil {
		return nil, rpc.AuthInfo{}, fmt.Errorf("h2tls: %w", err)
	}
	if insecure != nil {
		return nil, rpc.AuthInfo{}, fmt.Errorf("h2tls: %w", refuseInsecure(tc, insecure, true))
	}
	return tc, authInfo(tc), nil
}

// authInfo is what a handshake learnt of the peer: its TLS state and
// workload identity.
func authInfo(tc *tls.Conn) rpc.AuthInfo {
	st := tc.ConnectionState()
	a := rpc.AuthInfo{State: &st}
	if len(st.VerifiedChains) > 0 && len(st.VerifiedChains[0]) > 0 {
		a.Identity = WorkloadIdentity(st.VerifiedChains[0][0])
	}
	return a
}

// WorkloadIdentity returns the identity a certificate names: its first
// SPIFFE ID (a URI SAN with the spiffe scheme), else its subject common
// name, else its first DNS name, else "".
func WorkloadIdentity(cert *x509.Certificate) string {
	for _, u := range cert.URIs {
		if u.Scheme == "spiffe" && u.Host != "" {
			return u.String()
		}
	}
	if cert.Subject.CommonName != "" {
		return cert.Subject.CommonName
	}
	if len(cert.DNSNames) > 0 {
		return cert.DNSNames[0]
	}
	return ""
}
