// Package otelrpc instruments h2rpc calls with OpenTelemetry: a span per
// call and the RPC duration and message size histograms, named and
// labelled by the OpenTelemetry semantic conventions for RPC
// (rpc.system=grpc, rpc.service, rpc.method, rpc.grpc.status_code). Trace
// context travels in the call's metadata (traceparent, by the W3C Trace
// Context propagator unless told otherwise), so traces continue across
// h2rpc and grpc-go with otelgrpc in either direction.
//
//	h := otelrpc.NewHandler()
//	srv := rpc.NewServer(rpc.ServerStats(h))
//	cc, err := rpc.Dial(target, rpc.WithInsecure(), rpc.WithStats(h))
//
// It lives in a module of its own so that h2rpc's core does not depend on
// OpenTelemetry.
package otelrpc

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/h2rpc/h2rpc/rpc"
)

// ScopeName is the instrumentation scope of the spans and metrics.
const ScopeName = "github.com/h2rpc/h2rpc/otel"

// Option configures a Handler.
type Option func(*config)

type config struct {
	tp    trace.TracerProvider
	mp    metric.MeterProvider
	props propagation.TextMapPropagator
}

// WithTracerProvider sets the TracerProvider; default otel's global one.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

// WithMeterProvider sets the MeterProvider; default otel's global one.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// WithPropagators sets how trace context is carried in metadata; default
// W3C Trace Context and Baggage.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.props = p }
}

// Handler is an rpc.StatsHandler that records spans and metrics. One
// Handler may serve any number of servers and ClientConns.
type Handler struct {
	tracer trace.Tracer
	props  propagation.TextMapPropagator

	clientDuration, serverDuration metric.Float64Histogram
	clientReqSize, clientRespSize  metric.Int64Histogram
	serverReqSize, serverRespSize  metric.Int64Histogram
}

var _ rpc.StatsHandler = (*Handler)(nil)

// NewHandler returns a Handler.
func NewHandler(opts ...Option) *Handler {
	c := config{}
	for _, o := range opts {
		o(&c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.props == nil {
		c.props = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	m := c.mp.Meter(ScopeName)
	h := &Handler{tracer: c.tp.Tracer(ScopeName), props: c.props}
	// Instrument errors are reported by otel's global error handler and
	// leave a no-op instrument in place: metrics then go unrecorded, calls
	// are unaffected.
	h.clientDuration, _ = m.Float64Histogram("rpc.client.duration", metric.WithUnit("ms"),
		metric.WithDescription("Measures the duration of outbound RPC."))
	h.serverDuration, _ = m.Float64Histogram("rpc.server.duration", metric.WithUnit("ms"),
		metric.WithDescription("Measures the duration of inbound RPC."))
	h.clientReqSize, _ = m.Int64Histogram("rpc.client.request.size", metric.WithUnit("By"),
		metric.WithDescription("Measures size of RPC request messages (uncompressed)."))
	h.clientRespSize, _ = m.Int64Histogram("rpc.client.response.size", metric.WithUnit("By"),
		metric.WithDescription("Measures size of RPC response messages (uncompressed)."))
	h.serverReqSize, _ = m.Int64Histogram("rpc.server.request.size", metric.WithUnit("By"),
		metric.WithDescription("Measures size of RPC request messages (uncompressed)."))
	h.serverRespSize, _ = m.Int64Histogram("rpc.server.response.size", metric.WithUnit("By"),
		metric.WithDescription("Measures size of RPC response messages (uncompressed)."))
	return h
}

// call is the state of one call, kept in its context.
type call struct {
	span       trace.Span
	attrs      []attribute.KeyValue // rpc.system, rpc.service, rpc.method
	start      time.Time
	sent, recv atomic.Int64 // message ids
}

type callKey struct{}

// splitMethod splits "/service/method"; ok is false for any other shape.
func splitMethod(full string) (service, method string, ok bool) {
	s := strings.TrimPrefix(full, "/")
	i := strings.LastIndexByte(s, '/')
	if i <= 0 || i == len(s)-1 || len(s) == len(full) {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// TagCall starts the call's span: on the client as a child of ctx's span,
// with its context injected into the outgoing metadata; on the server as a
// child of the context extracted from the request metadata.
func (h *Handler) TagCall(ctx context.Context, info *rpc.CallInfo) context.Context {
	attrs := []attribute.KeyValue{attribute.String("rpc.system", "grpc")}
	name := strings.TrimPrefix(info.FullMethod, "/")
	if svc, m, ok := splitMethod(info.FullMethod); ok {
		attrs = append(attrs, attribute.String("rpc.service", svc), attribute.String("rpc.method", m))
	}
	kind := trace.SpanKindClient
	if !info.Client {
		kind = trace.SpanKindServer
		ctx = h.props.Extract(ctx, mdCarrier(info.Metadata))
	}
	ctx, span := h.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	if info.Client {
		carrier := propagation.MapCarrier{}
		h.props.Inject(ctx, carrier)
		kv := make([]string, 0, 2*len(carrier))
		for k, v := range carrier {
			kv = append(kv, k, v)
		}
		if len(kv) > 0 {
			ctx = rpc.AppendToOutgoingContext(ctx, kv...)
		}
	}
	return context.WithValue(ctx, callKey{}, &call{span: span, attrs: attrs, start: time.Now()})
}

// HandleCall adds message events to the span, records sizes, and on the
// call's end sets the status, ends the span and records the duration.
func (h *Handler) HandleCall(ctx context.Context, ev *rpc.CallEvent) {
	c, _ := ctx.Value(callKey{}).(*call)
	if c == nil {
		return
	}
	switch ev.Kind {
	case rpc.OutPayload, rpc.InPayload:
		typ, id := "SENT", &c.sent
		if ev.Kind == rpc.InPayload {
			typ, id = "RECEIVED", &c.recv
		}
		c.span.AddEvent("message", trace.WithAttributes(
			attribute.String("message.type", typ),
			attribute.Int64("message.id", id.Add(1)),
			attribute.Int("message.uncompressed_size", ev.Length),
			attribute.Int("message.compressed_size", ev.WireLength),
		))
		hist := h.sizeHistogram(ev.Client, ev.Kind == rpc.OutPayload)
		hist.Record(ctx, int64(ev.Length), metric.WithAttributes(c.attrs...))
	case rpc.CallEnd:
		code := ev.Status.Code
		c.span.SetAttributes(attribute.Int64("rpc.grpc.status_code", int64(code)))
		if isError(code, ev.Client) {
			c.span.SetStatus(codes.Error, ev.Status.Message)
		}
		c.span.End()
		attrs := append(c.attrs[:len(c.attrs):len(c.attrs)], attribute.Int64("rpc.grpc.status_code", int64(code)))
		ms := float64(ev.Duration) / float64(time.Millisecond)
		if ev.Client {
			h.clientDuration.Record(ctx, ms, metric.WithAttributes(attrs...))
		} else {
			h.serverDuration.Record(ctx, ms, metric.WithAttributes(attrs...))
		}
	}
}

func (h *Handler) sizeHistogram(client, out bool) metric.Int64Histogram {
	switch {
	case client && out:
		return h.clientReqSize
	case client:
		return h.clientRespSize
	case out:
		return h.serverRespSize
	}
	return h.serverReqSize
}

// isError applies the semantic conventions for gRPC span status: on the
// client every code but OK is an error; on the server only those that say
// the server failed (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
// UNAVAILABLE, DATA_LOSS).
func isError(code rpc.Code, client bool) bool {
	if client {
		return code != rpc.OK
	}
	switch code {
	case rpc.Unknown, rpc.DeadlineExceeded, rpc.Unimplemented, rpc.Internal, rpc.Unavailable, rpc.DataLoss:
		return true
	}
	return false
}

// HandleConn does nothing: connections are not traced.
func (h *Handler) HandleConn(*rpc.ConnEvent) {}

// mdCarrier reads request metadata as a propagation carrier.
type mdCarrier rpc.MD

func (m mdCarrier) Get(key string) string {
	if v := rpc.MD(m).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (m mdCarrier) Set(key, value string) { rpc.MD(m).Set(key, value) }

func (m mdCarrier) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
