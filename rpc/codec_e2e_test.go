package rpc

import (
	"context"
	"encoding/json"
	"net"
	"testing"
)

// jsonCodec travels as application/grpc+json.
type jsonCodec struct{}

func (jsonCodec) Name() string                       { return "json" }
func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

type greeting struct {
	Name string `json:"name"`
}

var jsonDesc = ServiceDesc{
	ServiceName: "test.JSON",
	Methods: []MethodDesc{{MethodName: "Greet", Handler: func(srv any, ctx context.Context, dec func(any) error, _ UnaryServerInterceptor) (any, error) {
		var g greeting
		if err := dec(&g); err != nil {
			return nil, err
		}
		return &greeting{Name: "Hello " + g.Name}, nil
	}}},
}

// The server picks the codec by the request's content-subtype; the client
// picks it per call.
func TestCodecByContentSubtype(t *testing.T) {
	srv := NewServer(ServerCodec(jsonCodec{}))
	srv.RegisterService(&jsonDesc, struct{}{})
	cc := serveOn(t, srv)
	var reply greeting
	if err := cc.Invoke(context.Background(), "/test.JSON/Greet", &greeting{Name: "Ada"}, &reply, CallCodec(jsonCodec{})); err != nil {
		t.Fatal(err)
	}
	if reply.Name != "Hello Ada" {
		t.Fatalf("reply %+v", reply)
	}
	// With the default codec the same call cannot even be marshalled.
	wantCode(t, cc.Invoke(context.Background(), "/test.JSON/Greet", &greeting{Name: "Ada"}, &reply), Internal)
}

// rawCodec sends bytes as they are under its own name, as grpc-go clients
// with a raw-bytes codec do (application/grpc+raw).
type rawCodec struct{}

func (rawCodec) Name() string                       { return "raw" }
func (rawCodec) Marshal(v any) ([]byte, error)      { return DefaultCodec.Marshal(v) }
func (rawCodec) Unmarshal(data []byte, v any) error { return DefaultCodec.Unmarshal(data, v) }

// A content-subtype the server has no codec for is decoded with its "proto"
// codec, as grpc-go's server does, and the response echoes the request's
// content-type.
func TestUnknownSubtypeFallsBackToProto(t *testing.T) {
	e := newEnv(t, &echoServer{unary: echoBack}, nil)
	var reply []byte
	if err := e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("raw bytes"), &reply, CallCodec(rawCodec{})); err != nil {
		t.Fatal(err)
	}
	if string(reply) != "raw bytes" {
		t.Fatalf("reply %q", reply)
	}
	h, only, tr := rawCall(t, e.lis.Addr().String(), grpcRequest("/test.Echo/Unary", "application/grpc+raw"), mustEncode(t, []byte("m"), nil))
	if m := fieldMap(h); only || m[":status"] != "200" || m["content-type"] != "application/grpc+raw" {
		t.Fatalf("response headers %v (Trailers-Only %v)", m, only)
	}
	if m := fieldMap(tr); m["grpc-status"] != "0" {
		t.Fatalf("trailers %v", m)
	}
	// A server that replaced "proto" uses its replacement.
	srv := NewServer(ServerCodec(jsonAsProto{}))
	srv.RegisterService(&jsonDesc, struct{}{})
	cc := serveOn(t, srv)
	var g greeting
	if err := cc.Invoke(context.Background(), "/test.JSON/Greet", &greeting{Name: "Ada"}, &g, CallCodec(xmlCodec{})); err != nil || g.Name != "Hello Ada" {
		t.Fatalf("xml to a server whose proto codec is JSON: %+v, %v", g, err)
	}
}

// jsonAsProto is JSON registered as the server's "proto" codec.
type jsonAsProto struct{ jsonCodec }

func (jsonAsProto) Name() string { return "proto" }

// serveOn serves srv on a loopback port until the test ends and returns a
// ClientConn to it.
func serveOn(t *testing.T, srv *Server) *ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	cc, err := Dial(lis.Addr().String(), WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		srv.Stop()
		<-served
	})
	return cc
}

type xmlCodec struct{ jsonCodec }

func (xmlCodec) Name() string { return "xml" }
