package stream_test

import (
	"errors"
	"fmt"

	"github.com/h2rpc/h2rpc/flowcontrol"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/stream"
)

// A server sees a unary call: the client's HEADERS and DATA with END_STREAM,
// then its own response HEADERS, DATA and trailers.
func ExampleState() {
	s := stream.Idle
	steps := []struct {
		send      bool
		t         frame.Type
		endStream bool
	}{
		{false, frame.TypeHeaders, false},
		{false, frame.TypeData, true},
		{true, frame.TypeHeaders, false},
		{true, frame.TypeData, false},
		{true, frame.TypeHeaders, true},
	}
	for _, st := range steps {
		var err error
		if st.send {
			s, err = s.Send(st.t, st.endStream)
		} else {
			s, err = s.Recv(st.t, st.endStream)
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(s)
	}
	// Output:
	// open
	// half-closed (remote)
	// half-closed (remote)
	// half-closed (remote)
	// closed
}

// How the connection treats frames on a closed stream depends on how it
// closed.
func ExampleState_closed() {
	// We reset the stream; the peer's DATA was already in flight. It is
	// accepted and must be discarded (after charging the connection window).
	s, _ := stream.Open.Send(frame.TypeRSTStream, false)
	next, err := s.Recv(frame.TypeData, false)
	fmt.Println(next, err, "discard:", s.IsClosed())

	// The peer reset the stream and then sent DATA: a stream error.
	s, _ = stream.Open.Recv(frame.TypeRSTStream, false)
	_, err = s.Recv(frame.TypeData, false)
	var se *frame.StreamError
	if errors.As(err, &se) {
		se.StreamID = 5 // State does not know the id; the connection does
		fmt.Println(se)
	}
	// Output:
	// closed (reset sent) <nil> discard: true
	// http2: stream error on stream 5 STREAM_CLOSED: DATA after RST_STREAM
}

// The reader goroutine appends a copy of each DATA frame; the application
// drains it; every byte drained is returned to the window.
func ExampleRecvBuffer() {
	var win flowcontrol.RecvWindow
	win.Init(1024)
	var buf stream.RecvBuffer
	buf.SetLimit(int(win.Size()))

	data := make([]byte, 600) // a DATA frame's payload
	if err := win.Receive(uint32(len(data))); err != nil {
		fmt.Println(err)
		return
	}
	if err := buf.Write(data); err != nil {
		fmt.Println(err)
		return
	}
	p := make([]byte, 512)
	n := buf.Read(p)
	fmt.Println("read", n, "left", buf.Len(), "window update", win.Consume(uint32(n)))

	// A peer ignoring the window overflows the buffer too.
	err := buf.Write(make([]byte, 1000))
	fmt.Println(errors.Is(err, flowcontrol.ErrExceeded))
	// Output:
	// read 512 left 88 window update 512
	// true
}
