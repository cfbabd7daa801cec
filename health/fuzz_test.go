package health

import (
	"testing"

	"github.com/h2rpc/h2rpc/wire"
)

// FuzzRequest: any request bytes decode or fail cleanly; what decodes is a
// well-formed message; and a service name written decodes back.
func FuzzRequest(f *testing.F) {
	f.Add([]byte{}, "pkg.Svc")
	f.Add([]byte{0x0a, 0x05, 'a'}, "")
	f.Add([]byte{0x08, 0x96, 0x01, 0x0a, 0x01, 'x'}, "x")
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		_, err := decodeRequest(b)
		if err == nil && decodeEmpty(b) != nil {
			t.Fatal("a request that decodes is not a well-formed message")
		}
		// Unknown fields before the service are skipped.
		req := wire.AppendInt64Field(nil, 2, 150)
		req = wire.AppendStringField(req, 1, name)
		if got, err := decodeRequest(req); err != nil || got != name {
			t.Fatalf("decodeRequest(%x) = %q, %v; want %q", req, got, err, name)
		}
	})
}
