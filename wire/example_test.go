package wire_test

import (
	"fmt"

	"github.com/h2rpc/h2rpc/wire"
)

// A writer encodes a message field by field; proto3 defaults are left out.
func ExampleAppendStringField() {
	var b []byte
	b = wire.AppendStringField(b, 1, "researcher-01") // string user_id = 1;
	b = wire.AppendInt32Field(b, 2, 150)              // int32 progress = 2;
	b = wire.AppendBoolField(b, 3, false)             // bool active = 3; false: not written
	fmt.Printf("% x\n", b)
	// Output: 0a 0d 72 65 73 65 61 72 63 68 65 72 2d 30 31 10 96 01
}

// An old reader knows fields 1 and 2 only. A newer writer added fields 3
// and 4; the reader skips them and still decodes the rest.
func ExampleRange() {
	var b []byte
	b = wire.AppendStringField(b, 1, "alice")
	b = wire.AppendStringField(b, 3, "a field added later")
	b = wire.AppendFixed64Field(b, 4, 42)
	b = wire.AppendInt32Field(b, 2, 7)

	var name string
	var level int32
	err := wire.Range(b, func(f wire.Field) error {
		switch {
		case f.Is(1, wire.TypeLen):
			name = string(f.Bytes)
		case f.Is(2, wire.TypeVarint):
			level = f.Int32()
		default:
			fmt.Printf("skipped field %d (%v, %d bytes)\n", f.Num, f.Type, len(f.Raw))
		}
		return nil
	})
	fmt.Println(name, level, err)
	// Output:
	// skipped field 3 (LEN, 21 bytes)
	// skipped field 4 (I64, 9 bytes)
	// alice 7 <nil>
}

// Malformed input is an error naming the problem and where it is.
func ExampleRange_malformed() {
	b := []byte{0x08, 0x01, 0x12, 0x05, 'h', 'i'} // field 2 claims 5 bytes, has 2
	err := wire.Range(b, func(wire.Field) error { return nil })
	fmt.Println(err)
	// Output: wire: truncated input: field 2 (LEN) at offset 2
}

// The Consume functions parse one item and return how many bytes it took,
// or a negative number that ParseError explains.
func ExampleConsumeVarint() {
	v, n := wire.ConsumeVarint([]byte{0x96, 0x01})
	fmt.Println(v, n)
	_, n = wire.ConsumeVarint([]byte{0x96})
	fmt.Println(n < 0, wire.ParseError(n))
	// Output:
	// 150 2
	// true wire: truncated input
}

// A sint32 field uses zigzag encoding so that small negative numbers stay
// short: -1 is one byte instead of int32's ten.
func ExampleEncodeZigZag() {
	fmt.Printf("% x\n", wire.AppendSint32Field(nil, 1, -1))
	fmt.Printf("% x\n", wire.AppendInt32Field(nil, 1, -1))
	// Output:
	// 08 01
	// 08 ff ff ff ff ff ff ff ff ff 01
}

// note is a hand-written message type: message Note { string text = 1; }.
type note struct{ text string }

func (n *note) AppendWire(b []byte) ([]byte, error) {
	if err := wire.CheckUTF8(1, n.text); err != nil {
		return b, err
	}
	return wire.AppendStringField(b, 1, n.text), nil
}

func (n *note) UnmarshalWire(b []byte) error {
	*n = note{}
	return wire.Range(b, func(f wire.Field) error {
		if f.Is(1, wire.TypeLen) {
			s, err := f.UTF8()
			n.text = s
			return err
		}
		return nil
	})
}

// A type implements Message by appending its fields and walking them back;
// AppendMessageField embeds it in another message (here as field 2 of
// message Outer { int32 id = 1; Note note = 2; }).
func ExampleMessage() {
	var b []byte
	b = wire.AppendInt32Field(b, 1, 7)
	b, err := wire.AppendMessageField(b, 2, &note{text: "hi"})
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b)

	var got note
	_ = wire.Range(b, func(f wire.Field) error {
		if f.Is(2, wire.TypeLen) {
			return got.UnmarshalWire(f.Bytes)
		}
		return nil
	})
	fmt.Println(got.text)
	// Output:
	// 08 07 12 04 0a 02 68 69
	// hi
}

// A generated AppendWire tests its string fields for ASCII first and checks
// one rune by rune only when that test fails.
func ExampleASCII() {
	for _, s := range []string{"ada@example.com", "Zoë", "\xff"} {
		fmt.Println(wire.ASCII(s), wire.ValidUTF8(s))
	}
	// Output:
	// true true
	// false true
	// false false
}
