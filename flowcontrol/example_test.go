package flowcontrol_test

import (
	"fmt"

	"github.com/h2rpc/h2rpc/flowcontrol"
)

// A slow reader stops a writer. The writer's SendWindow is fed only by the
// increments the reader's RecvWindow returns, and those come only when the
// reader's application consumes data, not when it arrives.
func Example_slowReader() {
	const window = 16384
	var send flowcontrol.SendWindow // the writer's view
	send.Init(window)
	var recv flowcontrol.RecvWindow // the reader's view
	recv.Init(window)               // threshold: window/4 = 4096

	const frame = 4096
	sent := 0
	for send.Available() >= frame { // the writer sends while it has credit
		send.Consume(frame)
		if err := recv.Receive(frame); err != nil {
			fmt.Println(err)
			return
		}
		sent += frame
	}
	fmt.Println("writer blocked after", sent, "bytes; available", send.Available())

	// The reader's application consumes 1000 bytes: not enough to announce.
	fmt.Println("increment after 1000:", recv.Consume(1000))
	// It consumes 3096 more: the batch reaches the threshold.
	inc := recv.Consume(3096)
	fmt.Println("increment after 4096:", inc)
	if err := send.Add(inc); err != nil { // the WINDOW_UPDATE arrives
		fmt.Println(err)
		return
	}
	fmt.Println("writer may send", send.Available(), "more bytes")

	// A writer that ignores the window is caught.
	err := recv.Receive(frame + 1)
	fmt.Println(err)
	// Output:
	// writer blocked after 16384 bytes; available 0
	// increment after 1000: 0
	// increment after 4096: 4096
	// writer may send 4096 more bytes
	// flowcontrol: peer exceeded the advertised window: received 4097 bytes, window 4096
}
