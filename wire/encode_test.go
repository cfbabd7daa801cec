package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
)

// unhex decodes a hex string with optional spaces, for readable expected bytes.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

var varintTests = []struct {
	v    uint64
	want string
}{
	{0, "00"},
	{1, "01"},
	{127, "7f"},
	{128, "80 01"},
	{150, "96 01"}, // the encoding guide's example
	{300, "ac 02"},
	{16383, "ff 7f"},
	{16384, "80 80 01"},
	{math.MaxUint32, "ff ff ff ff 0f"},
	{1 << 62, "80 80 80 80 80 80 80 80 40"},
	{1<<63 - 1, "ff ff ff ff ff ff ff ff 7f"},
	{1 << 63, "80 80 80 80 80 80 80 80 80 01"},
	{math.MaxUint64, "ff ff ff ff ff ff ff ff ff 01"},
}

func TestAppendVarint(t *testing.T) {
	for _, tt := range varintTests {
		want := unhex(t, tt.want)
		got := AppendVarint([]byte{0xee}, tt.v)
		if !bytes.Equal(got[1:], want) || got[0] != 0xee {
			t.Errorf("AppendVarint(%d) = % x, want ee % x", tt.v, got, want)
		}
		if n := SizeVarint(tt.v); n != len(want) {
			t.Errorf("SizeVarint(%d) = %d, want %d", tt.v, n, len(want))
		}
	}
}

func TestSizeVarintEveryBoundary(t *testing.T) {
	for k := 0; k < 64; k++ {
		for _, v := range []uint64{1<<k - 1, 1 << k, 1<<k + 1} {
			if got, want := SizeVarint(v), len(AppendVarint(nil, v)); got != want {
				t.Errorf("SizeVarint(%#x) = %d, AppendVarint wrote %d", v, got, want)
			}
		}
	}
}

func TestZigZag(t *testing.T) {
	tests := []struct {
		v    int64
		want uint64
	}{
		{0, 0},
		{-1, 1},
		{1, 2},
		{-2, 3},
		{2, 4},
		{math.MaxInt32, math.MaxUint32 - 1},
		{math.MinInt32, math.MaxUint32},
		{math.MaxInt64, math.MaxUint64 - 1},
		{math.MinInt64, math.MaxUint64},
	}
	for _, tt := range tests {
		if got := EncodeZigZag(tt.v); got != tt.want {
			t.Errorf("EncodeZigZag(%d) = %d, want %d", tt.v, got, tt.want)
		}
		if got := DecodeZigZag(tt.want); got != tt.v {
			t.Errorf("DecodeZigZag(%d) = %d, want %d", tt.want, got, tt.v)
		}
		if got, want := AppendZigZag(nil, tt.v), AppendVarint(nil, tt.want); !bytes.Equal(got, want) {
			t.Errorf("AppendZigZag(%d) = % x, want % x", tt.v, got, want)
		}
	}
}

func TestAppendFixed(t *testing.T) {
	if got, want := AppendFixed32(nil, 0x01020304), unhex(t, "04 03 02 01"); !bytes.Equal(got, want) {
		t.Errorf("AppendFixed32 = % x, want % x", got, want)
	}
	if got, want := AppendFixed64(nil, 0x0102030405060708), unhex(t, "08 07 06 05 04 03 02 01"); !bytes.Equal(got, want) {
		t.Errorf("AppendFixed64 = % x, want % x", got, want)
	}
}

func TestAppendTag(t *testing.T) {
	tests := []struct {
		num  Number
		typ  Type
		want string
	}{
		{1, TypeVarint, "08"},
		{1, TypeI64, "09"},
		{1, TypeLen, "0a"},
		{1, TypeSGroup, "0b"},
		{1, TypeEGroup, "0c"},
		{1, TypeI32, "0d"},
		{15, TypeLen, "7a"},
		{16, TypeVarint, "80 01"},
		{19000, TypeVarint, "c0 a3 09"}, // 152000 = 0x40 + 0x23<<7 + 9<<14; reserved for protoc, but valid on the wire
		{MaxNumber, TypeI32, "fd ff ff ff 0f"},
	}
	for _, tt := range tests {
		want := unhex(t, tt.want)
		if got := AppendTag(nil, tt.num, tt.typ); !bytes.Equal(got, want) {
			t.Errorf("AppendTag(%d, %v) = % x, want % x", tt.num, tt.typ, got, want)
		}
		if n := SizeTag(tt.num); n != len(want) {
			t.Errorf("SizeTag(%d) = %d, want %d", tt.num, n, len(want))
		}
	}
}

func TestAppendTagPanicsOnProgrammingError(t *testing.T) {
	for _, c := range []struct {
		num Number
		typ Type
	}{{0, TypeVarint}, {-1, TypeVarint}, {MaxNumber + 1, TypeVarint}, {1, 6}, {1, 7}, {1, -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AppendTag(%d, %d) did not panic", c.num, c.typ)
				}
			}()
			AppendTag(nil, c.num, c.typ)
		}()
	}
}

func TestAppendBytes(t *testing.T) {
	if got, want := AppendString(nil, "testing"), unhex(t, "07 74 65 73 74 69 6e 67"); !bytes.Equal(got, want) {
		t.Errorf("AppendString = % x, want % x", got, want)
	}
	if got, want := AppendBytes(nil, nil), []byte{0}; !bytes.Equal(got, want) {
		t.Errorf("AppendBytes(nil) = % x, want % x", got, want)
	}
	long := bytes.Repeat([]byte{'x'}, 200)
	got := AppendBytes(nil, long)
	if !bytes.Equal(got[:2], []byte{0xc8, 0x01}) || !bytes.Equal(got[2:], long) {
		t.Errorf("AppendBytes(200 bytes) starts % x", got[:4])
	}
	for _, n := range []int{0, 127, 128, 16383, 16384} {
		if got, want := SizeBytes(n), len(AppendBytes(nil, make([]byte, n))); got != want {
			t.Errorf("SizeBytes(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestAppendScalarFields(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"bool true", AppendBoolField(nil, 3, true), "18 01"},
		{"bool false", AppendBoolField(nil, 3, false), ""},
		{"int32 150", AppendInt32Field(nil, 1, 150), "08 96 01"},
		{"int32 -1 is 10 bytes", AppendInt32Field(nil, 2, -1), "10 ff ff ff ff ff ff ff ff ff 01"},
		{"int32 min", AppendInt32Field(nil, 1, math.MinInt32), "08 80 80 80 80 f8 ff ff ff ff 01"},
		{"int32 0", AppendInt32Field(nil, 1, 0), ""},
		{"int64 min", AppendInt64Field(nil, 1, math.MinInt64), "08 80 80 80 80 80 80 80 80 80 01"},
		{"int64 0", AppendInt64Field(nil, 1, 0), ""},
		{"uint32 max", AppendUint32Field(nil, 1, math.MaxUint32), "08 ff ff ff ff 0f"},
		{"uint32 0", AppendUint32Field(nil, 1, 0), ""},
		{"uint64 max", AppendUint64Field(nil, 1, math.MaxUint64), "08 ff ff ff ff ff ff ff ff ff 01"},
		{"uint64 0", AppendUint64Field(nil, 1, 0), ""},
		{"sint32 -1", AppendSint32Field(nil, 4, -1), "20 01"},
		{"sint32 min", AppendSint32Field(nil, 4, math.MinInt32), "20 ff ff ff ff 0f"},
		{"sint32 0", AppendSint32Field(nil, 4, 0), ""},
		{"sint64 min", AppendSint64Field(nil, 1, math.MinInt64), "08 ff ff ff ff ff ff ff ff ff 01"},
		{"sint64 0", AppendSint64Field(nil, 1, 0), ""},
		{"fixed32 1", AppendFixed32Field(nil, 5, 1), "2d 01 00 00 00"},
		{"sfixed32 -1", AppendFixed32Field(nil, 5, math.MaxUint32), "2d ff ff ff ff"},
		{"fixed32 0", AppendFixed32Field(nil, 5, 0), ""},
		{"fixed64 1", AppendFixed64Field(nil, 6, 1), "31 01 00 00 00 00 00 00 00"},
		{"fixed64 0", AppendFixed64Field(nil, 6, 0), ""},
		{"float 1", AppendFloatField(nil, 7, 1), "3d 00 00 80 3f"},
		{"float -0 is written", AppendFloatField(nil, 7, float32(math.Copysign(0, -1))), "3d 00 00 00 80"},
		{"float +0", AppendFloatField(nil, 7, 0), ""},
		{"double 1", AppendDoubleField(nil, 8, 1), "41 00 00 00 00 00 00 f0 3f"},
		{"double NaN is written", AppendDoubleField(nil, 8, math.Float64frombits(0x7ff8000000000001)), "41 01 00 00 00 00 00 f8 7f"},
		{"double +0", AppendDoubleField(nil, 8, 0), ""},
		{"string", AppendStringField(nil, 2, "testing"), "12 07 74 65 73 74 69 6e 67"},
		{"string empty", AppendStringField(nil, 2, ""), ""},
		{"bytes", AppendBytesField(nil, 9, []byte{0}), "4a 01 00"},
		{"bytes empty", AppendBytesField(nil, 9, []byte{}), ""},
		{"bytes nil", AppendBytesField(nil, 9, nil), ""},
		{"big field number", AppendBoolField(nil, MaxNumber, true), "f8 ff ff ff 0f 01"},
	}
	for _, tt := range tests {
		want := unhex(t, tt.want)
		if !bytes.Equal(tt.got, want) {
			t.Errorf("%s: got % x, want % x", tt.name, tt.got, want)
		}
	}
}

// rawMessage is a Message whose encoding is itself.
type rawMessage []byte

func (m rawMessage) AppendWire(b []byte) ([]byte, error) { return append(b, m...), nil }
func (m *rawMessage) UnmarshalWire(b []byte) error       { *m = append((*m)[:0], b...); return nil }

var errBroken = errors.New("broken message")

// brokenMessage writes some bytes, then fails.
type brokenMessage struct{}

func (brokenMessage) AppendWire(b []byte) ([]byte, error) { return append(b, 1, 2, 3), errBroken }
func (brokenMessage) UnmarshalWire([]byte) error          { return errBroken }

func TestAppendMessageField(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 300, 16383, 16384, 70000} {
		body := make([]byte, n)
		for i := range body {
			body[i] = byte(i * 7)
		}
		m := rawMessage(body)
		for _, capacity := range []int{0, 3, n + 8} {
			prefix := make([]byte, 2, 2+capacity)
			prefix[0], prefix[1] = 0xaa, 0xbb
			got, err := AppendMessageField(prefix, 17, &m)
			if err != nil {
				t.Fatal(err)
			}
			want := AppendBytes(AppendTag([]byte{0xaa, 0xbb}, 17, TypeLen), body)
			if !bytes.Equal(got, want) {
				t.Errorf("AppendMessageField(%d-byte body, cap %d) differs from tag+AppendBytes (len %d vs %d)", n, capacity, len(got), len(want))
			}
		}
	}
}

func TestAppendMessageFieldError(t *testing.T) {
	b := []byte{0xaa}
	got, err := AppendMessageField(b, 1, brokenMessage{})
	if !errors.Is(err, errBroken) {
		t.Fatalf("err = %v, want errBroken", err)
	}
	if !bytes.Equal(got, []byte{0xaa}) {
		t.Errorf("on error got % x, want the original aa", got)
	}
}

func TestTypeString(t *testing.T) {
	for typ, want := range map[Type]string{TypeVarint: "VARINT", TypeI64: "I64", TypeLen: "LEN", TypeSGroup: "SGROUP", TypeEGroup: "EGROUP", TypeI32: "I32", 6: "Type(6)", -1: "Type(-1)"} {
		if got := typ.String(); got != want {
			t.Errorf("Type(%d).String() = %q, want %q", int(typ), got, want)
		}
	}
}

func TestNumberIsValid(t *testing.T) {
	for num, want := range map[Number]bool{0: false, -1: false, 1: true, 19000: true, 19999: true, MaxNumber: true, MaxNumber + 1: false} {
		if got := num.IsValid(); got != want {
			t.Errorf("Number(%d).IsValid() = %v, want %v", num, got, want)
		}
	}
}
