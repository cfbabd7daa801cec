package conn_test

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/hpack"
)

// A server answers every request with the request body in upper case and a
// trailer; a client sends one request. The two ends are joined by a pipe;
// over TCP, pass the accepted and the dialled net.Conn instead.
func Example() {
	clientEnd, serverEnd := net.Pipe()

	server, _ := conn.Server(serverEnd, nil, func(s *conn.Stream) {
		body, _ := io.ReadAll(s)
		s.WriteAll([]hpack.Field{{Name: ":status", Value: "200"}}, nil, nil)
		s.WriteData(nil, []byte(fmt.Sprintf("%s from %s", bytesUpper(body), s.RequestHeaders()[3].Value)), false)
		s.WriteAll(nil, nil, []hpack.Field{{Name: "x-done", Value: "yes"}})
	})
	defer server.Close()

	client, _ := conn.Client(clientEnd, nil)
	defer client.Close()

	s, err := client.OpenStream(context.Background(), []hpack.Field{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: "example"},
		{Name: ":path", Value: "/shout"},
	}, nil, 0)

	if err != nil {
		fmt.Println(err)
		return
	}
	s.WriteData(nil, []byte("hello"), false)
	s.WriteData(nil, nil, true)

	headers, _ := s.ReadHeaders()
	body, _ := io.ReadAll(s)
	fmt.Println(headers[0].Name, headers[0].Value)
	fmt.Println(string(body))
	fmt.Println(s.Trailers()[0].Name, s.Trailers()[0].Value)
	// Output:
	// :status 200
	// HELLO from /shout
	// x-done yes
}

func bytesUpper(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// Server serves streams on an accepted connection until the client goes
// away; Shutdown would end it gracefully.
func ExampleServer() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		nc, _ := net.Dial("tcp", ln.Addr().String())
		c, _ := conn.Client(nc, nil)
		s, _ := c.OpenStream(context.Background(), []hpack.Field{
			{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"}, {Name: ":path", Value: "/"},
		}, nil, conn.EndStream)

		s.ReadHeaders()
		c.Shutdown(context.Background())
	}()

	nc, _ := ln.Accept()
	server, _ := conn.Server(nc, &conn.Config{MaxConcurrentStreams: 100}, func(s *conn.Stream) {
		fmt.Println("request for", s.RequestHeaders()[2].Value)
		s.WriteAll(nil, nil, []hpack.Field{{Name: ":status", Value: "204"}})
	})
	<-server.Done()
	fmt.Println("connection ended:", server.Err())
	// Output:
	// request for /
	// connection ended: conn: connection closed
}

// A client checks that the connection is alive, then opens a stream that it
// gives up on: cancelling the stream's context resets the stream.
func ExampleConn_OpenStream_cancel() {
	clientEnd, serverEnd := net.Pipe()
	ended := make(chan string, 1)
	server, _ := conn.Server(serverEnd, nil, func(s *conn.Stream) {
		<-s.Context().Done() // the client's reset cancels it
		ended <- fmt.Sprint("server: stream ", s.ID(), " ended: ", s.Context().Err())
	})
	defer server.Close()
	client, _ := conn.Client(clientEnd, nil)
	defer client.Close()

	if err := client.Ping(context.Background()); err != nil {
		fmt.Println(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, _ := client.OpenStream(ctx, []hpack.Field{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"}, {Name: ":path", Value: "/slow"},
	}, nil, conn.EndStream)

	cancel()
	_, err := s.ReadHeaders()
	fmt.Println("client:", err)
	fmt.Println(<-ended)
	client.Shutdown(context.Background())
	// Output:
	// client: conn: stream 1 reset locally with CANCEL
	// server: stream 1 ended: context canceled
}

// A unary-shaped exchange in one write each way: OpenStream sends the
// request headers with the whole body, and WriteAll the response headers,
// body and trailers.
func ExampleConn_OpenStream() {
	clientEnd, serverEnd := net.Pipe()
	server, _ := conn.Server(serverEnd, nil, func(s *conn.Stream) {
		body, _ := io.ReadAll(s)
		s.WriteAll(
			[]hpack.Field{{Name: ":status", Value: "200"}},
			bytesUpper(body),
			[]hpack.Field{{Name: "x-status", Value: "ok"}})
	})
	defer server.Close()
	client, _ := conn.Client(clientEnd, nil)
	defer client.Close()

	s, err := client.OpenStream(context.Background(), []hpack.Field{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: "example"}, {Name: ":path", Value: "/shout"},
	}, []byte("hello"), conn.EndStream)

	if err != nil {
		fmt.Println(err)
		return
	}
	s.ReadHeaders()
	body, _ := io.ReadAll(s)
	fmt.Println(string(body), s.Trailers()[0].Value)
	// Output:
	// HELLO ok
}
