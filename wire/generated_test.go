package wire_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/h2rpc/h2rpc/wire"
)

func TestFieldError(t *testing.T) {
	err := wire.FieldError("pkg.M", 7, wire.ErrInvalidUTF8)
	if !errors.Is(err, wire.ErrInvalidUTF8) {
		t.Errorf("%v does not wrap ErrInvalidUTF8", err)
	}
	if got, want := err.Error(), "pkg.M field 7: wire: string field contains invalid UTF-8"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	err = wire.MessageError("pkg.M", wire.ErrTruncated)
	if !errors.Is(err, wire.ErrTruncated) || err.Error() != "pkg.M: wire: truncated input" {
		t.Errorf("MessageError = %v", err)
	}
}

func TestFinishLen(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 300, 16383, 16384, 1 << 21} {
		value := make([]byte, n)
		for i := range value {
			value[i] = byte(i)
		}
		want := wire.AppendBytes([]byte{0xaa}, value)
		b := []byte{0xaa}
		at := len(b)
		b = append(b, 0)
		b = append(b, value...)
		if got := wire.FinishLen(b, at); !bytes.Equal(got, want) {
			t.Errorf("FinishLen of %d bytes differs from AppendBytes", n)
		}
	}
}

func TestFinishLenAllocs(t *testing.T) {
	buf := make([]byte, 0, 1024)
	value := make([]byte, 200)
	if n := testing.AllocsPerRun(100, func() {
		b := append(buf[:0], 0)
		b = append(b, value...)
		b = wire.FinishLen(b, 0)
		buf = b
	}); n != 0 {
		t.Errorf("FinishLen with spare capacity: %v allocs", n)
	}
}

func TestLenBytes(t *testing.T) {
	b := wire.AppendStringField(nil, 1, "hello")
	b = wire.AppendInt32Field(b, 2, 7)
	b = wire.AppendStringField(b, 3, "wörld")
	b = wire.AppendStringField(b, 70, "high")
	b = wire.AppendStringField(b, 1, "again")
	b = wire.AppendFixed64Field(b, 3, 9) // field 3, but not LEN
	b = wire.AppendTag(b, 4, wire.TypeSGroup)
	b = wire.AppendStringField(b, 1, "in a group")
	b = wire.AppendTag(b, 4, wire.TypeEGroup)
	for _, c := range []struct {
		fields uint64
		want   int
	}{
		{0, 0},
		{1 << 1, len("hello") + len("again")},
		{1<<1 | 1<<3, len("hello") + len("again") + len("wörld")},
		{1 << 2, 0},
		{1 << 63, 0},
	} {
		if got := wire.LenBytes(b, c.fields); got != c.want {
			t.Errorf("LenBytes(%b) = %d, want %d", c.fields, got, c.want)
		}
	}
	// Malformed input ends the count where it starts.
	if got := wire.LenBytes(append(wire.AppendStringField(nil, 1, "ok"), 0x0a, 9, 'x'), 1<<1); got != 2 {
		t.Errorf("LenBytes with a truncated field = %d, want 2", got)
	}
	if got := wire.LenBytes([]byte{0x80}, 1<<1); got != 0 {
		t.Errorf("LenBytes of a truncated tag = %d, want 0", got)
	}
}

// LenBytes counts what a walk with Range counts, on any input.
func FuzzLenBytes(f *testing.F) {
	b := wire.AppendStringField(nil, 1, "hello")
	b = wire.AppendInt32Field(b, 2, 7)
	b = wire.AppendStringField(b, 3, string(make([]byte, 200)))
	b = wire.AppendStringField(b, 40, "x")
	f.Add(b, uint64(1<<1|1<<3|1<<40))
	f.Add([]byte{0x02, 0x01, 0x00, 0x0a, 0x05}, uint64(1<<1))
	f.Fuzz(func(t *testing.T, b []byte, fields uint64) {
		fields &^= 1 // there is no field 0
		want := 0
		_ = wire.Range(b, func(f wire.Field) error {
			if f.Type == wire.TypeLen && f.Num < 64 && fields&(1<<f.Num) != 0 {
				want += len(f.Bytes)
			}
			return nil
		})
		if got := wire.LenBytes(b, fields); got != want {
			t.Errorf("LenBytes = %d, Range counts %d", got, want)
		}
	})
}

func TestLenBytesOverflow(t *testing.T) {
	// A 10-byte varint whose last byte overflows ends the walk, as in Range.
	b := append([]byte{0x08}, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02)
	b = wire.AppendStringField(b, 1, "after")
	if got := wire.LenBytes(b, 1<<1); got != 0 {
		t.Errorf("LenBytes after an overflowing varint = %d, want 0", got)
	}
}
