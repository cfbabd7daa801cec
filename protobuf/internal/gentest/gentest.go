// Package gentest runs protoc plugins without protoc: it compiles .proto
// files with a pure-Go compiler into the CodeGeneratorRequest protoc would
// send, runs protoc-gen-go and protoc-gen-go-h2rpc in-process and
// protoc-gen-go-grpc and protoc-gen-go-vtproto as Go tools, and compares or
// writes their output. The golden tests use it, so regenerating needs
// nothing installed.
package gentest

import (
	"bytes"
	"context"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/bufbuild/protocompile"
	gen "github.com/h2rpc/h2rpc/protobuf/cmd/protoc-gen-go-h2rpc/h2rpcgen"
	"google.golang.org/protobuf/cmd/protoc-gen-go/internal_gengo"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// Compile parses and links files (paths relative to importDir, which also
// resolves their imports, as do the well-known types) and returns the
// request protoc would send a plugin for them: every file they import,
// dependencies first, with source info for comments.
func Compile(importDir string, files ...string) (*pluginpb.CodeGeneratorRequest, error) {
	c := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{importDir}}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	linked, err := c.Compile(context.Background(), files...)
	if err != nil {
		return nil, err
	}
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: files}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	}
	for _, f := range linked {
		add(f)
	}
	return req, nil
}

// A Plugin turns a request into a response, as a protoc plugin does.
type Plugin func(*pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error)

// H2RPC is protoc-gen-go-h2rpc, in-process.
func H2RPC(req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
	opts := gen.Options{RequireUnimplemented: true}
	p, err := protogen.Options{ParamFunc: opts.Set}.New(req)
	if err != nil {
		return nil, err
	}
	if err := opts.Run(p); err != nil {
		p.Error(err)
	}
	return p.Response(), nil
}

// Go is protoc-gen-go, in-process.
func Go(req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
	p, err := protogen.Options{}.New(req)
	if err != nil {
		return nil, err
	}
	p.SupportedFeatures = internal_gengo.SupportedFeatures
	p.SupportedEditionsMinimum = internal_gengo.SupportedEditionsMinimum
	p.SupportedEditionsMaximum = internal_gengo.SupportedEditionsMaximum
	for _, f := range p.Files {
		if f.Generate {
			internal_gengo.GenerateFile(p, f)
		}
	}
	return p.Response(), nil
}

// GoGRPC is protoc-gen-go-grpc, run as a tool of the protobuf module
// (go tool protoc-gen-go-grpc) from the current directory.
func GoGRPC(req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
	return goTool("protoc-gen-go-grpc", req)
}

// VTProto is vtprotobuf's protoc-gen-go-vtproto, run as a tool of the
// protobuf module, for the benchmarks that compare with it.
func VTProto(req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
	return goTool("protoc-gen-go-vtproto", req)
}

// goTool runs the plugin name, a tool of the protobuf module, on req.
func goTool(name string, req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
	in, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("go", "tool", name)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go tool %s: %w: %s", name, err, stderr.Bytes())
	}
	resp := new(pluginpb.CodeGeneratorResponse)
	if err := proto.Unmarshal(out, resp); err != nil {
		return nil, fmt.Errorf("go tool %s: %w", name, err)
	}
	return resp, nil
}

// Run runs plugin on req with param as its parameter and returns the
// files it wrote, by name.
func Run(plugin Plugin, req *pluginpb.CodeGeneratorRequest, param string) (map[string]string, error) {
	req = proto.CloneOf(req)
	req.Parameter = proto.String(param)
	resp, err := plugin(req)
	if err != nil {
		return nil, err
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("plugin error: %s", resp.GetError())
	}
	files := map[string]string{}
	for _, f := range resp.File {
		if f.GetInsertionPoint() != "" {
			return nil, fmt.Errorf("%s: insertion points are not supported", f.GetName())
		}
		files[f.GetName()] = f.GetContent()
	}
	return files, nil
}

// Check compares files with the files under dir; with update it writes
// them instead. It returns one error per file that differs.
func Check(dir string, files map[string]string, update bool) []error {
	var errs []error
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w (regenerate: go test -run Golden -update)", path, err))
			continue
		}
		if string(got) != content {
			errs = append(errs, fmt.Errorf("%s differs from what the generators write now (regenerate: go test -run Golden -update)", path))
		}
	}
	return errs
}

// Descriptors returns a plugin that writes one Go file, name, in package
// pkg: the serialized FileDescriptorProto of every file to generate, in
// the request's order, without source info, as the variable Files.
func Descriptors(name, pkg string) Plugin {
	return func(req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
		byName := map[string]*descriptorpb.FileDescriptorProto{}
		for _, f := range req.ProtoFile {
			byName[f.GetName()] = f
		}
		var src bytes.Buffer
		fmt.Fprintf(&src, "// Code generated by gentest.Descriptors. DO NOT EDIT.\n\npackage %s\n\n", pkg)
		fmt.Fprintf(&src, "// Files holds the serialized FileDescriptorProto of\n")
		for _, name := range req.FileToGenerate {
			fmt.Fprintf(&src, "//   - %s\n", name)
		}
		fmt.Fprintf(&src, "var Files = [][]byte{\n")
		for _, name := range req.FileToGenerate {
			fd := proto.CloneOf(byName[name])
			fd.SourceCodeInfo = nil
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(fd)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&src, "\t// %s\n\t[]byte(%q),\n", name, b)
		}
		fmt.Fprintf(&src, "}\n")
		out, err := format.Source(src.Bytes())
		if err != nil {
			return nil, err
		}
		return &pluginpb.CodeGeneratorResponse{File: []*pluginpb.CodeGeneratorResponse_File{{Name: proto.String(name), Content: proto.String(string(out))}}}, nil
	}
}

// FromFiles returns the request protoc would send a plugin for files,
// already-linked descriptors (those a Go package registers, say, when the
// .proto text is not at hand), with every file they import. They carry no
// source info, so the output has no .proto comments.
func FromFiles(files ...protoreflect.FileDescriptor) *pluginpb.CodeGeneratorRequest {
	req := &pluginpb.CodeGeneratorRequest{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	}
	for _, f := range files {
		req.FileToGenerate = append(req.FileToGenerate, f.Path())
		add(f)
	}
	return req
}
