package otelrpc_test

import (
	"context"
	"net"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	otelrpc "github.com/h2rpc/h2rpc/otel"
	"github.com/h2rpc/h2rpc/rpc"
)

// echo is a one-method service: "/test.Echo/Unary" answers its request,
// and fails NOT_FOUND for a request "missing".
var echoDesc = rpc.ServiceDesc{
	ServiceName: "test.Echo",
	Methods: []rpc.MethodDesc{{MethodName: "Unary", Handler: func(srv any, ctx context.Context, dec func(any) error, _ rpc.UnaryServerInterceptor) (any, error) {
		var req []byte
		if err := dec(&req); err != nil {
			return nil, err
		}
		if string(req) == "missing" {
			return nil, rpc.Errorf(rpc.NotFound, "no such thing")
		}
		// The handler runs under the server span.
		if !trace.SpanContextFromContext(ctx).IsValid() {
			return nil, rpc.Errorf(rpc.Internal, "no span in the handler's context")
		}
		return req, nil
	}}},
}

type telemetry struct {
	spans  *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
	h      *otelrpc.Handler
}

func newTelemetry(t *testing.T) *telemetry {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		tp.Shutdown(context.Background())
		mp.Shutdown(context.Background())
	})
	return &telemetry{spans: spans, reader: reader, tp: tp,
		h: otelrpc.NewHandler(otelrpc.WithTracerProvider(tp), otelrpc.WithMeterProvider(mp))}
}

func serve(t *testing.T, opts ...rpc.ServerOption) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(opts...)
	srv.RegisterService(&echoDesc, struct{}{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return ln.Addr().String()
}

func attrs(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// waitSpans waits for n ended spans: the server's span ends just after
// the client has its answer.
func waitSpans(t *testing.T, tel *telemetry, n int) tracetest.SpanStubs {
	t.Helper()
	for range 1000 {
		if s := tel.spans.GetSpans(); len(s) >= n {
			return s
		}
		tel.tp.ForceFlush(context.Background())
		waitABit()
	}
	t.Fatalf("%d spans, want %d", len(tel.spans.GetSpans()), n)
	return nil
}

func TestSpansAndMetrics(t *testing.T) {
	tel := newTelemetry(t)
	addr := serve(t, rpc.ServerStats(tel.h))
	cc, err := rpc.Dial(addr, rpc.WithInsecure(), rpc.WithStats(tel.h))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var reply []byte
	if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("hello"), &reply); err != nil {
		t.Fatal(err)
	}
	err = cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("missing"), &reply)
	if rpc.CodeOf(err) != rpc.NotFound {
		t.Fatalf("second call: %v", err)
	}
	spans := waitSpans(t, tel, 4)
	byKind := map[trace.SpanKind][]tracetest.SpanStub{}
	for _, s := range spans {
		byKind[s.SpanKind] = append(byKind[s.SpanKind], s)
	}
	clients, servers := byKind[trace.SpanKindClient], byKind[trace.SpanKindServer]
	if len(clients) != 2 || len(servers) != 2 {
		t.Fatalf("%d client and %d server spans, want 2 and 2", len(clients), len(servers))
	}
	for i := range 2 {
		c := clients[i]
		var s *tracetest.SpanStub
		for j := range servers {
			if servers[j].Parent.SpanID() == c.SpanContext.SpanID() {
				s = &servers[j]
			}
		}
		if s == nil || s.SpanContext.TraceID() != c.SpanContext.TraceID() {
			t.Fatalf("client span %d has no server child in its trace", i)
		}
		if !s.Parent.IsRemote() {
			t.Error("the server span's parent is not marked remote")
		}
		for _, sp := range []tracetest.SpanStub{c, *s} {
			a := attrs(sp.Attributes)
			if sp.Name != "test.Echo/Unary" || a["rpc.system"] != "grpc" || a["rpc.service"] != "test.Echo" || a["rpc.method"] != "Unary" {
				t.Errorf("span %q attributes %v", sp.Name, a)
			}
		}
		code := attrs(c.Attributes)["rpc.grpc.status_code"]
		switch code {
		case "0":
			if c.Status.Code == codes.Error || len(c.Events) != 2 {
				t.Errorf("OK call: status %v, %d message events", c.Status, len(c.Events))
			}
		case "5":
			// NOT_FOUND is an error for the client, not for the server.
			if c.Status.Code != codes.Error || s.Status.Code == codes.Error {
				t.Errorf("NOT_FOUND call: client status %v, server status %v", c.Status, s.Status)
			}
		default:
			t.Errorf("status code attribute %q", code)
		}
	}

	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelrpc.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					code, _ := p.Attributes.Value("rpc.grpc.status_code")
					method, _ := p.Attributes.Value("rpc.method")
					counts[m.Name+" code="+code.String()+" "+method.String()] += p.Count
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					counts[m.Name] += p.Count
				}
			}
		}
	}
	for _, want := range []string{
		"rpc.client.duration code=0 Unary", "rpc.client.duration code=5 Unary",
		"rpc.server.duration code=0 Unary", "rpc.server.duration code=5 Unary",
	} {
		if counts[want] != 1 {
			t.Errorf("%s: count %d, want 1 (all: %v)", want, counts[want], counts)
		}
	}
	if counts["rpc.client.request.size"] != 2 || counts["rpc.server.request.size"] != 2 || counts["rpc.client.response.size"] != 1 {
		t.Errorf("size histograms: %v", counts)
	}
}

// TestTraceFromGRPCGoClient starts a trace in a grpc-go client
// instrumented with otelgrpc and checks that it continues in the h2rpc
// server: the server span has the client's trace ID and otelgrpc's client
// span as its parent.
func TestTraceFromGRPCGoClient(t *testing.T) {
	tel := newTelemetry(t)
	addr := serve(t, rpc.ServerStats(tel.h))
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	gc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tel.tp), otelgrpc.WithPropagators(prop))))
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	ctx, root := tel.tp.Tracer("test").Start(context.Background(), "root")
	var out emptypb.Empty
	if err := gc.Invoke(ctx, "/test.Echo/Unary", &emptypb.Empty{}, &out); err != nil {
		t.Fatal(err)
	}
	root.End()
	spans := waitSpans(t, tel, 3)
	var grpcClient, ours *tracetest.SpanStub
	for i := range spans {
		s := &spans[i]
		switch {
		case s.SpanKind == trace.SpanKindClient:
			grpcClient = s
		case s.SpanKind == trace.SpanKindServer:
			ours = s
		}
	}
	if grpcClient == nil || ours == nil {
		t.Fatalf("spans %v: want otelgrpc's client span and ours", spans)
	}
	want := root.SpanContext().TraceID()
	if ours.SpanContext.TraceID() != want || grpcClient.SpanContext.TraceID() != want {
		t.Errorf("trace IDs: root %s, grpc-go client %s, h2rpc server %s", want, grpcClient.SpanContext.TraceID(), ours.SpanContext.TraceID())
	}
	if ours.Parent.SpanID() != grpcClient.SpanContext.SpanID() {
		t.Errorf("h2rpc server span's parent %s, want otelgrpc's client span %s", ours.Parent.SpanID(), grpcClient.SpanContext.SpanID())
	}
}

// TestTraceToGRPCGoServer is the other way: an h2rpc client's trace
// continues in a grpc-go server instrumented with otelgrpc.
func TestTraceToGRPCGoServer(t *testing.T) {
	tel := newTelemetry(t)
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	gs := grpc.NewServer(grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tel.tp), otelgrpc.WithPropagators(prop))),
		grpc.UnknownServiceHandler(func(srv any, stream grpc.ServerStream) error {
			var in emptypb.Empty
			if err := stream.RecvMsg(&in); err != nil {
				return err
			}
			return stream.SendMsg(&emptypb.Empty{})
		}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- gs.Serve(ln) }()
	defer func() {
		gs.Stop()
		<-served
	}()
	cc, err := rpc.Dial(ln.Addr().String(), rpc.WithInsecure(), rpc.WithStats(tel.h))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var reply []byte
	if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte{}, &reply); err != nil {
		t.Fatal(err)
	}
	spans := waitSpans(t, tel, 2)
	var ours, theirs *tracetest.SpanStub
	for i := range spans {
		if spans[i].SpanKind == trace.SpanKindClient {
			ours = &spans[i]
		} else if spans[i].SpanKind == trace.SpanKindServer {
			theirs = &spans[i]
		}
	}
	if ours == nil || theirs == nil || theirs.SpanContext.TraceID() != ours.SpanContext.TraceID() || theirs.Parent.SpanID() != ours.SpanContext.SpanID() {
		t.Fatalf("the trace did not continue into grpc-go: %+v", spans)
	}
}
