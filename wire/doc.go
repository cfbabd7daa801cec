// Package wire reads and writes the protobuf binary wire format without
// depending on any protobuf library.
//
// A message is a sequence of fields. Each field starts with a tag, a varint
// holding the field number and the wire type (number<<3 | type); the wire type
// says how long the value is, so a reader can skip a field whose number it does
// not know. That is how an old reader keeps working when a new writer adds
// fields: fields are keyed by number, never by name.
//
// # Encoding
//
// Encoders are append-style: they append to a caller's buffer and return it,
// allocating only when it is out of capacity. AppendVarint, AppendTag,
// AppendZigZag, AppendFixed32, AppendFixed64, AppendBytes and AppendString
// write one item; SizeVarint, SizeTag and SizeBytes measure one beforehand.
//
// The Append…Field functions write a whole field, tag and value, for each
// scalar type (AppendInt32Field, AppendStringField, ...). They follow proto3's
// implicit presence: a field holding its type's default value (0, false, "",
// empty bytes, +0.0) is not written at all, and the reader restores the
// default from its absence. To write a default value anyway (proto3
// `optional` fields, oneof members, elements of an unpacked repeated field),
// write the tag and the value separately:
//
//	b = wire.AppendTag(b, 3, wire.TypeVarint)
//	b = wire.AppendVarint(b, 0)
//
// AppendMessageField writes an embedded message, which has explicit
// presence and so is written even when empty.
//
// # Decoding
//
// Decoders never panic, never read past the end of their input and allocate
// nothing but the error for malformed input (and the string Field.UTF8
// returns); the slices they return alias the input. The Consume functions parse one
// item at the start of a buffer and return it with the number of bytes it
// took, or a negative number on malformed input, which ParseError turns into
// one of the Err values. Range walks every field of a message, handing each
// to a callback as a Field, and reports malformed input as an error that
// names the field and its offset.
//
// # Messages
//
// Types that encode and decode themselves implement Message; the RPC codec
// is built on it.
//
// The format is specified at https://protobuf.dev/programming-guides/encoding/;
// docs/wire.md explains it and this API, and the tests in the interop module's
// wirecompat package check this package byte for byte against
// google.golang.org/protobuf.
package wire
