// Package reflection serves the gRPC server reflection service, versions
// grpc.reflection.v1 and grpc.reflection.v1alpha, from protobuf-go's
// registries: the descriptors of every .proto file linked into the program
// by its protoc-gen-go code. Tools such as grpcurl then list, describe and
// call the server's services without the .proto files:
//
//	reflection.Register(s)
//
// The service lists what is registered with s when asked, itself
// included. Its messages are encoded here, on protowire, rather than by
// protoc-gen-go types, so a program may link grpc-go's reflection package
// too without a protobuf registration conflict.
package reflection

import (
	"errors"
	"io"
	"slices"

	"github.com/h2rpc/h2rpc/rpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
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

// Register registers both versions of the reflection service with s.
func Register(s Server) {
	r := &reflector{server: s, files: protoregistry.GlobalFiles, types: protoregistry.GlobalTypes}
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
	server Server
	files  *protoregistry.Files
	types  *protoregistry.Types
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
		fd, err := r.findFile(req.name)
		if err != nil {
			resp.fail(rpc.NotFound, "file not found: "+req.name)
			return
		}
		r.sendFiles(fd, resp, sent)
	case fileContainingSymbol:
		d, err := r.findSymbol(protoreflect.FullName(req.name))
		if err != nil {
			resp.fail(rpc.NotFound, "symbol not found: "+req.name)
			return
		}
		r.sendFiles(d.ParentFile(), resp, sent)
	case fileContainingExtension:
		xt, err := r.types.FindExtensionByNumber(protoreflect.FullName(req.name), protoreflect.FieldNumber(req.number))
		if err != nil {
			resp.fail(rpc.NotFound, "extension not found")
			return
		}
		r.sendFiles(xt.TypeDescriptor().ParentFile(), resp, sent)
	case allExtensionNumbersOfType:
		if _, err := r.types.FindMessageByName(protoreflect.FullName(req.name)); err != nil {
			resp.fail(rpc.NotFound, "message type not found: "+req.name)
			return
		}
		resp.extensionType = req.name
		r.types.RangeExtensionsByMessage(protoreflect.FullName(req.name), func(xt protoreflect.ExtensionType) bool {
			resp.extensionNumbers = append(resp.extensionNumbers, int32(xt.TypeDescriptor().Number()))
			return true
		})
		slices.Sort(resp.extensionNumbers)
		resp.kind = allExtensionNumbersOfType
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

// sendFiles puts fd in the response with those of its transitive
// dependencies not sent on this stream yet, dependencies first.
func (r *reflector) sendFiles(fd protoreflect.FileDescriptor, resp *response, sent map[string]bool) {
	resp.kind = fileByFilename // a FileDescriptorResponse
	var add func(f protoreflect.FileDescriptor, requested bool)
	add = func(f protoreflect.FileDescriptor, requested bool) {
		if sent[f.Path()] && !requested {
			return
		}
		sent[f.Path()] = true
		imports := f.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor, false)
		}
		b, err := proto.Marshal(protodesc.ToFileDescriptorProto(f))
		if err != nil {
			return // a descriptor protobuf-go built marshals; nothing to send otherwise
		}
		resp.files = append(resp.files, b)
	}
	add(fd, true)
	// The requested file goes first, as grpc-go sends it.
	if n := len(resp.files); n > 1 {
		last := resp.files[n-1]
		copy(resp.files[1:], resp.files[:n-1])
		resp.files[0] = last
	}
}
