// Package wirecompat holds tests only: they check package wire, and the
// messenger example's message types built on it, byte for byte against
// google.golang.org/protobuf. Run them with
//
//	cd interop && go test -race ./wirecompat/
package wirecompat
