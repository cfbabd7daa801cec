package wire

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestConsumeVarint(t *testing.T) {
	for _, tt := range varintTests {
		in := append(unhex(t, tt.want), 0xff) // a trailing byte that must not be read
		v, n := ConsumeVarint(in)
		if v != tt.v || n != len(in)-1 {
			t.Errorf("ConsumeVarint(% x) = %d, %d; want %d, %d", in, v, n, tt.v, len(in)-1)
		}
	}
	tests := []struct {
		in      string
		v       uint64
		n       int
		wantErr error
	}{
		{"80 00", 0, 2, nil},                          // non-minimal: accepted, as protobuf does
		{"80 80 80 80 80 80 80 80 80 00", 0, 10, nil}, // longest non-minimal zero
		{"ff ff ff ff ff ff ff ff ff 01", math.MaxUint64, 10, nil},
		{"", 0, 0, ErrTruncated},
		{"80", 0, 0, ErrTruncated},
		{"ff ff ff ff ff ff ff ff ff", 0, 0, ErrTruncated},
		{"ff ff ff ff ff ff ff ff ff 02", 0, 0, ErrOverflow}, // bit 64
		{"80 80 80 80 80 80 80 80 80 80", 0, 0, ErrOverflow}, // an 11th byte would follow
		{"80 80 80 80 80 80 80 80 80 80 01", 0, 0, ErrOverflow},
	}
	for _, tt := range tests {
		v, n := ConsumeVarint(unhex(t, tt.in))
		if tt.wantErr != nil {
			if err := ParseError(n); !errors.Is(err, tt.wantErr) || v != 0 {
				t.Errorf("ConsumeVarint(%s) = %d, %d (%v); want error %v", tt.in, v, n, err, tt.wantErr)
			}
			continue
		}
		if v != tt.v || n != tt.n {
			t.Errorf("ConsumeVarint(%s) = %d, %d; want %d, %d", tt.in, v, n, tt.v, tt.n)
		}
	}
}

func TestConsumeTag(t *testing.T) {
	tests := []struct {
		in      string
		num     Number
		typ     Type
		wantErr error
	}{
		{"08", 1, TypeVarint, nil},
		{"0d", 1, TypeI32, nil},
		{"80 01", 16, TypeVarint, nil},
		{"fd ff ff ff 0f", MaxNumber, TypeI32, nil},
		{"00", 0, 0, ErrFieldNumber},                // field number 0
		{"02", 0, 0, ErrFieldNumber},                // field number 0, LEN
		{"80 80 80 80 10", 0, 0, ErrFieldNumber},    // 1<<29: one past MaxNumber
		{"f8 ff ff ff ff 0f", 0, 0, ErrFieldNumber}, // 1<<32 - 1 as a number
		{"0e", 0, 0, ErrWireType},                   // wire type 6
		{"0f", 0, 0, ErrWireType},                   // wire type 7
		{"", 0, 0, ErrTruncated},
		{"88", 0, 0, ErrTruncated},
	}
	for _, tt := range tests {
		num, typ, n := ConsumeTag(unhex(t, tt.in))
		if tt.wantErr != nil {
			if err := ParseError(n); !errors.Is(err, tt.wantErr) {
				t.Errorf("ConsumeTag(%s) = %d, %v, %d; want error %v", tt.in, num, typ, n, tt.wantErr)
			}
			continue
		}
		if num != tt.num || typ != tt.typ || n != len(unhex(t, tt.in)) {
			t.Errorf("ConsumeTag(%s) = %d, %v, %d; want %d, %v", tt.in, num, typ, n, tt.num, tt.typ)
		}
	}
}

func TestConsumeFixedAndBytes(t *testing.T) {
	if v, n := ConsumeFixed32(unhex(t, "04 03 02 01 ff")); v != 0x01020304 || n != 4 {
		t.Errorf("ConsumeFixed32 = %#x, %d", v, n)
	}
	if v, n := ConsumeFixed64(unhex(t, "08 07 06 05 04 03 02 01 ff")); v != 0x0102030405060708 || n != 8 {
		t.Errorf("ConsumeFixed64 = %#x, %d", v, n)
	}
	if v, n := ConsumeBytes(unhex(t, "02 61 62 63")); string(v) != "ab" || n != 3 {
		t.Errorf("ConsumeBytes = %q, %d", v, n)
	}
	if v, n := ConsumeBytes(unhex(t, "00")); len(v) != 0 || n != 1 {
		t.Errorf("ConsumeBytes(empty) = %q, %d", v, n)
	}
	for _, in := range []string{
		"03 61 62",                      // length past the end
		"ff ff ff ff ff ff ff ff ff 01", // length 2^64-1: must not wrap when converted to int
		"ff ff ff ff ff ff ff 7f",       // length 2^56-1
		"80",                            // truncated length
	} {
		if _, n := ConsumeBytes(unhex(t, in)); !errors.Is(ParseError(n), ErrTruncated) {
			t.Errorf("ConsumeBytes(%s) n = %d, want ErrTruncated", in, n)
		}
	}
}

func TestConsumeGroup(t *testing.T) {
	// Group 1 holding field 2 = 1 and a nested group 3 holding field 4 = "x".
	body := unhex(t, "10 01 1b 22 01 78 1c")
	in := append(append([]byte{}, body...), 0x0c, 0xff)
	got, n := ConsumeGroup(1, in)
	if !bytes.Equal(got, body) || n != len(body)+1 {
		t.Errorf("ConsumeGroup = % x, %d; want % x, %d", got, n, body, len(body)+1)
	}
	if n := ConsumeFieldValue(1, TypeSGroup, in); n != len(body)+1 {
		t.Errorf("ConsumeFieldValue(group) = %d, want %d", n, len(body)+1)
	}
	// A non-minimal end-group tag: the body still excludes it.
	got, n = ConsumeGroup(1, unhex(t, "10 01 8c 80 00"))
	if !bytes.Equal(got, []byte{0x10, 0x01}) || n != 5 {
		t.Errorf("ConsumeGroup(non-minimal end) = % x, %d", got, n)
	}
	for _, tt := range []struct {
		in      string
		wantErr error
	}{
		{"10 01 14", ErrEndGroup},    // ends group 2, not 1
		{"1b 10 01 0c", ErrEndGroup}, // inner group 3 closed by 1's end tag
		{"10 01", ErrTruncated},      // never ends
		{"", ErrTruncated},
		{"16", ErrWireType}, // field 2, wire type 6
		{"00", ErrFieldNumber},
	} {
		if _, n := ConsumeGroup(1, unhex(t, tt.in)); !errors.Is(ParseError(n), tt.wantErr) {
			t.Errorf("ConsumeGroup(1, %s) = %d (%v), want %v", tt.in, n, ParseError(n), tt.wantErr)
		}
	}
}

// nestedGroups returns depth groups of field 1 nested in one another.
func nestedGroups(depth int) []byte {
	b := bytes.Repeat([]byte{0x0b}, depth)
	return append(b, bytes.Repeat([]byte{0x0c}, depth)...)
}

func TestGroupDepthLimit(t *testing.T) {
	ok := nestedGroups(MaxGroupDepth)
	if err := Range(ok, func(Field) error { return nil }); err != nil {
		t.Errorf("Range over %d nested groups: %v", MaxGroupDepth, err)
	}
	if n := ConsumeFieldValue(1, TypeSGroup, ok[1:]); n != len(ok)-1 {
		t.Errorf("ConsumeFieldValue over %d nested groups = %d, want %d", MaxGroupDepth, n, len(ok)-1)
	}
	deep := nestedGroups(MaxGroupDepth + 1)
	if err := Range(deep, func(Field) error { return nil }); !errors.Is(err, ErrDepth) {
		t.Errorf("Range over %d nested groups: %v, want ErrDepth", MaxGroupDepth+1, err)
	}
	if n := ConsumeFieldValue(1, TypeSGroup, deep[1:]); !errors.Is(ParseError(n), ErrDepth) {
		t.Errorf("ConsumeFieldValue over %d nested groups = %d, want ErrDepth", MaxGroupDepth+1, n)
	}
	// A million unterminated starts fail fast at the limit instead of
	// recursing a million deep.
	if err := Range(bytes.Repeat([]byte{0x0b}, 1<<20), func(Field) error { return nil }); !errors.Is(err, ErrDepth) {
		t.Errorf("Range over 2^20 group starts: %v, want ErrDepth", err)
	}
}

func TestConsumeFieldValue(t *testing.T) {
	for _, tt := range []struct {
		typ  Type
		in   string
		want int
	}{
		{TypeVarint, "96 01 ff", 2},
		{TypeI32, "01 02 03 04 ff", 4},
		{TypeI64, "01 02 03 04 05 06 07 08 ff", 8},
		{TypeLen, "02 61 62 ff", 3},
		{TypeSGroup, "0c ff", 1},
		{TypeEGroup, "", errCodeEndGroup},
		{6, "00", errCodeWireType},
		{TypeI32, "01 02 03", errCodeTruncated},
		{TypeI64, "01 02 03 04 05 06 07", errCodeTruncated},
	} {
		if n := ConsumeFieldValue(1, tt.typ, unhex(t, tt.in)); n != tt.want {
			t.Errorf("ConsumeFieldValue(1, %v, %s) = %d, want %d", tt.typ, tt.in, n, tt.want)
		}
	}
}

func TestParseError(t *testing.T) {
	if err := ParseError(0); err != nil {
		t.Errorf("ParseError(0) = %v", err)
	}
	if err := ParseError(5); err != nil {
		t.Errorf("ParseError(5) = %v", err)
	}
	for n, want := range map[int]error{
		errCodeTruncated: ErrTruncated, errCodeOverflow: ErrOverflow, errCodeFieldNumber: ErrFieldNumber,
		errCodeWireType: ErrWireType, errCodeEndGroup: ErrEndGroup, errCodeDepth: ErrDepth,
	} {
		if err := ParseError(n); err != want {
			t.Errorf("ParseError(%d) = %v, want %v", n, err, want)
		}
	}
	if err := ParseError(-100); err == nil || !strings.Contains(err.Error(), "-100") {
		t.Errorf("ParseError(-100) = %v", err)
	}
}

// everyType is a message with one field of each wire type, built by our
// encoders: fields 1 (VARINT), 2 (I64), 3 (LEN), 4 (group holding 5 = 7),
// 6 (I32), then field 1 again.
func everyType(t testing.TB) []byte {
	var b []byte
	b = AppendInt32Field(b, 1, -2)
	b = AppendDoubleField(b, 2, 1.5)
	b = AppendStringField(b, 3, "héllo")
	b = AppendTag(b, 4, TypeSGroup)
	b = AppendUint32Field(b, 5, 7)
	b = AppendTag(b, 4, TypeEGroup)
	b = AppendFloatField(b, 6, -0.25)
	b = AppendInt32Field(b, 1, 3)
	return b
}

func collect(t testing.TB, b []byte) ([]Field, error) {
	t.Helper()
	var fields []Field
	err := Range(b, func(f Field) error {
		fields = append(fields, f)
		return nil
	})
	return fields, err
}

func TestRangeEveryType(t *testing.T) {
	b := everyType(t)
	fields, err := collect(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != 6 {
		t.Fatalf("got %d fields, want 6", len(fields))
	}
	check := func(i int, num Number, typ Type) Field {
		t.Helper()
		f := fields[i]
		if !f.Is(num, typ) {
			t.Errorf("field %d is %d %v, want %d %v", i, f.Num, f.Type, num, typ)
		}
		return f
	}
	if f := check(0, 1, TypeVarint); f.Int32() != -2 || f.Int64() != -2 {
		t.Errorf("int32 field = %d (int64 %d), want -2", f.Int32(), f.Int64())
	}
	if f := check(1, 2, TypeI64); f.Double() != 1.5 {
		t.Errorf("double field = %v", f.Double())
	}
	if f := check(2, 3, TypeLen); string(f.Bytes) != "héllo" {
		t.Errorf("string field = %q", f.Bytes)
	} else if s, err := f.UTF8(); s != "héllo" || err != nil {
		t.Errorf("UTF8() = %q, %v", s, err)
	}
	f := check(3, 4, TypeSGroup)
	if want := AppendUint32Field(nil, 5, 7); !bytes.Equal(f.Bytes, want) {
		t.Errorf("group body = % x, want % x", f.Bytes, want)
	}
	if f := check(4, 6, TypeI32); f.Float() != -0.25 {
		t.Errorf("float field = %v", f.Float())
	}
	if f := check(5, 1, TypeVarint); f.Int32() != 3 {
		t.Errorf("second int32 field = %d", f.Int32())
	}
	// The Raw slices tile the input exactly.
	var joined []byte
	for _, f := range fields {
		joined = append(joined, f.Raw...)
	}
	if !bytes.Equal(joined, b) {
		t.Errorf("Raw slices joined = % x, want % x", joined, b)
	}
}

func TestFieldInterpretations(t *testing.T) {
	v := func(bits uint64) Field { return Field{Num: 1, Type: TypeVarint, Bits: bits} }
	if got := v(math.MaxUint64).Int32(); got != -1 {
		t.Errorf("10-byte -1 as int32 = %d", got)
	}
	if got := v(0x1_0000_0005).Int32(); got != 5 {
		t.Errorf("int32 keeps the low 32 bits: got %d", got)
	}
	if got := v(0x1_0000_0005).Uint32(); got != 5 {
		t.Errorf("uint32 keeps the low 32 bits: got %d", got)
	}
	if got := v(3).Sint32(); got != -2 {
		t.Errorf("sint32 3 = %d, want -2", got)
	}
	if got := v(0x1_0000_0003).Sint32(); got != -2 {
		t.Errorf("sint32 ignores bits above 32: got %d", got)
	}
	if got := v(math.MaxUint64).Sint64(); got != math.MinInt64 {
		t.Errorf("sint64 max = %d", got)
	}
	if !v(2).Bool() || v(0).Bool() {
		t.Error("Bool: nonzero must be true, zero false")
	}
	bad := Field{Num: 7, Type: TypeLen, Bytes: []byte{'a', 0xff}}
	if _, err := bad.UTF8(); !errors.Is(err, ErrInvalidUTF8) || !strings.Contains(err.Error(), "field 7") {
		t.Errorf("UTF8 of invalid bytes: %v", err)
	}
	if err := CheckUTF8(9, "a\xffb"); !errors.Is(err, ErrInvalidUTF8) || !strings.Contains(err.Error(), "field 9") {
		t.Errorf("CheckUTF8 invalid: %v", err)
	}
	if err := CheckUTF8(9, "ok ✓"); err != nil {
		t.Errorf("CheckUTF8 valid: %v", err)
	}
}

// TestRangeSkipsUnknownFields is the rule of scene 03: a reader that knows
// fields 1 and 2 decodes a newer writer's message, skipping everything else.
func TestRangeSkipsUnknownFields(t *testing.T) {
	var b []byte
	b = AppendStringField(b, 1, "alice")
	b = AppendBytesField(b, 3, bytes.Repeat([]byte{0x0b}, 300)) // looks like group starts; it is data
	b = AppendFixed32Field(b, 4, 0xdeadbeef)
	b = AppendFixed64Field(b, 5, 1)
	b = AppendTag(b, 6, TypeSGroup)
	b = AppendStringField(b, 1, "not the outer field 1")
	b = AppendTag(b, 7, TypeSGroup)
	b = AppendTag(b, 7, TypeEGroup)
	b = AppendTag(b, 6, TypeEGroup)
	b = AppendBoolField(b, 2, true)
	b = AppendInt64Field(b, 8, -1)
	b = AppendTag(b, 1, TypeVarint) // field 1 with the wrong wire type: also skipped
	b = AppendVarint(b, 5)

	var name string
	var active bool
	var skipped []Number
	err := Range(b, func(f Field) error {
		switch {
		case f.Is(1, TypeLen):
			name = string(f.Bytes)
		case f.Is(2, TypeVarint):
			active = f.Bool()
		default:
			skipped = append(skipped, f.Num)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if name != "alice" || !active {
		t.Errorf("decoded name %q, active %v; want alice, true", name, active)
	}
	if want := []Number{3, 4, 5, 6, 8, 1}; !equalNumbers(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
}

func equalNumbers(a, b []Number) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRangeStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := Range(everyType(t), func(Field) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Errorf("Range returned %v, want the callback's error unchanged", err)
	}
	if calls != 2 {
		t.Errorf("callback ran %d times after returning an error at the 2nd", calls)
	}
}

func TestRangeMalformed(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  error
		wantMsg  string
	}{
		{"field number 0", "00 01", ErrFieldNumber, "tag at offset 0"},
		{"wire type 6 after a good field", "08 01 0e", ErrWireType, "tag at offset 2"},
		{"wire type 7", "0f 00", ErrWireType, "offset 0"},
		{"lone end group", "08 01 0c", ErrEndGroup, "field 1 (EGROUP) at offset 2"},
		{"mismatched end group", "0b 14", ErrEndGroup, "field 1 (SGROUP) at offset 0"},
		{"length past end", "0a 05 61", ErrTruncated, "field 1 (LEN) at offset 0"},
		{"truncated varint value", "08 80", ErrTruncated, "field 1 (VARINT)"},
		{"11-byte varint", "08 80 80 80 80 80 80 80 80 80 80 01", ErrOverflow, "field 1 (VARINT)"},
		{"varint overflowing 64 bits", "08 ff ff ff ff ff ff ff ff ff 7f", ErrOverflow, "field 1"},
		{"truncated fixed32", "0d 01 02", ErrTruncated, "field 1 (I32)"},
		{"truncated fixed64", "09 01 02 03 04 05 06 07", ErrTruncated, "field 1 (I64)"},
		{"truncated tag", "80", ErrTruncated, "tag at offset 0"},
		{"field number too big", "80 80 80 80 10 00", ErrFieldNumber, "tag"},
	}
	for _, tt := range tests {
		err := Range(unhex(t, tt.in), func(Field) error { return nil })
		if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("%s: Range(%s) = %v; want %v mentioning %q", tt.name, tt.in, err, tt.wantErr, tt.wantMsg)
		}
	}
}

// TestRangeEveryTruncatedPrefix cuts a message at every byte: a cut at a
// field boundary is a shorter valid message, and every other cut fails with
// ErrTruncated, after passing on exactly the whole fields before it.
func TestRangeEveryTruncatedPrefix(t *testing.T) {
	msgs := map[string][]byte{"every type": everyType(t)}
	var long []byte
	long = AppendBytesField(long, 1, make([]byte, 200))
	long = AppendUint64Field(long, 2, math.MaxUint64)
	long = AppendTag(long, 3, TypeSGroup)
	long = AppendTag(long, 4, TypeSGroup)
	long = AppendFixed64Field(long, 5, 1)
	long = AppendTag(long, 4, TypeEGroup)
	long = AppendTag(long, 3, TypeEGroup)
	msgs["long"] = long

	for name, b := range msgs {
		full, err := collect(t, b)
		if err != nil {
			t.Fatal(err)
		}
		var ends []int // offset just past each field
		off := 0
		for _, f := range full {
			off += len(f.Raw)
			ends = append(ends, off)
		}
		for cut := 0; cut < len(b); cut++ {
			got, err := collect(t, b[:cut:cut])
			whole, atBoundary := 0, cut == 0
			for _, end := range ends {
				if end <= cut {
					whole++
					atBoundary = end == cut
				}
			}
			switch {
			case atBoundary && err != nil:
				t.Errorf("%s cut at %d (a field boundary): %v", name, cut, err)
			case !atBoundary && !errors.Is(err, ErrTruncated):
				t.Errorf("%s cut at %d: err = %v, want ErrTruncated", name, cut, err)
			}
			if len(got) != whole {
				t.Errorf("%s cut at %d: %d fields passed, want %d", name, cut, len(got), whole)
			}
			for i := range got {
				if !bytes.Equal(got[i].Raw, full[i].Raw) {
					t.Errorf("%s cut at %d: field %d differs", name, cut, i)
				}
			}
		}
	}
}

// TestConsumeEveryTruncatedPrefix: each Consume function fails cleanly on
// every proper prefix of a valid encoding.
func TestConsumeEveryTruncatedPrefix(t *testing.T) {
	type consumer struct {
		in      []byte
		consume func([]byte) int
	}
	group := append(everyType(t), 0x0c) // the body of a group 1, then its end tag
	consumers := map[string]consumer{
		"varint":  {AppendVarint(nil, math.MaxUint64), func(b []byte) int { _, n := ConsumeVarint(b); return n }},
		"tag":     {AppendTag(nil, MaxNumber, TypeLen), func(b []byte) int { _, _, n := ConsumeTag(b); return n }},
		"fixed32": {AppendFixed32(nil, 1), func(b []byte) int { _, n := ConsumeFixed32(b); return n }},
		"fixed64": {AppendFixed64(nil, 1), func(b []byte) int { _, n := ConsumeFixed64(b); return n }},
		"bytes":   {AppendBytes(nil, make([]byte, 130)), func(b []byte) int { _, n := ConsumeBytes(b); return n }},
		"group":   {group, func(b []byte) int { _, n := ConsumeGroup(1, b); return n }},
	}
	for name, c := range consumers {
		if n := c.consume(c.in); n != len(c.in) {
			t.Errorf("%s: whole encoding consumed %d of %d bytes", name, n, len(c.in))
		}
		for cut := 0; cut < len(c.in); cut++ {
			if n := c.consume(c.in[:cut:cut]); !errors.Is(ParseError(n), ErrTruncated) {
				t.Errorf("%s cut at %d: n = %d, want ErrTruncated", name, cut, n)
			}
		}
	}
}

func TestSlicesCannotOverwriteTheInput(t *testing.T) {
	b := everyType(t)
	orig := bytes.Clone(b)
	err := Range(b, func(f Field) error {
		_ = append(f.Raw, 0xaa)
		_ = append(f.Bytes, 0xbb)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ConsumeBytes(append(AppendBytes(nil, []byte("ab")), 0xcc))
	if cap(v) != len(v) {
		t.Errorf("ConsumeBytes: cap %d, len %d", cap(v), len(v))
	}
	if !bytes.Equal(b, orig) {
		t.Errorf("appending to Field slices changed the input:\n got % x\nwant % x", b, orig)
	}
}
