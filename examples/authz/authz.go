// Package authz is an example of authorization by workload identity: a
// server interceptor that allows or denies each method to each caller from
// a small policy, identity → allowed methods.
//
// The identity is the one mutual TLS proved (rpc.Peer.Identity: the SPIFFE
// ID of the client certificate's URI SAN, or its subject), or, for a call
// a trusted service makes on someone's behalf, the original caller it
// asserts (rpc.OriginalCaller, believed only from the peers
// rpc.TrustOriginalCallerFrom names). The answers follow gRPC's status
// code table: a call with no identity at all is UNAUTHENTICATED ("the
// request does not have valid authentication credentials"); an identity
// the policy does not allow the method is PERMISSION_DENIED.
//
//	policy := authz.Policy{
//		"spiffe://example.org/researcher": {"/messenger.LearningMessenger/*"},
//		"spiffe://example.org/intern":     {"/messenger.LearningMessenger/GetLearningStatus"},
//	}
//	srv := rpc.NewServer(append(policy.ServerOptions(), h2tls.Server(mtlsConfig))...)
package authz

import (
	"context"
	"slices"
	"strings"

	"github.com/h2rpc/h2rpc/rpc"
)

// Policy maps a caller identity to the methods it may call: full method
// names ("/pkg.Service/Method"), "/pkg.Service/*" for every method of a
// service, or "*" for every method. An identity not in the policy may call
// nothing.
type Policy map[string][]string

// Allows reports whether identity may call method.
func (p Policy) Allows(identity, method string) bool {
	service, _, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	return slices.ContainsFunc(p[identity], func(rule string) bool {
		return rule == "*" || rule == method || rule == "/"+service+"/*"
	})
}

// Check decides a call: nil if the caller of the call ctx belongs to may
// call method, else the status that refuses it.
func (p Policy) Check(ctx context.Context, method string) error {
	id, ok := rpc.OriginalCaller(ctx)
	if !ok {
		return rpc.Errorf(rpc.Unauthenticated, "authz: %s needs a verified client certificate", method)
	}
	if !p.Allows(id, method) {
		return rpc.Errorf(rpc.PermissionDenied, "authz: %s may not call %s", id, method)
	}
	return nil
}

// UnaryInterceptor checks unary calls before their handler runs.
func (p Policy) UnaryInterceptor(ctx context.Context, req any, info *rpc.UnaryServerInfo, handler rpc.UnaryHandler) (any, error) {
	if err := p.Check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// StreamInterceptor checks streaming calls before their handler runs.
func (p Policy) StreamInterceptor(srv any, ss rpc.ServerStream, info *rpc.StreamServerInfo, handler rpc.StreamHandler) error {
	if err := p.Check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

// ServerOptions installs both interceptors.
func (p Policy) ServerOptions() []rpc.ServerOption {
	return []rpc.ServerOption{rpc.ChainUnaryInterceptor(p.UnaryInterceptor), rpc.ChainStreamInterceptor(p.StreamInterceptor)}
}
