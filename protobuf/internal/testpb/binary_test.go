package testpb_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/h2rpc/h2rpc/protobuf/internal/gentest"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

// The installed binary, fed a request on stdin as protoc feeds it, writes
// what the in-process generator writes (the golden tests check that), and
// fails on a bad parameter.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	bin := filepath.Join(t.TempDir(), "protoc-gen-go-h2rpc")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/h2rpc/h2rpc/protobuf/cmd/protoc-gen-go-h2rpc").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	req, err := gentest.Compile("proto", "shapes/shapes.proto")
	if err != nil {
		t.Fatal(err)
	}
	run := func(param string) *pluginpb.CodeGeneratorResponse {
		t.Helper()
		r := proto.CloneOf(req)
		r.Parameter = proto.String(param)
		in, _ := proto.Marshal(r)
		cmd := exec.Command(bin)
		cmd.Stdin = bytes.NewReader(in)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("plugin: %v", err)
		}
		resp := new(pluginpb.CodeGeneratorResponse)
		if err := proto.Unmarshal(out, resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}

	const param = "paths=source_relative"
	resp := run(param)
	want, err := gentest.Run(gentest.H2RPC, req, param)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetError() != "" || len(resp.File) != 1 || resp.File[0].GetName() != "shapes/shapes_h2rpc.pb.go" || resp.File[0].GetContent() != want["shapes/shapes_h2rpc.pb.go"] {
		t.Errorf("binary wrote %d files (error %q), want shapes/shapes_h2rpc.pb.go as in-process", len(resp.File), resp.GetError())
	}
	if resp.GetSupportedFeatures()&uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL) == 0 {
		t.Error("the plugin does not declare proto3 optional support; protoc would refuse files using it")
	}

	// A bad parameter fails the run, with a message protoc shows.
	bad := proto.CloneOf(req)
	bad.Parameter = proto.String("messages=json")
	in, _ := proto.Marshal(bad)
	cmd := exec.Command(bin)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "messages") {
		t.Errorf("bad parameter: %v, stderr %q; want a failure naming it", err, stderr.String())
	}

	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "protoc-gen-go-h2rpc v") {
		t.Errorf("--version = %q, %v", out, err)
	}
	if err := exec.Command(bin, "stray").Run(); err == nil {
		t.Error("an argument other than --version did not fail")
	}
}
