// Package messenger is the python-grpc lab's Learning Messenger on h2rpc:
// the stub code protoc-gen-go-h2rpc generates from messenger.proto
// (messenger_h2rpc.pb.go: LearningMessengerClient, LearningMessengerServer,
// RegisterLearningMessengerServer), a Server with
// the lab's server.py semantics and a Client printing what the lab's
// client.py prints. `h2rpc demo` runs both in one process; `h2rpc serve`
// serves the Server to any gRPC client.
//
// The stubs are regenerated, and checked for drift, by the golden test of
// the protobuf module (protobuf/internal/testpb): the messages are the
// hand-written wire.Message types of ./pb, so the generator runs with
// messages=wire and the stubs import nothing of protobuf-go.
package messenger
