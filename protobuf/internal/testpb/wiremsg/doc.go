// Package wiremsg holds the compatibility tests and differential fuzzers of
// the messages protoc-gen-go-h2rpc generates on package wire
// (messages=generate): ./p3 and ./p2 are generated from
// ../proto/wiremsg/*.proto, ./p3go and ./p2go are protobuf-go's messages
// from the same files.
package wiremsg
