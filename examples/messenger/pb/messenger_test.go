package pb

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/h2rpc/h2rpc/wire"
)

type testCase struct {
	name  string
	msg   wire.Message
	empty func() wire.Message // a fresh zero message of the same type
	want  string              // exact encoding, hex
}

func newOf(m wire.Message) func() wire.Message {
	return func() wire.Message { return reflect.New(reflect.TypeOf(m).Elem()).Interface().(wire.Message) }
}

var cases = func() []testCase {
	c := []testCase{
		{"StatusRequest", &StatusRequest{UserId: "researcher-01"}, nil, "0a 0d 72 65 73 65 61 72 63 68 65 72 2d 30 31"},
		{"StatusRequest zero", &StatusRequest{}, nil, ""},
		{"StatusResponse", &StatusResponse{Message: "OK", Active: true}, nil, "0a 02 4f 4b 10 01"},
		{"StatusResponse active only", &StatusResponse{Active: true}, nil, "10 01"},
		{"StatusResponse message only", &StatusResponse{Message: "é"}, nil, "0a 02 c3 a9"},
		{"TopicRequest", &TopicRequest{Topic: "gRPC"}, nil, "0a 04 67 52 50 43"},
		{"LearningUpdate", &LearningUpdate{Content: "c", Progress: 25, Timestamp: "12:00:00"}, nil, "0a 01 63 10 19 1a 08 31 32 3a 30 30 3a 30 30"},
		{"LearningUpdate negative progress", &LearningUpdate{Progress: -1}, nil, "10 ff ff ff ff ff ff ff ff ff 01"},
		{"LearningUpdate zero", &LearningUpdate{}, nil, ""},
		{"ResearchNote", &ResearchNote{Text: "n"}, nil, "0a 01 6e"},
		{"SummaryResponse", &SummaryResponse{Count: 4, FinalSummary: "s"}, nil, "08 04 12 01 73"},
		{"SummaryResponse big count", &SummaryResponse{Count: 1 << 30}, nil, "08 80 80 80 80 04"},
		{"FeedUpdate", &FeedUpdate{User: "QA", Message: "ok"}, nil, "0a 02 51 41 12 02 6f 6b"},
		{"FeedUpdate message only", &FeedUpdate{Message: "ok"}, nil, "12 02 6f 6b"},
		{"FeedUpdate long", &FeedUpdate{User: strings.Repeat("u", 200)}, nil, "0a c8 01" + strings.Repeat("75", 200)},
	}
	for i := range c {
		c[i].empty = newOf(c[i].msg)
	}
	return c
}()

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodeExactBytes(t *testing.T) {
	for _, tc := range cases {
		got, err := tc.msg.AppendWire([]byte{0xee})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if want := append([]byte{0xee}, unhex(t, tc.want)...); !bytes.Equal(got, want) {
			t.Errorf("%s: AppendWire = % x, want % x", tc.name, got, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range cases {
		b, err := tc.msg.AppendWire(nil)
		if err != nil {
			t.Fatal(err)
		}
		got := tc.empty()
		if err := got.UnmarshalWire(b); err != nil {
			t.Fatalf("%s: UnmarshalWire: %v", tc.name, err)
		}
		if !reflect.DeepEqual(got, tc.msg) {
			t.Errorf("%s: round trip gave %+v, want %+v", tc.name, got, tc.msg)
		}
	}
}

// unknownFields is what a newer writer might add: a string, a varint, a
// group, a fixed64 and a fixed32 under numbers no messenger type uses (19500
// is in protoc's reserved range, which means nothing on the wire).
func unknownFields() []byte {
	var b []byte
	b = wire.AppendStringField(b, 15, "added in v2")
	b = wire.AppendInt64Field(b, 100, -5)
	b = wire.AppendTag(b, 7, wire.TypeSGroup)
	b = wire.AppendStringField(b, 1, "inside a group: not the outer field 1")
	b = wire.AppendTag(b, 7, wire.TypeEGroup)
	b = wire.AppendFixed64Field(b, 2000, 9)
	b = wire.AppendFixed32Field(b, 19500, 9)
	return b
}

// Fields a type does not know are kept and written back after the known
// ones, wherever they came, as protobuf-go does.
func TestUnknownFieldsAreKept(t *testing.T) {
	for _, tc := range cases {
		enc, _ := tc.msg.AppendWire(nil)
		want := append(append([]byte{}, enc...), unknownFields()...)
		for _, b := range [][]byte{
			append(unknownFields(), enc...),
			append(append([]byte{}, enc...), unknownFields()...),
		} {
			got := tc.empty()
			if err := got.UnmarshalWire(b); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if out, _ := got.AppendWire(nil); !bytes.Equal(out, want) {
				t.Errorf("%s with unknown fields: re-encoded as %x, want %x", tc.name, out, want)
			}
		}
	}
}

// A known number arriving with another wire type is an unknown field: kept
// and written back, as protobuf-go does.
func TestKnownNumberWithOtherWireTypeIsKept(t *testing.T) {
	var b []byte
	b = wire.AppendInt32Field(b, 1, 5)       // field 1 is a string: VARINT is foreign
	b = wire.AppendStringField(b, 2, "true") // field 2 is a bool: LEN is foreign
	var m StatusResponse
	if err := m.UnmarshalWire(b); err != nil {
		t.Fatal(err)
	}
	if m.Message != "" || m.Active {
		t.Errorf("got %+v, want no known field set", &m)
	}
	if out, _ := m.AppendWire(nil); !bytes.Equal(out, b) {
		t.Errorf("AppendWire = %x, want the unknown fields back: %x", out, b)
	}
}

func TestLastOccurrenceWins(t *testing.T) {
	var b []byte
	b = wire.AppendStringField(b, 1, "first")
	b = wire.AppendInt32Field(b, 2, 10)
	b = wire.AppendStringField(b, 1, "second")
	b = wire.AppendInt32Field(b, 2, 20)
	var m LearningUpdate
	if err := m.UnmarshalWire(b); err != nil {
		t.Fatal(err)
	}
	if want := (LearningUpdate{Content: "second", Progress: 20}); !m.Equal(&want) {
		t.Errorf("got %+v, want %+v", &m, &want)
	}
}

func TestUnmarshalResets(t *testing.T) {
	m := LearningUpdate{Content: "old", Progress: 99, Timestamp: "old"}
	if err := m.UnmarshalWire(unhex(t, "10 05")); err != nil {
		t.Fatal(err)
	}
	if want := (LearningUpdate{Progress: 5}); !m.Equal(&want) {
		t.Errorf("got %+v, want %+v", &m, &want)
	}
}

func TestUnmarshalDoesNotRetainInput(t *testing.T) {
	b, _ := (&FeedUpdate{User: "alice", Message: "hello"}).AppendWire(nil)
	var m FeedUpdate
	if err := m.UnmarshalWire(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'X'
	}
	if m.User != "alice" || m.Message != "hello" {
		t.Errorf("message changed with its input buffer: %+v", m)
	}
}

func TestInvalidUTF8(t *testing.T) {
	bad := "ok\xff"
	for _, m := range []wire.Message{
		&StatusRequest{UserId: bad},
		&StatusResponse{Message: bad, Active: true},
		&TopicRequest{Topic: bad},
		&LearningUpdate{Content: "fine", Progress: 1, Timestamp: bad},
		&ResearchNote{Text: bad},
		&SummaryResponse{Count: 1, FinalSummary: bad},
		&FeedUpdate{User: "fine", Message: bad},
	} {
		b, err := m.AppendWire([]byte{0xee})
		if !errors.Is(err, wire.ErrInvalidUTF8) || !strings.Contains(err.Error(), "messenger.") {
			t.Errorf("%T: AppendWire error %v, want ErrInvalidUTF8 naming the message", m, err)
		}
		if !bytes.Equal(b, []byte{0xee}) {
			t.Errorf("%T: AppendWire appended % x despite the error", m, b[1:])
		}
	}
	// The same bytes arriving from a peer that did not check.
	for _, tc := range cases {
		if tc.want == "" {
			continue
		}
		enc := unhex(t, tc.want)
		// Corrupt the first string field, if the message has one.
		var corrupted bool
		_ = wire.Range(enc, func(f wire.Field) error {
			if f.Type == wire.TypeLen && !corrupted && len(f.Bytes) > 0 {
				f.Bytes[0] = 0xff
				corrupted = true
			}
			return nil
		})
		if !corrupted {
			continue
		}
		m := tc.empty()
		if err := m.UnmarshalWire(enc); !errors.Is(err, wire.ErrInvalidUTF8) {
			t.Errorf("%s: UnmarshalWire of invalid UTF-8: %v", tc.name, err)
		}
		if !reflect.DeepEqual(m, tc.empty()) {
			t.Errorf("%s: after an error the message is %+v, want zero", tc.name, m)
		}
	}
}

func TestMalformedInput(t *testing.T) {
	for _, in := range []string{
		"0a 05 61",    // string longer than the input
		"08",          // tag without its value
		"00 00",       // field number 0
		"0c",          // lone end group
		"0f",          // wire type 7
		"10 80 80 80", // truncated varint
	} {
		for _, tc := range cases {
			m := tc.empty()
			err := m.UnmarshalWire(unhex(t, in))
			if err == nil || !strings.HasPrefix(err.Error(), "messenger.") {
				t.Errorf("%s: UnmarshalWire(%s) = %v, want an error naming the message", tc.name, in, err)
			}
			if !reflect.DeepEqual(m, tc.empty()) {
				t.Errorf("%s: after an error the message is %+v, want zero", tc.name, m)
			}
		}
	}
}

func TestAllocations(t *testing.T) {
	buf := make([]byte, 0, 512)
	for _, tc := range cases {
		enc, _ := tc.msg.AppendWire(nil)
		if n := testing.AllocsPerRun(50, func() { _, _ = tc.msg.AppendWire(buf[:0]) }); n != 0 {
			t.Errorf("%s: AppendWire into a buffer with room: %v allocations, want 0", tc.name, n)
		}
		// Decoding allocates the strings and nothing else: one string per
		// string field (the runtime keeps one-byte strings statically, so
		// those cost nothing), or, in a message of scalars and two strings
		// or more, one allocation for all of them.
		strs, stringFields, stringBytes, flat := 0, 0, 0, true
		v := reflect.ValueOf(tc.msg).Elem()
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			switch f.Kind() {
			case reflect.String:
				stringFields++
				stringBytes += f.Len()
				if f.Len() > 1 {
					strs++
				}
			case reflect.Bool, reflect.Int32, reflect.Int64, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			default:
				flat = flat && !v.Type().Field(i).IsExported() // the unknown fields
			}
		}
		want := strs
		if flat && stringFields >= 2 {
			want = min(stringBytes, 1)
		}
		m := tc.empty()
		if n := testing.AllocsPerRun(50, func() { _ = m.UnmarshalWire(enc) }); n != float64(want) {
			t.Errorf("%s: UnmarshalWire: %v allocations, want %d", tc.name, n, want)
		}
	}
}

// FuzzUnmarshal decodes arbitrary bytes as every messenger type: nothing
// panics, and whatever decodes re-encodes to bytes that decode to the same
// message and re-encode identically.
func FuzzUnmarshal(f *testing.F) {
	for _, tc := range cases {
		f.Add(unhex(f, tc.want))
	}
	f.Add(unknownFields())
	f.Add([]byte{0x0a, 0x02, 0xff, 0xfe})
	f.Add([]byte{0x10, 0xff, 0xff, 0xff, 0xff, 0x0f}) // int32 -1 in 5 bytes: re-encodes in 10, as protobuf does
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, empty := range []func() wire.Message{
			newOf(&StatusRequest{}), newOf(&StatusResponse{}), newOf(&TopicRequest{}), newOf(&LearningUpdate{}),
			newOf(&ResearchNote{}), newOf(&SummaryResponse{}), newOf(&FeedUpdate{}),
		} {
			m := empty()
			if err := m.UnmarshalWire(in); err != nil {
				continue
			}
			enc, err := m.AppendWire(nil)
			if err != nil {
				t.Fatalf("%T decoded but does not encode: %v", m, err)
			}
			m2 := empty()
			if err := m2.UnmarshalWire(enc); err != nil || !reflect.DeepEqual(m, m2) {
				t.Fatalf("%T: re-decoded %+v (%v), want %+v", m, m2, err, m)
			}
			enc2, _ := m2.AppendWire(nil)
			if !bytes.Equal(enc, enc2) {
				t.Fatalf("%T: encoding is not stable: % x then % x", m, enc, enc2)
			}
		}
	})
}
