package wire

// Message is a type that encodes and decodes itself in the protobuf wire
// format. Hand-written and generated message types implement it with pointer
// receivers, and the RPC codec marshals through it.
//
// AppendWire appends the encoding of the message to b and returns the
// extended buffer; it allocates only if b lacks capacity. With proto3
// semantics it writes nothing for fields holding their default value, so an
// empty message encodes to zero bytes. On error it returns b unchanged in
// length (its spare capacity may have been written). It must not modify the
// message.
//
// UnmarshalWire replaces the contents of the message with those decoded from
// b, as proto.Unmarshal does: fields absent from b are left at their default
// value, the last occurrence of a scalar field wins, and fields the type does
// not know are skipped (or kept, if the type keeps unknown fields). It must
// not retain b, or any slice of it, after it returns: the caller may reuse
// the buffer for the next message. It reports malformed input as an error
// wrapping one of this package's Err values, and never panics.
type Message interface {
	AppendWire(b []byte) ([]byte, error)
	UnmarshalWire(b []byte) error
}
