package rpc

import (
	"testing"
	"unsafe"
)

// A serverStream, allocated once per call, stays in the 320-byte size
// class: a field added to it that moves it up a class shows here.
func TestServerStreamSizeClass(t *testing.T) {
	size := unsafe.Sizeof(serverStream{})
	t.Logf("serverStream: %d bytes", size)
	if size > 320 {
		t.Errorf("serverStream: %d bytes, over the 320-byte size class", size)
	}
}
