package testpb_test

import (
	"flag"
	"testing"

	"github.com/h2rpc/h2rpc/protobuf/internal/gentest"
	grpctesting "google.golang.org/grpc/interop/grpc_testing"
)

var update = flag.Bool("update", false, "write the generated files instead of comparing them")

const module = "github.com/h2rpc/h2rpc/protobuf/internal/testpb"

// run is one generation: files compiled from dir, one plugin with one
// parameter, output compared with the tree under out.
type run struct {
	name   string
	dir    string
	files  []string
	plugin gentest.Plugin
	param  string
	out    string
}

var runs = []run{
	{"messages", "proto", []string{"editions/editions.proto", "shapes/shapes.proto", "nogo/nogo.proto", "collide/a/v1/a.proto", "collide/b/v1/b.proto", "collide/rpc/rpc.proto", "interop/interop.proto"},
		gentest.Go, "module=" + module + ",Mnogo/nogo.proto=" + module + "/nogo", "."},
	{"h2rpc", "proto", []string{"editions/editions.proto", "shapes/shapes.proto", "nogo/nogo.proto", "collide/rpc/rpc.proto"},
		gentest.H2RPC, "module=" + module + ",Mnogo/nogo.proto=" + module + "/nogo", "."},
	// Without the required embedding, into a package of its own.
	{"h2rpc-optional-embedding", "proto", []string{"shapes/shapes.proto"},
		gentest.H2RPC, "module=" + module + ",require_unimplemented_servers=false,import_path=" + module + "/shapes/shapesnoembed", "."},
	{"h2rpc-interop", "proto", []string{"interop/interop.proto"},
		gentest.H2RPC, "module=" + module + ",import_path=" + module + "/interoppb/interoph2", "."},
	{"grpc-interop", "proto", []string{"interop/interop.proto"},
		gentest.GoGRPC, "module=" + module, "."},
	// Messages on package wire (messages=generate), and protobuf-go's
	// messages from the same files, which the compatibility tests and
	// fuzzers of ./wiremsg compare them with.
	{"wiremsg-generate", "proto", []string{"wiremsg/proto3.proto", "wiremsg/proto2.proto"},
		gentest.H2RPC, "module=" + module + ",messages=generate", "."},
	{"wiremsg-protobufgo", "proto", []string{"wiremsg/proto3.proto", "wiremsg/proto2.proto"},
		gentest.Go, "module=" + module + ",Mwiremsg/proto3.proto=" + module + "/wiremsg/p3go;p3go,Mwiremsg/proto2.proto=" + module + "/wiremsg/p2go;p2go", "."},
	// The well-known types gRPC services use, on package wire.
	{"wellknown-wire", "proto", []string{"google/protobuf/any.proto", "google/protobuf/duration.proto", "google/protobuf/empty.proto",
		"google/protobuf/field_mask.proto", "google/protobuf/struct.proto", "google/protobuf/timestamp.proto", "google/protobuf/wrappers.proto"},
		gentest.H2RPC, "module=github.com/h2rpc/h2rpc,messages=generate" + wellKnownM, "../../.."},
	// The hello-world servers whose binaries the size test compares: h2rpc
	// with wire messages, grpc-go with protobuf-go's.
	{"helloworld-wire", "../../../bench/helloworld/proto", []string{"helloworld.proto"},
		gentest.H2RPC, "module=github.com/h2rpc/h2rpc/bench/helloworld,messages=generate", "../../../bench/helloworld"},
	{"helloworld-grpcgo-messages", "../../../bench/helloworld/proto", []string{"helloworld.proto"},
		gentest.Go, "module=github.com/h2rpc/h2rpc/bench/helloworld,Mhelloworld.proto=github.com/h2rpc/h2rpc/bench/helloworld/grpcpb;grpcpb", "../../../bench/helloworld"},
	{"helloworld-grpcgo-stubs", "../../../bench/helloworld/proto", []string{"helloworld.proto"},
		gentest.GoGRPC, "module=github.com/h2rpc/h2rpc/bench/helloworld,Mhelloworld.proto=github.com/h2rpc/h2rpc/bench/helloworld/grpcpb;grpcpb", "../../../bench/helloworld"},
	// The codec benchmarks' messages: generated on wire, and protobuf-go's
	// with vtprotobuf's methods.
	{"bench-wire", "../../../bench/benchpb/proto", []string{"bench.proto"},
		gentest.H2RPC, "module=github.com/h2rpc/h2rpc/bench/benchpb,messages=generate", "../../../bench/benchpb"},
	{"bench-protobufgo", "../../../bench/benchpb/proto", []string{"bench.proto"},
		gentest.Go, "module=github.com/h2rpc/h2rpc/bench/benchpb,Mbench.proto=github.com/h2rpc/h2rpc/bench/benchpb/gopb;gopb", "../../../bench/benchpb"},
	{"bench-vtproto", "../../../bench/benchpb/proto", []string{"bench.proto"},
		gentest.VTProto, "module=github.com/h2rpc/h2rpc/bench/benchpb,Mbench.proto=github.com/h2rpc/h2rpc/bench/benchpb/gopb;gopb,features=marshal+unmarshal+size+equal+clone", "../../../bench/benchpb"},
	// The example of the core module: hand-written wire.Message types in
	// ./pb, stubs one package up.
	{"messenger", "../../../examples/messenger", []string{"messenger.proto"},
		gentest.H2RPC, "module=github.com/h2rpc/h2rpc,Mmessenger.proto=github.com/h2rpc/h2rpc/examples/messenger/pb;pb," +
			"messages=generate,import_path=github.com/h2rpc/h2rpc/examples/messenger", "../../.."},
	// The route guide example, for grpc-go and for h2rpc.
	{"routeguide-grpcgo-messages", "../../examples/routeguide", []string{"routeguide.proto"},
		gentest.Go, "module=github.com/h2rpc/h2rpc/protobuf/examples/routeguide,Mrouteguide.proto=github.com/h2rpc/h2rpc/protobuf/examples/routeguide/grpcgo/pb", "../../examples/routeguide"},
	{"routeguide-grpcgo-stubs", "../../examples/routeguide", []string{"routeguide.proto"},
		gentest.GoGRPC, "module=github.com/h2rpc/h2rpc/protobuf/examples/routeguide,Mrouteguide.proto=github.com/h2rpc/h2rpc/protobuf/examples/routeguide/grpcgo/pb", "../../examples/routeguide"},
	{"routeguide-h2rpc-messages", "../../examples/routeguide", []string{"routeguide.proto"},
		gentest.Go, "module=github.com/h2rpc/h2rpc/protobuf/examples/routeguide,Mrouteguide.proto=github.com/h2rpc/h2rpc/protobuf/examples/routeguide/h2rpc/pb", "../../examples/routeguide"},
	{"routeguide-h2rpc-stubs", "../../examples/routeguide", []string{"routeguide.proto"},
		gentest.H2RPC, "module=github.com/h2rpc/h2rpc/protobuf/examples/routeguide,Mrouteguide.proto=github.com/h2rpc/h2rpc/protobuf/examples/routeguide/h2rpc/pb", "../../examples/routeguide"},
	// The descriptors the reflection service falls back on: its own, the
	// health service's, and the well-known types' (package wire/wellknown
	// cannot register them: wire imports nothing of ours).
	{"wellknown", "../../../reflection/internal/wellknown/proto", []string{"grpc/health/v1/health.proto", "grpc/reflection/v1/reflection.proto", "grpc/reflection/v1alpha/reflection.proto",
		"google/protobuf/any.proto", "google/protobuf/duration.proto", "google/protobuf/empty.proto", "google/protobuf/field_mask.proto",
		"google/protobuf/struct.proto", "google/protobuf/timestamp.proto", "google/protobuf/wrappers.proto"},
		gentest.Descriptors("descriptors.go", "wellknown"), "", "../../../reflection/internal/wellknown"},
}

// wellKnownM puts the well-known types' files in package wellknown.
var wellKnownM = func() string {
	var s string
	for _, f := range []string{"any", "duration", "empty", "field_mask", "struct", "timestamp", "wrappers"} {
		s += ",Mgoogle/protobuf/" + f + ".proto=github.com/h2rpc/h2rpc/wire/wellknown;wellknown"
	}
	return s
}()

// grpcTestingWire is gRPC's interop test service (grpc.testing), built from
// the descriptors grpc-go's package registers, generated on package wire
// for the interop module's tests of wire messages against grpc-go.
func grpcTestingWire(t *testing.T) {
	req := gentest.FromFiles(grpctesting.File_grpc_testing_empty_proto, grpctesting.File_grpc_testing_messages_proto, grpctesting.File_grpc_testing_test_proto)
	const pkg = "github.com/h2rpc/h2rpc/interop/wiretesting;wiretesting"
	param := "module=github.com/h2rpc/h2rpc/interop,messages=generate" +
		",Mgrpc/testing/test.proto=" + pkg + ",Mgrpc/testing/messages.proto=" + pkg + ",Mgrpc/testing/empty.proto=" + pkg
	files, err := gentest.Run(gentest.H2RPC, req, param)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range gentest.Check("../../../interop", files, *update) {
		t.Error(err)
	}
}

// TestGolden regenerates every generated file of this tree (and
// examples/messenger's stubs) and fails if one differs from the file
// committed.
func TestGolden(t *testing.T) {
	t.Run("interop-wire", grpcTestingWire)
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			req, err := gentest.Compile(r.dir, r.files...)
			if err != nil {
				t.Fatal(err)
			}
			files, err := gentest.Run(r.plugin, req, r.param)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) == 0 {
				t.Fatal("no files generated")
			}
			for _, err := range gentest.Check(r.out, files, *update) {
				t.Error(err)
			}
		})
	}
}
