package wire_test

import (
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
