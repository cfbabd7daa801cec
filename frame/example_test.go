package frame_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/h2rpc/h2rpc/frame"
)

// A server reads the client preface, then frames until the peer is done.
func ExampleReader() {
	// What a client might send: the preface, its SETTINGS, a request.
	var in []byte
	in = append(in, frame.ClientPreface...)
	in = frame.AppendSettings(in, frame.Setting{ID: frame.SettingInitialWindowSize, Val: 1 << 20})
	in = frame.AppendHeaders(in, 1, false, true, []byte("\x82\x86\x84"))
	in = frame.AppendData(in, 1, true, []byte("hello"))
	in = frame.AppendWindowUpdate(in, 1, 0) // an increment of 0: a stream error

	fr := frame.NewReader(bytes.NewReader(in))
	if err := fr.ReadPreface(); err != nil {
		log.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		var se *frame.StreamError
		switch {
		case err == io.EOF:
			return
		case errors.As(err, &se):
			fmt.Printf("reset stream %d: %v\n", se.StreamID, se.Code)
			continue // the frame was consumed; reading goes on
		case err != nil:
			log.Fatal(err) // a *frame.ConnError: send GOAWAY and close
		}
		// f and its slices are valid until the next ReadFrame.
		switch f := f.(type) {
		case *frame.SettingsFrame:
			v, _ := f.Value(frame.SettingInitialWindowSize)
			fmt.Println("SETTINGS initial window", v)
		case *frame.HeadersFrame:
			fmt.Printf("HEADERS stream %d, %d octets\n", f.StreamID, len(f.BlockFragment))
		case *frame.DataFrame:
			fmt.Printf("DATA stream %d %q end=%v\n", f.StreamID, f.Data, f.StreamEnded())
		}
	}
	// Output:
	// SETTINGS initial window 1048576
	// HEADERS stream 1, 3 octets
	// DATA stream 1 "hello" end=true
	// reset stream 1: PROTOCOL_ERROR
}

// Frames are appended to one buffer and sent with a single Write; the
// buffer is reused for the next batch.
func Example_batch() {
	var conn bytes.Buffer // a net.Conn in real use
	var buf []byte

	// Append functions write frames one after another...
	buf = frame.AppendSettingsAck(buf[:0])
	buf = frame.AppendWindowUpdate(buf, 0, 65535)
	// ...and frame structs encode themselves.
	buf = (&frame.PingFrame{Header: frame.Header{Flags: frame.FlagAck}, Data: [8]byte{'p', 'o', 'n', 'g'}}).AppendTo(buf)

	fmt.Println("buffered:", len(buf))
	if _, err := conn.Write(buf); err != nil { // one write for the three frames
		log.Fatal(err)
	}
	fmt.Println("written:", conn.Len())
	// Output:
	// buffered: 39
	// written: 39
}
