package conn

import (
	"testing"
	"unsafe"
)

// A stream is one allocation: a client stream falls in the 640-byte size
// class, a server stream with its context in the 896-byte one (the sizes
// of the runtime's classes; a unary call allocates one of each). A field
// added to Stream that moves them up a class shows here.
func TestStreamSizeClasses(t *testing.T) {
	for _, tc := range []struct {
		what      string
		size, max uintptr
	}{
		{"client stream", unsafe.Sizeof(clientStreamMem{}), 640},
		{"server stream", unsafe.Sizeof(serverStreamMem{}), 896},
	} {
		t.Logf("%s: %d bytes", tc.what, tc.size)
		if tc.size > tc.max {
			t.Errorf("%s: %d bytes, over the %d-byte size class", tc.what, tc.size, tc.max)
		}
	}
}
