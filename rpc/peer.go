package rpc

import (
	"context"
	"net"
	"strings"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/hpack"
)

// Peer describes the other end of a call's connection: for a handler its
// client (PeerFromContext), for a client its server (CallPeer).
type Peer struct {
	// Addr and LocalAddr are the connection's remote and local addresses.
	Addr, LocalAddr net.Addr
	// AuthInfo is what the connection's handshake learnt of the peer:
	// over TLS (package h2tls) its *tls.ConnectionState and its workload
	// identity, taken from the first certificate of its first verified
	// chain (the SPIFFE ID in its URI SAN when there is one, else its
	// subject common name, else its first DNS name). Identity is "" when
	// the peer presented no certificate we verified (h2c, TLS without a
	// client certificate, or a client that skips verification).
	AuthInfo
}

// peerOfConn describes the server at the other end of a client
// connection.
func (cc *ClientConn) peerOfConn(c *conn.Conn) *Peer {
	p := &Peer{Addr: c.RemoteAddr(), LocalAddr: c.LocalAddr()}
	if auth, ok := cc.auth.Load(c); ok {
		p.AuthInfo = auth.(AuthInfo)
	}
	return p
}

type peerKey struct{}
type callerKey struct{}

// PeerFromContext returns the peer of the call a handler's (or a server
// interceptor's) ctx belongs to.
func PeerFromContext(ctx context.Context) (*Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(*Peer)
	return p, ok && p != nil
}

// CallPeer stores in *p the server the call went to, once its stream is
// open: its address, TLS state and identity (as grpc-go's grpc.Peer).
func CallPeer(p *Peer) CallOption { return func(ci *callInfo) { ci.peer = p } }

// OriginalCallerKey is the request metadata that carries the identity of a
// call's original caller across hops. A handler that calls on with its
// context sends it, as it sends the time left of its deadline; a server
// believes it only from peers TrustOriginalCallerFrom names and refuses
// the call (PERMISSION_DENIED) from any other.
const OriginalCallerKey = "h2rpc-original-caller"

// OriginalCaller returns the identity of the original caller of the call a
// handler's ctx belongs to: the one a trusted peer asserted
// (TrustOriginalCallerFrom), else the immediate peer's own Identity. False
// if there is none (no verified client certificate, no assertion).
func OriginalCaller(ctx context.Context) (string, bool) {
	id, _ := ctx.Value(callerKey{}).(string)
	return id, id != ""
}

// TrustOriginalCallerFrom names the peer identities (Peer.Identity, from
// their verified certificates) the server believes when they assert an
// original caller (OriginalCallerKey): the services that call it on
// behalf of others. A call from any other peer that carries the assertion
// is refused with PERMISSION_DENIED. Without this option no peer is
// believed.
func TrustOriginalCallerFrom(identities ...string) ServerOption {
	return func(o *serverOptions) {
		if o.sec.trust == nil {
			o.sec.trust = map[string]bool{}
		}
		for _, id := range identities {
			if id != "" {
				o.sec.trust[id] = true
			}
		}
	}
}

// originalCaller sets ss.caller from the request's assertion, if its peer
// may make one, or from the peer's identity; it returns the status that
// refuses a call carrying an assertion it may not make.
func (s *Server) originalCaller(ss *serverStream) *Status {
	ss.caller = ss.peer.Identity
	vals, ok := ss.incoming[OriginalCallerKey]
	if !ok {
		return nil
	}
	if ss.peer.Identity == "" || !s.opts.sec.trust[ss.peer.Identity] {
		who := ss.peer.Identity
		if who == "" {
			who = "an unauthenticated peer"
		}
		return statusf(PermissionDenied, "rpc: %s may not assert an original caller (%s)", who, OriginalCallerKey)
	}
	if len(vals) != 1 || strings.TrimSpace(vals[0]) == "" {
		return statusf(PermissionDenied, "rpc: the original caller must be one identity, got %d values", len(vals))
	}
	ss.caller = vals[0]
	delete(ss.incoming, OriginalCallerKey)
	return nil
}

// appendOriginalCaller adds the original caller of the call ctx belongs
// to, if any, to an outgoing call's header fields.
func appendOriginalCaller(dst []hpack.Field, ctx context.Context) []hpack.Field {
	if id, ok := OriginalCaller(ctx); ok {
		dst = append(dst, hpack.Field{Name: OriginalCallerKey, Value: id})
	}
	return dst
}
