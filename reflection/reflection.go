// Package reflection serves the gRPC server reflection service, versions
// grpc.reflection.v1 and grpc.reflection.v1alpha, so tools such as grpcurl
// list, describe and call a server's services without its .proto files:
//
//	reflection.Register(s)
//
// The service lists what is registered with s when asked, itself included,
// and describes the files registered with RegisterFile: serialized
// google.protobuf.FileDescriptorProto messages, which protoc-gen-go-h2rpc's
// messages=wire stubs register from init. The descriptors of the health
// and reflection services, and of the well-known types
// (google/protobuf/timestamp.proto and the others of package
// wire/wellknown), are registered already. RegisterSource serves
// descriptors from elsewhere too: the protobuf module's reflection package
// feeds it protobuf-go's registry.
//
// Messages are encoded with package wire: the package needs no protobuf
// runtime, and a program may link grpc-go's reflection package too without
// a protobuf registration conflict.
package reflection

import (
	"errors"
	"io"
	"slices"

	"github.com/h2rpc/h2rpc/rpc"
)

// The services Register adds.
const (
	ServiceNameV1      = "grpc.reflection.v1.ServerReflection"
	ServiceNameV1Alpha = "grpc.reflection.v1alpha.ServerReflection"
)

// Server is what Register needs of a server: *rpc.Server.
type Server interface {
	rpc.ServiceRegistrar
	GetServiceInfo() map[string]rpc.ServiceInfo
}

// Register registers both versions of the reflection service with s,
// describing the files registered with RegisterFile.
func Register(s Server) {
	RegisterSource(s, nil)
}

// RegisterSource registers both versions of the reflection service with
// s, describing the files of src and, for what src does not know, those
// registered with RegisterFile. A nil src is Register.
func RegisterSource(s Server, src Source) {
	r := &reflector{server: s, sources: []Source{registered}}
	if src != nil {
		r.sources = []Source{src, registered}
	}
	for _, name := range []string{ServiceNameV1, ServiceNameV1Alpha} {
		s.RegisterService(&rpc.ServiceDesc{
			ServiceName: name,
			Streams: []rpc.StreamDesc{{
				StreamName:    "ServerReflectionInfo",
				Handler:       handler,
				ServerStreams: true,
				ClientStreams: true,
			}},
			Metadata: "grpc/reflection/v1/reflection.proto",
		}, r)
	}
}

type reflector struct {
	server  Server
	sources []Source // asked in order
}

// handler answers each request of the stream in turn, until the client
// half-closes.
func handler(srv any, stream rpc.ServerStream) error {
	r := srv.(*reflector)
	sent := map[string]bool{} // files already sent on this stream
	for {
		var in []byte
		if err := stream.RecvMsg(&in); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		req, err := decodeRequest(in)
		if err != nil {
			return rpc.Errorf(rpc.InvalidArgument, "reflection: malformed request: %v", err)
		}
		resp := response{host: req.host, original: in}
		r.answer(&req, &resp, sent)
		if err := stream.SendMsg(resp.append(nil)); err != nil {
			return err
		}
	}
}

func (r *reflector) answer(req *request, resp *response, sent map[string]bool) {
	switch req.kind {
	case fileByFilename:
		if !r.sendFiles(req.name, resp, sent) {
			resp.fail(rpc.NotFound, "file not found: "+req.name)
		}
	case fileContainingSymbol:
		for _, src := range r.sources {
			if name, ok := src.FileContainingSymbol(req.name); ok && r.sendFiles(name, resp, sent) {
				return
			}
		}
		resp.fail(rpc.NotFound, "symbol not found: "+req.name)
	case fileContainingExtension:
		for _, src := range r.sources {
			if name, ok := src.FileContainingExtension(req.name, req.number); ok && r.sendFiles(name, resp, sent) {
				return
			}
		}
		resp.fail(rpc.NotFound, "extension not found")
	case allExtensionNumbersOfType:
		for _, src := range r.sources {
			if nums, ok := src.ExtensionNumbers(req.name); ok {
				resp.kind, resp.extensionType = allExtensionNumbersOfType, req.name
				resp.extensionNumbers = slices.Sorted(slices.Values(nums))
				return
			}
		}
		resp.fail(rpc.NotFound, "message type not found: "+req.name)
	case listServices:
		for name := range r.server.GetServiceInfo() {
			resp.services = append(resp.services, name)
		}
		slices.Sort(resp.services)
		resp.kind = listServices
	default:
		resp.fail(rpc.Unimplemented, "unknown request")
	}
}

// file returns the descriptor of the named file from the first source
// that has it.
func (r *reflector) file(name string) ([]byte, bool) {
	for _, src := range r.sources {
		if b, ok := src.File(name); ok {
			return b, true
		}
	}
	return nil, false
}

// sendFiles puts the named file in the response, first, with those of its
// transitive dependencies not sent on this stream yet (grpc-go does the
// same). It reports false if no source has the file.
func (r *reflector) sendFiles(name string, resp *response, sent map[string]bool) bool {
	b, ok := r.file(name)
	if !ok {
		return false
	}
	resp.kind = fileByFilename // a FileDescriptorResponse
	resp.files = append(resp.files, b)
	sent[name] = true
	var add func(deps []string)
	add = func(deps []string) {
		for _, dep := range deps {
			if sent[dep] {
				continue
			}
			sent[dep] = true // before its own dependencies: an import cycle ends here
			b, ok := r.file(dep)
			if !ok {
				continue // the client will report the missing import
			}
			add(dependencies(b))
			resp.files = append(resp.files, b)
		}
	}
	add(dependencies(b))
	return true
}
