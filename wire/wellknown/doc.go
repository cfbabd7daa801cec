// Package wellknown holds the well-known protobuf types that gRPC services
// use — Timestamp, Duration, Empty, the wrappers, Any, Struct/Value/ListValue
// and FieldMask — generated on package wire from their .proto files by
// protoc-gen-go-h2rpc (messages=generate), which refers .proto imports of
// these types here. The conversions a user expects are beside them:
// Timestamp ↔ time.Time, Duration ↔ time.Duration, Value ↔ Go values, Any
// packing a wire.Message, and a constructor per wrapper.
package wellknown
