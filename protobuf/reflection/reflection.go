// Package reflection serves the gRPC server reflection service, versions
// grpc.reflection.v1 and grpc.reflection.v1alpha, from protobuf-go's
// registries: the descriptors of every .proto file linked into the program
// by its protoc-gen-go code. Tools such as grpcurl then list, describe and
// call the server's services without the .proto files:
//
//	reflection.Register(s)
//
// The protocol is github.com/h2rpc/h2rpc/reflection's, which this package
// feeds protobuf-go's registries as a Source; files registered with that
// package's RegisterFile, and the health and reflection services' own,
// are described too.
package reflection

import (
	"github.com/h2rpc/h2rpc/reflection"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// The services Register adds.
const (
	ServiceNameV1      = reflection.ServiceNameV1
	ServiceNameV1Alpha = reflection.ServiceNameV1Alpha
)

// Server is what Register needs of a server: *rpc.Server.
type Server = reflection.Server

// Register registers both versions of the reflection service with s,
// describing protobuf-go's global registries.
func Register(s Server) {
	reflection.RegisterSource(s, NewSource(protoregistry.GlobalFiles, protoregistry.GlobalTypes))
}

// NewSource returns a reflection.Source of the files and extension types
// of protobuf-go registries.
func NewSource(files *protoregistry.Files, types *protoregistry.Types) reflection.Source {
	return &source{files: files, types: types}
}

type source struct {
	files *protoregistry.Files
	types *protoregistry.Types
}

func (s *source) File(name string) ([]byte, bool) {
	fd, err := s.files.FindFileByPath(name)
	if err != nil {
		return nil, false
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(protodesc.ToFileDescriptorProto(fd))
	if err != nil {
		return nil, false // a descriptor protobuf-go built marshals
	}
	return b, true
}

func (s *source) FileContainingSymbol(symbol string) (string, bool) {
	d, err := s.files.FindDescriptorByName(protoreflect.FullName(symbol))
	if err != nil {
		return "", false
	}
	return d.ParentFile().Path(), true
}

func (s *source) FileContainingExtension(extendee string, number int32) (string, bool) {
	xt, err := s.types.FindExtensionByNumber(protoreflect.FullName(extendee), protoreflect.FieldNumber(number))
	if err != nil {
		return "", false
	}
	return xt.TypeDescriptor().ParentFile().Path(), true
}

func (s *source) ExtensionNumbers(extendee string) ([]int32, bool) {
	if _, err := s.types.FindMessageByName(protoreflect.FullName(extendee)); err != nil {
		return nil, false
	}
	nums := []int32{}
	s.types.RangeExtensionsByMessage(protoreflect.FullName(extendee), func(xt protoreflect.ExtensionType) bool {
		nums = append(nums, int32(xt.TypeDescriptor().Number()))
		return true
	})
	return nums, true
}
