// Package health serves the standard gRPC health service,
// grpc.health.v1.Health (Check, Watch and List), from a registry of
// serving statuses the program keeps up to date. Kubernetes gRPC probes,
// grpc-health-probe and grpc-go's client-side health checking call it.
//
//	hs := health.NewServer()
//	health.Register(s, hs)
//	hs.SetServingStatus(greeter.Greeter_ServiceName, health.Serving)
//
// and, to drain: hs.Shutdown() (everything NOT_SERVING, watchers told,
// Watch calls ended), then s.GracefulStop().
//
// Its messages are encoded here with package wire, so the package needs no
// protobuf runtime, and a program may link grpc-go's health package too
// without a protobuf registration conflict.
package health

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/h2rpc/h2rpc/rpc"
)

// ServiceName is the full name of the health service.
const ServiceName = "grpc.health.v1.Health"

// Status is a serving status: HealthCheckResponse.ServingStatus.
type Status int32

// The serving statuses of grpc.health.v1.
const (
	Unknown        Status = 0
	Serving        Status = 1
	NotServing     Status = 2
	ServiceUnknown Status = 3 // Watch only: the service is not registered
)

func (s Status) String() string {
	switch s {
	case Unknown:
		return "UNKNOWN"
	case Serving:
		return "SERVING"
	case NotServing:
		return "NOT_SERVING"
	case ServiceUnknown:
		return "SERVICE_UNKNOWN"
	}
	return fmt.Sprintf("Status(%d)", int32(s))
}

// maxList is the most services List answers for; past it, it fails with
// RESOURCE_EXHAUSTED, as the health proto allows, and the client should
// Check the services it cares about instead.
const maxList = 100

// Server is the health service's status registry. The empty service name
// stands for the whole server and starts SERVING; other services are
// unknown (Check fails with NOT_FOUND) until set. It is safe for
// concurrent use.
type Server struct {
	mu       sync.Mutex
	statuses map[string]Status                   // guarded by mu
	watchers map[string]map[chan Status]struct{} // guarded by mu; each channel holds the latest status not yet sent
	shutdown bool                                // guarded by mu; statuses are frozen at NOT_SERVING
	stopping chan struct{}                       // guarded by mu; closed by Shutdown, to end Watch calls
}

// NewServer returns a registry with the server ("") SERVING.
func NewServer() *Server {
	return &Server{
		statuses: map[string]Status{"": Serving},
		watchers: map[string]map[chan Status]struct{}{},
		stopping: make(chan struct{}),
	}
}

// SetServingStatus records the status of service ("" for the whole
// server) and sends it to every Watch of that service. After Shutdown it
// does nothing until Resume.
func (h *Server) SetServingStatus(service string, status Status) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shutdown {
		return
	}
	h.setLocked(service, status)
}

func (h *Server) setLocked(service string, status Status) {
	h.statuses[service] = status
	for ch := range h.watchers[service] {
		// Keep only the latest status in the channel: a slow watcher skips
		// statuses it had not read yet, but never sees a stale one.
		select {
		case <-ch:
		default:
		}
		ch <- status
	}
}

// Shutdown sets every service NOT_SERVING, tells the watchers, ends the
// Watch calls (with UNAVAILABLE, so GracefulStop need not wait for them)
// and ignores SetServingStatus until Resume. Call it before
// rpc.Server.GracefulStop, so load balancers stop sending calls while the
// ones in flight finish.
func (h *Server) Shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shutdown {
		return
	}
	h.shutdown = true
	for service := range h.statuses {
		h.setLocked(service, NotServing)
	}
	close(h.stopping)
}

// Resume sets every service SERVING again and lets SetServingStatus work.
func (h *Server) Resume() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.shutdown {
		return
	}
	h.shutdown = false
	h.stopping = make(chan struct{})
	for service := range h.statuses {
		h.setLocked(service, Serving)
	}
}

func (h *Server) check(service string) (Status, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.statuses[service]
	return st, ok
}

// watch registers a watcher of service; its channel holds the current
// status already.
func (h *Server) watch(service string) (ch chan Status, stopping <-chan struct{}, cancel func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch = make(chan Status, 1)
	st, ok := h.statuses[service]
	if !ok {
		st = ServiceUnknown
	}
	ch <- st
	if h.watchers[service] == nil {
		h.watchers[service] = map[chan Status]struct{}{}
	}
	h.watchers[service][ch] = struct{}{}
	return ch, h.stopping, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.watchers[service], ch)
		if len(h.watchers[service]) == 0 {
			delete(h.watchers, service)
		}
	}
}

func (h *Server) list() (map[string]Status, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.statuses) > maxList {
		return nil, false
	}
	out := make(map[string]Status, len(h.statuses))
	for k, v := range h.statuses {
		out[k] = v
	}
	return out, true
}

// Register registers h as grpc.health.v1.Health with s.
func Register(s rpc.ServiceRegistrar, h *Server) {
	s.RegisterService(&serviceDesc, h)
}

var serviceDesc = rpc.ServiceDesc{
	ServiceName: ServiceName,

	Methods: []rpc.MethodDesc{
		{MethodName: "Check", Handler: checkHandler},
		{MethodName: "List", Handler: listHandler},
	},
	Streams: []rpc.StreamDesc{
		{StreamName: "Watch", Handler: watchHandler, ServerStreams: true},
	},
	Metadata: "grpc/health/v1/health.proto",
}

// unary runs a unary handler through the server's interceptor, if any.
func unary(srv any, ctx context.Context, dec func(any) error, interceptor rpc.UnaryServerInterceptor, method string,
	do func(h *Server, req []byte) (any, error)) (any, error) {
	var req []byte
	if err := dec(&req); err != nil {
		return nil, err
	}
	h := srv.(*Server)
	if interceptor == nil {
		return do(h, req)
	}
	info := &rpc.UnaryServerInfo{Server: srv, FullMethod: "/" + ServiceName + "/" + method}
	return interceptor(ctx, req, info, func(_ context.Context, req any) (any, error) { return do(h, req.([]byte)) })
}

func checkHandler(srv any, ctx context.Context, dec func(any) error, interceptor rpc.UnaryServerInterceptor) (any, error) {
	return unary(srv, ctx, dec, interceptor, "Check", func(h *Server, req []byte) (any, error) {
		service, err := decodeRequest(req)
		if err != nil {
			return nil, err
		}
		st, ok := h.check(service)
		if !ok {
			return nil, rpc.Errorf(rpc.NotFound, "unknown service %q", service)
		}
		return appendResponse(nil, st), nil
	})
}

func listHandler(srv any, ctx context.Context, dec func(any) error, interceptor rpc.UnaryServerInterceptor) (any, error) {
	return unary(srv, ctx, dec, interceptor, "List", func(h *Server, req []byte) (any, error) {
		if err := decodeEmpty(req); err != nil {
			return nil, err
		}
		statuses, ok := h.list()
		if !ok {
			return nil, rpc.Errorf(rpc.ResourceExhausted, "more than %d services: Check them one by one", maxList)
		}
		names := make([]string, 0, len(statuses))
		for name := range statuses {
			names = append(names, name)
		}
		sort.Strings(names) // a deterministic encoding
		return appendList(nil, names, statuses), nil
	})
}

func watchHandler(srv any, stream rpc.ServerStream) error {
	var req []byte
	if err := stream.RecvMsg(&req); err != nil {
		return err
	}
	service, err := decodeRequest(req)
	if err != nil {
		return err
	}
	ch, stopping, cancel := srv.(*Server).watch(service)
	defer cancel()
	ctx := stream.Context()
	for {
		select {
		case st := <-ch:
			if err := stream.SendMsg(appendResponse(nil, st)); err != nil {
				return err
			}
		case <-stopping:
			// Shutdown queued NOT_SERVING before it closed stopping.
			select {
			case st := <-ch:
				if err := stream.SendMsg(appendResponse(nil, st)); err != nil {
					return err
				}
			default:
			}
			return rpc.Errorf(rpc.Unavailable, "health: the server is shutting down")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
