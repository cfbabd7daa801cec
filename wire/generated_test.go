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
