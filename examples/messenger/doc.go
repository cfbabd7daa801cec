// Package messenger is the python-grpc lab's Learning Messenger on h2rpc:
// the stub code of messenger.proto (LearningMessengerClient,
// LearningMessengerServer, RegisterLearningMessengerServer), a Server with
// the lab's server.py semantics and a Client printing what the lab's
// client.py prints. `h2rpc demo` runs both in one process; `h2rpc serve`
// serves the Server to any gRPC client.
package messenger
