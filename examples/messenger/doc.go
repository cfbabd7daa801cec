// Package messenger is the Learning Messenger, a small example service with
// one method per call shape, on h2rpc: the stub code protoc-gen-go-h2rpc
// generates from messenger.proto (messenger_h2rpc.pb.go:
// LearningMessengerClient, LearningMessengerServer,
// RegisterLearningMessengerServer), a Server and a Client that prints one
// line per message it sends and receives. `h2rpc demo` runs both in one process; `h2rpc serve`
// serves the Server to any gRPC client.
//
// The stubs are regenerated, and checked for drift, by the golden test of
// the protobuf module (protobuf/internal/testpb): the messages of ./pb are
// generated on package wire too (messages=generate), so neither the stubs
// nor the messages import anything of protobuf-go.
package messenger
