package hpack_test

import (
	"errors"
	"fmt"

	"github.com/h2rpc/h2rpc/hpack"
)

func Example() {
	// One Encoder on the sending side, one Decoder on the receiving side,
	// each for the life of the connection.
	enc := hpack.NewEncoder()
	dec := hpack.NewDecoder(hpack.Limits{})

	block := enc.AppendBlock(nil,
		hpack.Field{Name: ":status", Value: "200"},
		hpack.Field{Name: "content-type", Value: "application/grpc"},
	)
	fields, err := dec.Decode(block, hpack.Response, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range fields {
		fmt.Printf("%s: %s\n", f.Name, f.Value)
	}
	// Output:
	// :status: 200
	// content-type: application/grpc
}

func ExampleEncoder_SetMaxTableSize() {
	enc := hpack.NewEncoder()
	// The peer's SETTINGS frame carried SETTINGS_HEADER_TABLE_SIZE = 0.
	enc.SetMaxTableSize(0)
	// The next block opens with the dynamic table size update (0x20).
	fmt.Printf("% x\n", enc.AppendBlock(nil, hpack.Field{Name: ":status", Value: "200"}))
	fmt.Printf("% x\n", enc.AppendBlock(nil, hpack.Field{Name: ":status", Value: "200"}))
	// Output:
	// 20 88
	// 88
}

func ExampleDecoder_Decode_errors() {
	dec := hpack.NewDecoder(hpack.Limits{})
	enc := hpack.NewEncoder()
	block := enc.AppendBlock(nil,
		hpack.Field{Name: ":status", Value: "200"},
		hpack.Field{Name: "connection", Value: "close"},
	)
	_, err := dec.Decode(block, hpack.Response, nil)
	var me *hpack.MalformedError
	switch {
	case errors.Is(err, hpack.ErrCompression):
		fmt.Println("connection error COMPRESSION_ERROR")
	case errors.As(err, &me):
		fmt.Println("stream error PROTOCOL_ERROR:", me.Reason)
	case errors.Is(err, hpack.ErrHeaderListTooLarge):
		fmt.Println("431 or RST_STREAM")
	}
	// Output:
	// stream error PROTOCOL_ERROR: connection-specific field "connection" (RFC 9113 §8.2.2)
}

func ExampleBlockBuffer() {
	b := hpack.NewBlockBuffer(hpack.Limits{})
	dec := hpack.NewDecoder(hpack.Limits{})
	whole := hpack.NewEncoder().AppendBlock(nil,
		hpack.Field{Name: ":status", Value: "404"},
		hpack.Field{Name: "grpc-status", Value: "5"},
	)

	// HEADERS without END_HEADERS, then a CONTINUATION with it.
	if _, done, err := b.Start(1, whole[:4], false); err != nil || done {
		return
	}
	block, done, err := b.Continue(1, whole[4:], true)
	if err != nil || !done {
		return
	}
	fields, err := dec.Decode(block, hpack.Response, nil)
	fmt.Println(fields, err)
	// Output:
	// [header field ":status" = "404" header field "grpc-status" = "5"] <nil>
}
