package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/internal/h2test"
)

// Message counts per call shape. A unary or server-streaming method takes
// exactly one request, a unary or client-streaming call exactly one
// response; grpc's doc/statuscodes.md gives the code for each violation:
// "Request cardinality violation (method requires exactly one request but
// client sent some other number of requests) | UNIMPLEMENTED | Server" and
// "Response cardinality violation (method requires exactly one response but
// server sent some other number of responses) | UNIMPLEMENTED | Client".
//
// A client whose StreamDesc claims more streaming than the method has
// sends the wrong number of requests; a server whose method streams more
// than the client's StreamDesc says sends the wrong number of responses.

// sendN opens method as a bidi stream, sends n requests, half-closes and
// returns the call's outcome: the responses received and the final error.
func sendN(t *testing.T, cc *ClientConn, method string, n int) (received int, err error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs, err := cc.NewStream(ctx, bidiDesc, method)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := cs.SendMsg([]byte("req")); err != nil {
			break // the server ended the call: RecvMsg says why
		}
	}
	cs.CloseSend()
	for {
		var m []byte
		if err := cs.RecvMsg(&m); err != nil {
			if err == io.EOF {
				err = nil
			}
			return received, err
		}
		received++
	}
}

func TestServerRefusesWrongRequestCounts(t *testing.T) {
	handled := make(chan string, 16)
	e := newEnv(t, &echoServer{
		unary: func(ctx context.Context, req []byte) ([]byte, error) {
			handled <- "unary"
			return req, nil
		},
		stream: func(ss ServerStream) error {
			var m []byte
			if err := ss.RecvMsg(&m); err != nil {
				return err
			}
			handled <- "stream"
			return ss.SendMsg(m)
		},
	}, nil)
	for _, method := range []string{"/test.Echo/Unary", "/test.Echo/ServerStream"} {
		for _, n := range []int{0, 2, 3} {
			got, err := sendN(t, e.cc, method, n)
			if CodeOf(err) != Unimplemented || got != 0 {
				t.Errorf("%s with %d requests: %d responses, %v; want none and Unimplemented", method, n, got, err)
			}
		}
		if got, err := sendN(t, e.cc, method, 1); err != nil || got != 1 {
			t.Errorf("%s with 1 request: %d responses, %v", method, got, err)
		}
	}
	close(handled)
	var ran []string
	for h := range handled {
		ran = append(ran, h)
	}
	// Only the well-formed calls reached past RecvMsg: the unary handler
	// runs only once its one request is known to be alone.
	if len(ran) != 2 || ran[0] != "unary" || ran[1] != "stream" {
		t.Errorf("handlers got past receiving for %v, want [unary stream]", ran)
	}
}

// A handler that ignores RecvMsg's error cannot turn a cardinality
// violation into a success: the status is the violation's.
func TestRequestCountViolationOverridesHandler(t *testing.T) {
	handlerSaw := make(chan error, 1) // what the handler found wrong; nil: nothing
	e := newEnv(t, &echoServer{
		unary: func(ctx context.Context, req []byte) ([]byte, error) { return req, nil },
		stream: func(ss ServerStream) error {
			var m []byte
			first := ss.RecvMsg(&m)
			again := ss.RecvMsg(&m)
			switch {
			case CodeOf(first) != Unimplemented || again != first:
				handlerSaw <- fmt.Errorf("RecvMsg: %v, then %v; want the violation twice", first, again)
			case ss.SendMsg([]byte("sent anyway")) == nil:
				handlerSaw <- errors.New("SendMsg after a cardinality violation succeeded")
			default:
				handlerSaw <- nil
			}
			return nil // ignoring it all
		},
	}, nil)
	got, err := sendN(t, e.cc, "/test.Echo/ServerStream", 2)
	if CodeOf(err) != Unimplemented || got != 0 {
		t.Fatalf("%d responses, %v; want none and Unimplemented", got, err)
	}
	if err := <-handlerSaw; err != nil {
		t.Fatal(err)
	}
}

// The frames of a refused request count: one Trailers-Only block.
func TestRequestCountFrames(t *testing.T) {
	srv := NewServer()
	srv.RegisterService(&echoDesc, &echoServer{unary: echoBack, stream: func(ss ServerStream) error {
		var m []byte
		if err := ss.RecvMsg(&m); err != nil {
			return err
		}
		return ss.SendMsg(m)
	}})
	nc, p := h2test.NewPipe(t)
	srv.serveConn(nc, AuthInfo{})
	defer srv.Stop()
	p.ClientHandshake()
	msg := mustEncode(t, []byte("hi"), nil)
	id := uint32(1)
	for _, method := range []string{"Unary", "ServerStream"} {
		// No request message: HEADERS with END_STREAM.
		p.WriteHeaders(id, true, grpcRequest("/test.Echo/"+method, "application/grpc")...)
		p.WantHeaders(method+" without a request", id, true, hf(":status", "200", "content-type", "application/grpc",
			"grpc-status", "12", "grpc-message", "grpc: cardinality violation: no request message on a non-client-streaming call"))
		id += 2
		// Two, in one DATA frame.
		p.WriteHeaders(id, false, grpcRequest("/test.Echo/"+method, "application/grpc")...)
		p.WriteData(id, true, append(append([]byte(nil), msg...), msg...))
		p.WantHeaders(method+" with two requests", id, true, hf(":status", "200", "content-type", "application/grpc",
			"grpc-status", "12", "grpc-message", "grpc: cardinality violation: more than one request message on a non-client-streaming call"))
		id += 2
	}
}

// nResponses is a streaming handler that reads the request, if any, and
// sends n responses.
func nResponses(n int) *echoServer {
	return &echoServer{
		unary: func(context.Context, []byte) ([]byte, error) { return nil, errors.New("not used") },
		stream: func(ss ServerStream) error {
			var m []byte
			if err := ss.RecvMsg(&m); err != nil && err != io.EOF {
				return err
			}
			for i := 0; i < n; i++ {
				if err := ss.SendMsg([]byte("resp")); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// streamingDesc registers every shape's name as a bidi stream, so the
// server sends as many responses as it likes whatever the client expects.
var streamingDesc = ServiceDesc{
	ServiceName: "test.Echo",
	Streams: []StreamDesc{
		{StreamName: "Unary", Handler: echoStreamHandler, ServerStreams: true, ClientStreams: true},
		{StreamName: "ClientStream", Handler: echoStreamHandler, ServerStreams: true, ClientStreams: true},
		{StreamName: "ServerStream", Handler: echoStreamHandler, ServerStreams: true, ClientStreams: true},
	},
}

func TestClientRefusesWrongResponseCounts(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3} {
		srv := NewServer()
		srv.RegisterService(&streamingDesc, nResponses(n))
		cc := serveOn(t, srv)
		want := Unimplemented
		if n == 1 {
			want = OK
		}
		// Unary.
		var reply []byte
		if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("req"), &reply); CodeOf(err) != want {
			t.Errorf("unary call, %d responses: %v, want %v", n, err, want)
		}
		// Client-streaming.
		ctx, cancel := context.WithCancel(context.Background())
		cs, err := cc.NewStream(ctx, clientStreamDesc, "/test.Echo/ClientStream")
		if err != nil {
			t.Fatal(err)
		}
		cs.SendMsg([]byte("req"))
		cs.CloseSend()
		err = cs.RecvMsg(&reply)
		if err == nil {
			err = cs.RecvMsg(&reply)
			if err == io.EOF {
				err = nil
			}
		}
		if CodeOf(err) != want {
			t.Errorf("client-streaming call, %d responses: %v, want %v", n, err, want)
		}
		cancel()
		// Server-streaming takes any number.
		got, err := recvAll(t, cc, "/test.Echo/ServerStream")
		if err != nil || got != n {
			t.Errorf("server-streaming call, %d responses: received %d, %v", n, got, err)
		}
	}
}

func recvAll(t *testing.T, cc *ClientConn, method string) (int, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs, err := cc.NewStream(ctx, serverStreamDesc, method)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SendMsg([]byte("req")); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		var m []byte
		if err := cs.RecvMsg(&m); err != nil {
			if err == io.EOF {
				return n, nil
			}
			return n, err
		}
		n++
	}
}

// The frames of a refused response count: after a second response the
// client resets the stream with CANCEL; with none, the call fails though
// the status was OK.
func TestResponseCountFrames(t *testing.T) {
	cc, p := dialScripted(t)
	msg := mustEncode(t, []byte("resp"), nil)
	call := func() chan error {
		errc := make(chan error, 1)
		go func() {
			var reply []byte
			errc <- cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("req"), &reply)
		}()
		return errc
	}

	// Two responses: the call fails at the second, which resets the stream.
	errc := call()
	p.ReadHeaders("request headers")
	p.WantData("request", 1, true, mustEncode(t, []byte("req"), nil))
	p.WriteHeaders(1, false, hf(":status", "200", "content-type", "application/grpc")...)
	p.WriteData(1, false, append(append([]byte(nil), msg...), msg...))
	p.WantRST("second response", 1, frame.ErrCodeCancel)
	st := wantCode(t, <-errc, Unimplemented)
	if st.Message != "grpc: cardinality violation: more than one response message on a non-server-streaming call" {
		t.Errorf("message %q", st.Message)
	}

	// No response, status OK.
	errc = call()
	p.ReadHeaders("request headers")
	p.WantData("request", 3, true, mustEncode(t, []byte("req"), nil))
	p.WriteHeaders(3, false, hf(":status", "200", "content-type", "application/grpc")...)
	p.WriteHeaders(3, true, hf("grpc-status", "0")...)
	st = wantCode(t, <-errc, Unimplemented)
	if st.Message != "grpc: cardinality violation: no response message on a non-server-streaming call" {
		t.Errorf("message %q", st.Message)
	}
	// No response and an error status: the status is the server's.
	errc = call()
	p.ReadHeaders("request headers")
	p.WantData("request", 5, true, mustEncode(t, []byte("req"), nil))
	p.WriteHeaders(5, true, hf(":status", "200", "content-type", "application/grpc", "grpc-status", "5", "grpc-message", "gone")...)
	wantCode(t, <-errc, NotFound)
}
