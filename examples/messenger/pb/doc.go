// Package pb holds the message types of the Learning Messenger
// (../messenger.proto), generated on package wire by protoc-gen-go-h2rpc
// with messages=generate (make generate; the golden tests fail on drift).
// They implement wire.Message with protobuf-go's semantics:
//
//   - AppendWire writes fields in field-number order and leaves out those
//     holding their default value ("", 0, false), so the zero value encodes
//     to no bytes at all. A string that is not valid UTF-8 is an error, as
//     protobuf-go refuses to marshal one.
//   - UnmarshalWire resets the message, then decodes: the last occurrence of
//     a field wins; fields it does not know, and known numbers arriving with
//     another wire type, are kept and written back after the known ones; a
//     string that is not valid UTF-8 is an error. On any error the message is
//     left at its zero value. It copies what it keeps, so the caller may
//     reuse b.
//
// The interop module's wirecompat tests check these encodings byte for byte
// against protobuf-go messages built from the same .proto fields.
package pb
