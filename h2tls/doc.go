// Package h2tls is HTTP/2 and gRPC over TLS (RFC 9113 §3.2, §9.2), on the
// standard library's crypto/tls: the handshakes that conn's connections
// run on (ServerHandshake, ClientHandshake, Configure), the rpc options
// that make a Server or a ClientConn use them (Server, Client), peer
// identity (WorkloadIdentity), and certificate rotation (KeyPairReloader).
//
// It is a package of its own so that conn and rpc do not import
// crypto/tls: a program that never asks for TLS does not link it, nor
// crypto/x509 and the ciphers behind them (docs/security.md).
package h2tls
