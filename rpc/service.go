package rpc

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// ServiceDesc describes a service for RegisterService, in the shape grpc-go's
// generated code uses, so generated-code patterns map over.
type ServiceDesc struct {
	ServiceName string // "package.Service"
	// HandlerType is a pointer to the service's interface type, as in
	// (*GreeterServer)(nil); RegisterService checks the implementation
	// satisfies it. May be nil.
	HandlerType any
	Methods     []MethodDesc
	Streams     []StreamDesc
	Metadata    any // informational, e.g. the .proto file name
}

// MethodDesc describes a unary method.
type MethodDesc struct {
	MethodName string
	Handler    MethodHandler
}

// MethodHandler runs a unary method: dec decodes the request into its
// argument; when interceptor is not nil the handler must call it (with
// itself as the UnaryHandler) instead of calling the method directly.
type MethodHandler func(srv any, ctx context.Context, dec func(any) error, interceptor UnaryServerInterceptor) (any, error)

// StreamDesc describes a streaming method (for RegisterService) and the
// shape of a streaming call (for ClientConn.NewStream).
type StreamDesc struct {
	StreamName    string
	Handler       StreamHandler
	ServerStreams bool // the server sends a stream of messages
	ClientStreams bool // the client sends a stream of messages
}

// StreamHandler runs a streaming method.
type StreamHandler func(srv any, stream ServerStream) error

// ServerStream is the server side of a streaming call. SendMsg and RecvMsg
// may be called from different goroutines, but neither from two at once.
type ServerStream interface {
	// SetHeader adds metadata to the response headers, sent with the first
	// message, SendHeader, or the end of the call. It fails once the headers
	// are sent.
	SetHeader(MD) error
	// SendHeader sends the response headers now, with md added.
	SendHeader(MD) error
	// SetTrailer adds metadata to the trailers sent at the end of the call.
	SetTrailer(MD)
	// Context is the call's context: it carries the incoming metadata and
	// the client's deadline and is cancelled when the call ends or the
	// client cancels.
	Context() context.Context
	// SendMsg sends one response message.
	SendMsg(m any) error
	// RecvMsg receives the next request message into m; io.EOF when the
	// client has finished sending. On a server-streaming method it reads
	// the one request up to the end of the request stream: none, or a
	// second one, fails with UNIMPLEMENTED, the status the call then ends
	// with whatever the handler returns.
	RecvMsg(m any) error
}

type methodEntry struct {
	impl    any
	service string
	unary   *MethodDesc
	stream  *StreamDesc
}

// RegisterService registers a service and its implementation. It must be
// called before Serve; it panics on a duplicate service name or an
// implementation that does not satisfy desc.HandlerType.
func (s *Server) RegisterService(desc *ServiceDesc, impl any) {
	if desc.HandlerType != nil && impl != nil {
		want := reflect.TypeOf(desc.HandlerType).Elem()
		if !reflect.TypeOf(impl).Implements(want) {
			panic(fmt.Sprintf("rpc: RegisterService: %T does not implement %v", impl, want))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving {
		panic("rpc: RegisterService after Serve")
	}
	if _, dup := s.services[desc.ServiceName]; dup {
		panic("rpc: RegisterService: duplicate service " + desc.ServiceName)
	}
	s.services[desc.ServiceName] = true
	for i := range desc.Methods {
		m := &desc.Methods[i]
		s.methods["/"+desc.ServiceName+"/"+m.MethodName] = &methodEntry{impl: impl, service: desc.ServiceName, unary: m}
	}
	for i := range desc.Streams {
		d := &desc.Streams[i]
		s.methods["/"+desc.ServiceName+"/"+d.StreamName] = &methodEntry{impl: impl, service: desc.ServiceName, stream: d}
	}
}

// ServiceInfo describes a registered service, for GetServiceInfo.
type ServiceInfo struct {
	// Methods lists the service's methods, sorted by name.
	Methods []MethodInfo
}

// MethodInfo describes one method of a registered service.
type MethodInfo struct {
	Name           string // the method name, without the service
	IsClientStream bool
	IsServerStream bool
}

// GetServiceInfo returns the services registered so far, by full name
// ("package.Service"): what a reflection service lists.
func (s *Server) GetServiceInfo() map[string]ServiceInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := make(map[string]ServiceInfo, len(s.services))
	for _, e := range s.methods {
		si := info[e.service]
		if e.unary != nil {
			si.Methods = append(si.Methods, MethodInfo{Name: e.unary.MethodName})
		} else {
			si.Methods = append(si.Methods, MethodInfo{Name: e.stream.StreamName, IsClientStream: e.stream.ClientStreams, IsServerStream: e.stream.ServerStreams})
		}
		info[e.service] = si
	}
	for name := range s.services {
		si := info[name] // a service without methods is listed too
		slices.SortFunc(si.Methods, func(a, b MethodInfo) int { return strings.Compare(a.Name, b.Name) })
		info[name] = si
	}
	return info
}
