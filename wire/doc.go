// Package wire reads and writes the protobuf binary wire format without
// depending on any protobuf library.
//
// A message is a sequence of fields. Each field starts with a tag, a varint
// holding the field number and the wire type (number<<3 | type); the wire type
// says how long the value is, so a reader can skip a field whose number it does
// not know. That is how an old reader keeps working when a new writer adds
// fields: fields are keyed by number, never by name.
//
// Encoders are append-style (AppendVarint, AppendTag, AppendStringField, ...):
// they append to a caller's buffer and allocate only when it is out of
// capacity. Decoders never allocate: the Consume functions return a value and
// the number of bytes read (negative on malformed input, see ParseError), and
// Range walks every field of a message, handing each to a callback as a Field
// whose byte slices alias the input.
//
// Types that encode and decode themselves implement Message; the RPC codec is
// built on it.
//
// The format is specified at https://protobuf.dev/programming-guides/encoding/;
// the tests in the interop module's wirecompat package check this package
// byte for byte against google.golang.org/protobuf.
package wire
