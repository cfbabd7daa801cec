package rpc

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
	"github.com/h2rpc/h2rpc/internal/h2test"
)

// These tests check the exact frames on the wire with internal/h2test's
// scripted peer playing the other side.

func hf(kv ...string) []hpack.Field {
	f := make([]hpack.Field, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		f = append(f, hpack.Field{Name: kv[i], Value: kv[i+1]})
	}
	return f
}

func TestServerFrames(t *testing.T) {
	srv := NewServer()
	srv.RegisterService(&echoDesc, &echoServer{unary: echoBack})
	nc, p := h2test.NewPipe(t)
	srv.serveConn(nc, AuthInfo{})
	defer srv.Stop()
	p.ClientHandshake()
	msg := mustEncode(t, []byte("hi"), nil)

	// A unary call: response headers, one DATA frame, trailers with END_STREAM.
	p.WriteHeaders(1, false, grpcRequest("/test.Echo/Unary", "application/grpc")...)
	p.WriteData(1, true, msg)
	p.WantHeaders("response headers", 1, false, hf(":status", "200", "content-type", "application/grpc"))
	p.WantData("response message", 1, false, msg)
	p.WantHeaders("trailers", 1, true, hf("grpc-status", "0"))

	// An unknown method: a single Trailers-Only HEADERS frame.
	p.WriteHeaders(3, true, grpcRequest("/test.Echo/Nope", "application/grpc+proto")...)
	p.WantHeaders("Trailers-Only", 3, true, hf(":status", "200", "content-type", "application/grpc+proto",
		"grpc-status", "12", "grpc-message", "unknown method Nope for service test.Echo"))

	// Not gRPC: 415, with grpc-status INVALID_ARGUMENT, as grpc-go answers.
	p.WriteHeaders(5, true, grpcRequest("/test.Echo/Unary", "text/plain")...)
	p.WantHeaders("415", 5, true, hf(":status", "415", "content-type", "application/grpc",
		"grpc-status", "3", "grpc-message", `grpc: invalid gRPC request content-type "text/plain"`))

	// Not a POST: 405. The content-type is checked first, as grpc-go does:
	// a GET without one is 415.
	p.WriteHeaders(7, true, hf(":method", "GET", ":scheme", "http", ":path", "/test.Echo/Unary", ":authority", "x", "content-type", "application/grpc")...)
	p.WantHeaders("405", 7, true, hf(":status", "405", "content-type", "application/grpc",
		"grpc-status", "13", "grpc-message", `grpc: invalid :method "GET": gRPC requires POST`))

	// An unsupported grpc-encoding: UNIMPLEMENTED, advertising what we accept.
	p.WriteHeaders(9, true, grpcRequest("/test.Echo/Unary", "application/grpc", hpack.Field{Name: "grpc-encoding", Value: "br"})...)
	p.WantHeaders("unsupported encoding", 9, true, hf(":status", "200", "content-type", "application/grpc",
		"grpc-accept-encoding", "gzip", "grpc-status", "12", "grpc-message", `grpc: compressed request with unsupported grpc-encoding "br" (supported: gzip)`))

	// Malformed HTTP/2 requests never reach the handler: no :path, or a te
	// other than "trailers" (RFC 9113 §8.3.1, §8.2.2) are reset.
	p.WriteHeaders(11, true, hf(":method", "POST", ":scheme", "http", ":authority", "x", "content-type", "application/grpc")...)
	p.WantRST("no :path", 11, frame.ErrCodeProtocol)
	p.WriteHeaders(13, true, grpcRequest("/test.Echo/Unary", "application/grpc", hpack.Field{Name: "te", Value: "gzip"})...)
	p.WantRST("te: gzip", 13, frame.ErrCodeProtocol)

	// A request without te is served.
	noTE := hf(":method", "POST", ":scheme", "http", ":path", "/test.Echo/Unary", ":authority", "x", "content-type", "application/grpc")
	p.WriteHeaders(15, false, noTE...)
	p.WriteData(15, true, msg)
	p.WantHeaders("response headers without te", 15, false, hf(":status", "200", "content-type", "application/grpc"))
	p.WantData("response message without te", 15, false, msg)
	p.WantHeaders("trailers without te", 15, true, hf("grpc-status", "0"))

	// A GET without a content-type: the content-type is checked first.
	p.WriteHeaders(17, true, hf(":method", "GET", ":scheme", "http", ":path", "/test.Echo/Unary", ":authority", "x")...)
	p.WantHeaders("GET without content-type", 17, true, hf(":status", "415", "content-type", "application/grpc",
		"grpc-status", "3", "grpc-message", `grpc: invalid gRPC request content-type ""`))

	// A 405 echoes the request's gRPC content-type, as grpc-go's does.
	p.WriteHeaders(19, true, hf(":method", "PUT", ":scheme", "http", ":path", "/test.Echo/Unary", ":authority", "x", "content-type", "application/grpc+json")...)
	p.WantHeaders("405 with a subtype", 19, true, hf(":status", "405", "content-type", "application/grpc+json",
		"grpc-status", "13", "grpc-message", `grpc: invalid :method "PUT": gRPC requires POST`))

	// A malformed grpc-timeout, or -bin metadata that does not decode, is a
	// bad request: 400 with grpc-status INTERNAL, as grpc-go answers.
	p.WriteHeaders(21, true, grpcRequest("/test.Echo/Unary", "application/grpc+proto", hpack.Field{Name: "grpc-timeout", Value: "1 hour"})...)
	p.WantHeaders("malformed grpc-timeout", 21, true, hf(":status", "400", "content-type", "application/grpc+proto",
		"grpc-status", "13", "grpc-message", `grpc: malformed grpc-timeout "1 hour"`))
	p.WriteHeaders(23, true, grpcRequest("/test.Echo/Unary", "application/grpc", hpack.Field{Name: "x-id-bin", Value: "not base64!"})...)
	p.WantHeaders("malformed -bin", 23, true, hf(":status", "400", "content-type", "application/grpc",
		"grpc-status", "13", "grpc-message", `grpc: malformed base64 in metadata "x-id-bin": illegal base64 data at input byte 3`))
}

func TestClientFrames(t *testing.T) {
	nc, p := h2test.NewClientPipe(t)
	dialed := false
	cc, err := Dial("h2test:80", WithInsecure(), WithDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		if dialed {
			return nil, net.ErrClosed
		}
		dialed = true
		return nc, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := cc.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.ServerHandshake()

	// A unary call with a deadline and metadata.
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	ctx = AppendToOutgoingContext(ctx, "x-md", "v")
	callErr := make(chan error, 1)
	go func() {
		var reply []byte
		callErr <- cc.Invoke(ctx, "/test.Echo/Unary", []byte("hi"), &reply)
	}()
	h, fields := p.ReadHeaders("request headers")
	if h.StreamID != 1 || h.Flags.Has(frame.FlagEndStream) {
		t.Fatalf("request HEADERS on stream %d, END_STREAM %v", h.StreamID, h.Flags.Has(frame.FlagEndStream))
	}
	if len(fields) != 10 || fields[4].Name != "grpc-timeout" {
		t.Fatalf("request fields %v: want grpc-timeout right after the pseudo-headers", fields)
	}
	timeout, err := decodeTimeout(fields[4].Value)
	if err != nil || timeout > time.Hour || timeout < 59*time.Minute {
		t.Fatalf("grpc-timeout %q (%v, %v) for a deadline an hour away", fields[4].Value, timeout, err)
	}
	fields[4].Value = "(checked)"
	want := hf(":method", "POST", ":scheme", "http", ":path", "/test.Echo/Unary", ":authority", "h2test:80",
		"grpc-timeout", "(checked)", "content-type", "application/grpc", "te", "trailers",
		"user-agent", "h2rpc/"+Version, "grpc-accept-encoding", "gzip", "x-md", "v")
	if d := h2test.Diff(want, fields); d != "" {
		t.Fatalf("request fields:\n%s", d)
	}
	p.WantData("request message with END_STREAM", 1, true, mustEncode(t, []byte("hi"), nil))
	// The server answers Trailers-Only with a percent-encoded message.
	p.WriteHeaders(1, true, hf(":status", "200", "content-type", "application/grpc", "grpc-status", "5", "grpc-message", "no %E2%98%BA here")...)
	st := wantCode(t, <-callErr, NotFound)
	if st.Message != "no ☺ here" {
		t.Fatalf("message %q", st.Message)
	}

	// Cancelling a streaming call resets its stream with CANCEL.
	sctx, scancel := context.WithCancel(context.Background())
	cs, err := cc.NewStream(sctx, bidiDesc, "/test.Echo/Bidi")
	if err != nil {
		t.Fatal(err)
	}
	p.ReadHeaders("bidi request headers")
	scancel()
	p.WantRST("cancel", 3, frame.ErrCodeCancel)
	var m []byte
	wantCode(t, cs.RecvMsg(&m), Canceled)
}

// A server that refuses a server-streaming call before reading its request
// (an interceptor denying it) answers Trailers-Only and resets the stream
// with NO_ERROR. If the client's request message comes after the reset,
// SendMsg must not fail the call: the generated code returns SendMsg's
// error from the method as it is, so io.EOF there would surface as
// Unknown in place of the status. SendMsg reports success and RecvMsg the
// status, as in grpc-go.
func TestServerStreamingRequestAfterServerEnded(t *testing.T) {
	nc, p := h2test.NewClientPipe(t)
	cc, err := Dial("h2test:80", WithInsecure(), WithDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		return nc, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := cc.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.ServerHandshake()

	cs, err := cc.NewStream(context.Background(), serverStreamDesc, "/test.Echo/ServerStream")
	if err != nil {
		t.Fatal(err)
	}
	p.ReadHeaders("request headers")
	p.WriteHeaders(1, true, hf(":status", "200", "content-type", "application/grpc", "grpc-status", "7", "grpc-message", "denied")...)
	p.WriteRaw(frame.AppendRSTStream(nil, 1, frame.ErrCodeNo))
	// The client reads frames in order: once it acknowledges the PING it
	// has seen the reset, so the request below finds the stream closed.
	p.WriteRaw(frame.AppendPing(nil, false, [8]byte{1}))
	p.WantFrame("ping ack", &frame.PingFrame{Header: frame.Header{Type: frame.TypePing, Flags: frame.FlagAck, Length: 8}, Data: [8]byte{1}})

	if err := cs.SendMsg([]byte("req")); err != nil {
		t.Fatalf("SendMsg after the server ended the call: %v, want nil (RecvMsg has the status)", err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatalf("CloseSend: %v", err)
	}
	var m []byte
	if st := wantCode(t, cs.RecvMsg(&m), PermissionDenied); st.Message != "denied" {
		t.Fatalf("message %q", st.Message)
	}
}
