package rpc

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

// rawCall sends one request with the given header fields (and body) over a
// bare HTTP/2 client connection and returns the response's first header
// block, whether it was Trailers-Only, and the trailers.
func rawCall(t *testing.T, addr string, fields []hpack.Field, body []byte) (headers []hpack.Field, trailersOnly bool, trailers []hpack.Field) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := conn.Client(nc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var flags conn.OpenFlags
	if body == nil {
		flags = conn.EndStream
	}
	st, err := c.OpenStream(context.Background(), fields, nil, flags)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		// A server that answers from the headers alone may reset the
		// stream before the body goes out: the response says why.
		_ = st.WriteData(nil, body, true)
	}
	headers, err = st.ReadHeaders()
	if err != nil {
		t.Fatal(err)
	}
	trailersOnly = st.TrailersOnly()
	if trailersOnly {
		// The block is the whole response. The server may follow it with
		// RST_STREAM(NO_ERROR) if it did not read our request (RFC 9113
		// §8.1), so there is nothing more to read.
		return headers, true, nil
	}
	if _, err := io.Copy(io.Discard, st); err != nil {
		t.Fatal(err)
	}
	return headers, trailersOnly, st.Trailers()
}

func fieldMap(fields []hpack.Field) map[string]string {
	m := map[string]string{}
	for _, f := range fields {
		m[f.Name] = f.Value
	}
	return m
}

func grpcRequest(path, contentType string, extra ...hpack.Field) []hpack.Field {
	f := []hpack.Field{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: path},
		{Name: ":authority", Value: "test"},
		{Name: "content-type", Value: contentType},
		{Name: "te", Value: "trailers"},
	}
	return append(f, extra...)
}

func TestNonGRPCRequests(t *testing.T) {
	e := newEnv(t, &echoServer{unary: echoBack}, nil)
	addr := e.lis.Addr().String()
	msg := mustEncode(t, []byte("m"), nil)

	// A wrong content-type: HTTP 415 with grpc-status INVALID_ARGUMENT.
	h, only, _ := rawCall(t, addr, grpcRequest("/test.Echo/Unary", "application/json"), msg)
	m := fieldMap(h)
	if !only || m[":status"] != "415" || m["grpc-status"] != InvalidArgument.headerValue() {
		t.Fatalf("content-type application/json: trailers-only %v, %v", only, m)
	}
	// Not a POST: 405.
	get := []hpack.Field{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"}, {Name: ":path", Value: "/test.Echo/Unary"}, {Name: ":authority", Value: "test"}, {Name: "content-type", Value: "application/grpc"}}
	h, only, _ = rawCall(t, addr, get, nil)
	if m := fieldMap(h); !only || m[":status"] != "405" {
		t.Fatalf("GET: trailers-only %v, %v", only, m)
	}
}

// An error before any message is a Trailers-Only response: one HEADERS
// block with :status 200, content-type and grpc-status, ending the stream.
func TestTrailersOnlyShape(t *testing.T) {
	e := newEnv(t, &echoServer{unary: echoBack}, nil)
	h, only, tr := rawCall(t, e.lis.Addr().String(), grpcRequest("/test.Echo/Missing", "application/grpc"), mustEncode(t, []byte("m"), nil))
	m := fieldMap(h)
	if !only {
		t.Fatalf("not Trailers-Only: headers %v, trailers %v", m, fieldMap(tr))
	}
	if m[":status"] != "200" || m["content-type"] != "application/grpc" || m["grpc-status"] != "12" || m["grpc-message"] == "" {
		t.Fatalf("Trailers-Only block %v", m)
	}
	// A successful call: headers, a message, then trailers with grpc-status 0.
	h, only, tr = rawCall(t, e.lis.Addr().String(), grpcRequest("/test.Echo/Unary", "application/grpc+proto"), mustEncode(t, []byte("m"), nil))
	m = fieldMap(h)
	if only || m[":status"] != "200" || m["content-type"] != "application/grpc+proto" {
		t.Fatalf("headers %v (trailers-only %v)", m, only)
	}
	if _, ok := m["grpc-status"]; ok {
		t.Fatalf("grpc-status in the response headers: %v", m)
	}
	if tm := fieldMap(tr); tm["grpc-status"] != "0" {
		t.Fatalf("trailers %v", tm)
	}
}

func TestUnsupportedRequestEncoding(t *testing.T) {
	e := newEnv(t, &echoServer{unary: echoBack}, nil)
	req := grpcRequest("/test.Echo/Unary", "application/grpc", hpack.Field{Name: "grpc-encoding", Value: "snappy"})
	h, only, _ := rawCall(t, e.lis.Addr().String(), req, mustEncode(t, []byte("m"), nil))
	m := fieldMap(h)
	if !only || m["grpc-status"] != "12" || m["grpc-accept-encoding"] != "gzip" {
		t.Fatalf("grpc-encoding snappy: trailers-only %v, %v; want UNIMPLEMENTED advertising gzip", only, m)
	}
	// A compressed message without grpc-encoding is INTERNAL.
	zipped := mustEncode(t, []byte("m"), Gzip)
	h, _, tr := rawCall(t, e.lis.Addr().String(), grpcRequest("/test.Echo/Unary", "application/grpc"), zipped)
	m = fieldMap(append(h, tr...))
	if m["grpc-status"] != "13" {
		t.Fatalf("compressed flag without grpc-encoding: %v, want INTERNAL", m)
	}
	// A malformed grpc-timeout is INTERNAL.
	req = grpcRequest("/test.Echo/Unary", "application/grpc", hpack.Field{Name: "grpc-timeout", Value: "1 hour"})
	h, _, _ = rawCall(t, e.lis.Addr().String(), req, mustEncode(t, []byte("m"), nil))
	if m := fieldMap(h); m["grpc-status"] != "13" {
		t.Fatalf("malformed grpc-timeout: %v, want INTERNAL", m)
	}
}

// A response that is not gRPC maps its HTTP status to a code.
func TestClientMapsNonGRPCResponses(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	statusFor := map[string]string{"/x.Y/NotFound": "404", "/x.Y/Busy": "503", "/x.Y/HTML": "200", "/x.Y/TooLarge": "431"}
	resetFor := map[string]frame.ErrCode{"/x.Y/Refuse": frame.ErrCodeRefusedStream, "/x.Y/Calm": frame.ErrCodeEnhanceYourCalm,
		"/x.Y/Cancel": frame.ErrCodeCancel, "/x.Y/Protocol": frame.ErrCodeProtocol, "/x.Y/Insecure": frame.ErrCodeInadequateSecurity}
	done := make(chan struct{})
	var conns []*conn.Conn
	go func() {
		defer close(done)
		for {
			nc, err := lis.Accept()
			if err != nil {
				return
			}
			c, err := conn.Server(nc, nil, func(s *conn.Stream) {
				path := fieldMap(s.RequestHeaders())[":path"]
				if code, ok := resetFor[path]; ok {
					s.Reset(code)
					return
				}
				s.WriteAll(nil, nil, []hpack.Field{{Name: ":status", Value: statusFor[path]}, {Name: "content-type", Value: "text/html"}})
			})
			if err == nil {
				conns = append(conns, c)
			}
		}
	}()
	defer func() {
		lis.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	}()
	cc, err := Dial(lis.Addr().String(), WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for path, want := range map[string]Code{"/x.Y/NotFound": Unimplemented, "/x.Y/Busy": Unavailable, "/x.Y/HTML": Unknown, "/x.Y/TooLarge": Unknown,
		"/x.Y/Refuse": Unavailable, "/x.Y/Calm": ResourceExhausted, "/x.Y/Cancel": Canceled, "/x.Y/Protocol": Internal,
		"/x.Y/Insecure": PermissionDenied} {
		var reply []byte
		err := cc.Invoke(context.Background(), path, []byte("m"), &reply)
		if CodeOf(err) != want {
			t.Errorf("%s: %v, want %v", path, err, want)
		}
	}
}

// When the deadline a request carried passes, the server cancels the
// handler and resets the stream with CANCEL (PROTOCOL-HTTP2.md, Client
// Cancellation), without waiting for the client.
func TestServerResetsStreamAtDeadline(t *testing.T) {
	handlerErr := make(chan error, 1)
	e := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		<-ctx.Done()
		handlerErr <- ctx.Err()
		return nil, ctx.Err()
	}}, nil)
	nc, err := net.Dial("tcp", e.lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := conn.Client(nc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := grpcRequest("/test.Echo/Unary", "application/grpc", hpack.Field{Name: "grpc-timeout", Value: "20m"})
	st, err := c.OpenStream(context.Background(), req, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteData(nil, mustEncode(t, []byte("m"), nil), true); err != nil {
		t.Fatal(err)
	}
	_, err = st.ReadHeaders()
	var re *conn.ResetError
	if !errors.As(err, &re) || !re.Remote || re.Code != frame.ErrCodeCancel {
		t.Fatalf("ReadHeaders: %v, want a reset by the server with CANCEL", err)
	}
	if err := <-handlerErr; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("handler context: %v, want DeadlineExceeded", err)
	}
}

// A unary call refused with REFUSED_STREAM was not processed: the client
// retries it once, transparently.
func TestRefusedStreamIsRetriedOnce(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var streams atomic.Int32
	refuseAll := atomic.Bool{}
	done := make(chan struct{})
	var conns []*conn.Conn
	go func() {
		defer close(done)
		for {
			nc, err := lis.Accept()
			if err != nil {
				return
			}
			c, err := conn.Server(nc, nil, func(s *conn.Stream) {
				if streams.Add(1) == 1 || refuseAll.Load() {
					s.Reset(frame.ErrCodeRefusedStream)
					return
				}
				io.Copy(io.Discard, s)
				s.WriteAll(hf(":status", "200", "content-type", "application/grpc"), nil, nil)
				s.WriteData(nil, mustEncode(t, []byte("served"), nil), false)
				s.WriteAll(nil, nil, hf("grpc-status", "0"))
			})
			if err == nil {
				conns = append(conns, c)
			}
		}
	}()
	defer func() {
		lis.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	}()
	cc, err := Dial(lis.Addr().String(), WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var reply []byte
	if err := cc.Invoke(context.Background(), "/x.Y/Z", []byte("m"), &reply); err != nil || string(reply) != "served" {
		t.Fatalf("after one refusal: %q, %v", reply, err)
	}
	if n := streams.Load(); n != 2 {
		t.Fatalf("%d streams, want 2 (one refused, one retried)", n)
	}
	refuseAll.Store(true)
	wantCode(t, cc.Invoke(context.Background(), "/x.Y/Z", []byte("m"), &reply), Unavailable)
	if n := streams.Load(); n != 4 {
		t.Fatalf("%d streams, want 4 (a retry at most once per call)", n)
	}
}
