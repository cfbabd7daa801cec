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
	// A subtype the server has no codec for is refused.
	wantCode(t, cc.Invoke(context.Background(), "/test.JSON/Greet", &greeting{Name: "Ada"}, &reply, CallCodec(xmlCodec{})), Internal)
}

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
	cc, err := Dial(lis.Addr().String())
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
