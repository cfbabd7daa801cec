// Command protoc-gen-go-h2rpc is a protoc plugin that generates h2rpc
// stubs for the services of .proto files: a client interface and its
// constructor, a server interface, an Unimplemented…Server struct to embed,
// a Register…Server function and the service descriptor, typed streams and
// method-name constants, in the shape protoc-gen-go-grpc gives grpc-go code.
// Messages come from protoc-gen-go, as for grpc-go, or, with
// messages=generate, from this plugin itself, on package wire, with no
// protobuf runtime.
//
// Install it with
//
//	go install github.com/h2rpc/h2rpc/protobuf/cmd/protoc-gen-go-h2rpc@latest
//
// and run it beside protoc-gen-go:
//
//	protoc --go_out=. --go_opt=paths=source_relative \
//	    --go-h2rpc_out=. --go-h2rpc_opt=paths=source_relative greeter.proto
//
// It writes greeter_h2rpc.pb.go next to greeter.pb.go. Parameters, besides
// protogen's own (paths, module, M…):
//
//	require_unimplemented_servers=false  server interfaces do not force the
//	                                     Unimplemented…Server embedding
//	messages=wire                        the messages implement wire.Message
//	                                     (hand-written); the stubs do not
//	                                     import the protobuf-go codec, and
//	                                     register the file's descriptor with
//	                                     github.com/h2rpc/h2rpc/reflection
//	messages=generate                    also write the message types, on
//	                                     package wire, in <name>_wire.pb.go
//	                                     (no protoc-gen-go needed); that of a
//	                                     file without services registers its
//	                                     descriptor, as stubs register theirs
//	import_path=example.com/x/stubs      stubs in that Go package, the
//	                                     messages imported from theirs
package main

import (
	"fmt"
	"os"

	gen "github.com/h2rpc/h2rpc/protobuf/cmd/protoc-gen-go-h2rpc/h2rpcgen"
	"google.golang.org/protobuf/compiler/protogen"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Println("protoc-gen-go-h2rpc", gen.Version)
		return
	}
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "protoc-gen-go-h2rpc is a protoc plugin: run it through protoc or buf (see go doc github.com/h2rpc/h2rpc/protobuf/cmd/protoc-gen-go-h2rpc)")
		os.Exit(2)
	}
	opts := gen.Options{RequireUnimplemented: true}
	protogen.Options{ParamFunc: opts.Set}.Run(opts.Run)
}
