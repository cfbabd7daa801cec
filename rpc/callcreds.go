package rpc

import (
	"context"
	"errors"
	"strings"
)

// CallCredentials returns the metadata to send with one call: a bearer
// token in "authorization", say. It is called for every call, with the
// call's context and full method name ("/pkg.Service/Method"), so it can
// refresh a token or scope it to the method. An error fails the call with
// UNAUTHENTICATED (or with its own code, if it is a *Status).
type CallCredentials func(ctx context.Context, method string) (MD, error)

// WithCallCredentials adds f's metadata to every call of the ClientConn.
// Over h2c the call fails with UNAUTHENTICATED instead, and f is not
// called: a token sent in cleartext is a token given away. Use
// WithInsecureCallCredentials where cleartext is safe.
func WithCallCredentials(f CallCredentials) DialOption {
	return withCallCreds(f, false)
}

// WithInsecureCallCredentials is WithCallCredentials that also sends the
// credentials over h2c: for loopback, or a link a TLS-terminating proxy or
// sidecar protects.
func WithInsecureCallCredentials(f CallCredentials) DialOption {
	return withCallCreds(f, true)
}

func withCallCreds(f CallCredentials, insecure bool) DialOption {
	c := callCreds{f: f, insecure: insecure}
	return func(o *dialOptions) {
		WithChainUnaryInterceptor(c.unary)(o)
		WithChainStreamInterceptor(c.stream)(o)
	}
}

type callCreds struct {
	f        CallCredentials
	insecure bool
}

// errCredsOverH2C fails a call whose credentials would go in cleartext.
var errCredsOverH2C = errors.New("rpc: per-call credentials are not sent over h2c (cleartext): dial with h2tls.Client, or use WithInsecureCallCredentials for a link that is safe")

func (c callCreds) apply(ctx context.Context, cc *ClientConn, method string) (context.Context, error) {
	if cc.opts.sec.handshake == nil && !c.insecure {
		return nil, &Status{Code: Unauthenticated, Message: errCredsOverH2C.Error(), cause: errCredsOverH2C}
	}
	md, err := c.f(ctx, method)
	if err != nil {
		var st *Status
		if errors.As(err, &st) {
			return nil, st
		}
		return nil, &Status{Code: Unauthenticated, Message: "rpc: per-call credentials: " + err.Error(), cause: err}
	}
	if len(md) == 0 {
		return ctx, nil
	}
	kv := make([]string, 0, 2*len(md))
	for k, vs := range md {
		for _, v := range vs {
			kv = append(kv, k, v)
		}
	}
	return AppendToOutgoingContext(ctx, kv...), nil
}

func (c callCreds) unary(ctx context.Context, method string, req, reply any, cc *ClientConn, invoker UnaryInvoker, opts ...CallOption) error {
	ctx, err := c.apply(ctx, cc, method)
	if err != nil {
		return err
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (c callCreds) stream(ctx context.Context, desc *StreamDesc, cc *ClientConn, method string, streamer Streamer, opts ...CallOption) (ClientStream, error) {
	ctx, err := c.apply(ctx, cc, method)
	if err != nil {
		return nil, err
	}
	return streamer(ctx, desc, cc, method, opts...)
}

// CredentialsCheck checks the credentials of a call before its handler
// runs: md is the call's request metadata, method its full name. It
// returns the context the handler gets (ctx, or one carrying what the
// check learnt) or an error that fails the call: a *Status as it is,
// anything else as UNAUTHENTICATED.
type CredentialsCheck func(ctx context.Context, method string, md MD) (context.Context, error)

// CheckCallCredentials runs check on every call, unary and streaming,
// before its handler (as the outermost interceptors added so far are
// outside it: add it first to run it first).
func CheckCallCredentials(check CredentialsCheck) ServerOption {
	run := func(ctx context.Context, method string) (context.Context, error) {
		md, _ := FromIncomingContext(ctx)
		nctx, err := check(ctx, method, md)
		if err != nil {
			var st *Status
			if errors.As(err, &st) {
				return nil, st
			}
			return nil, &Status{Code: Unauthenticated, Message: err.Error(), cause: err}
		}
		if nctx == nil {
			nctx = ctx
		}
		return nctx, nil
	}
	unary := func(ctx context.Context, req any, info *UnaryServerInfo, handler UnaryHandler) (any, error) {
		ctx, err := run(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
	stream := func(srv any, ss ServerStream, info *StreamServerInfo, handler StreamHandler) error {
		ctx, err := run(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		if ctx != ss.Context() {
			ss = &contextStream{ServerStream: ss, ctx: ctx}
		}
		return handler(srv, ss)
	}
	return func(o *serverOptions) {
		ChainUnaryInterceptor(unary)(o)
		ChainStreamInterceptor(stream)(o)
	}
}

// contextStream is a ServerStream with another context.
type contextStream struct {
	ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

// BearerToken returns the token of md's "authorization: Bearer TOKEN"
// (the scheme matched without regard to case).
func BearerToken(md MD) (string, bool) {
	for _, v := range md["authorization"] {
		scheme, tok, ok := strings.Cut(v, " ")
		if ok && strings.EqualFold(scheme, "bearer") && strings.TrimSpace(tok) != "" {
			return strings.TrimSpace(tok), true
		}
	}
	return "", false
}
