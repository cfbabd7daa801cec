package reflection

import (
	"sync"

	"github.com/h2rpc/h2rpc/protobuf/reflection/internal/wellknown"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// wellKnown holds the descriptors of grpc.health.v1 and
// grpc.reflection.v1/v1alpha, which this module's health and reflection
// services encode by hand and so do not register: the reflection service
// describes them from here when the program does not link grpc-go's
// registered copies. It is built on first use.
var wellKnown = sync.OnceValue(func() *protoregistry.Files {
	files := new(protoregistry.Files)
	for _, b := range wellknown.Files {
		fdp := new(descriptorpb.FileDescriptorProto)
		if err := proto.Unmarshal(b, fdp); err != nil {
			panic("reflection: embedded descriptor: " + err.Error()) // generated and tested: cannot happen
		}
		fd, err := protodesc.NewFile(fdp, files)
		if err != nil {
			panic("reflection: embedded descriptor: " + err.Error())
		}
		if err := files.RegisterFile(fd); err != nil {
			panic("reflection: embedded descriptor: " + err.Error())
		}
	}
	return files
})

func (r *reflector) findFile(path string) (protoreflect.FileDescriptor, error) {
	fd, err := r.files.FindFileByPath(path)
	if err != nil {
		if fd, err2 := wellKnown().FindFileByPath(path); err2 == nil {
			return fd, nil
		}
	}
	return fd, err
}

func (r *reflector) findSymbol(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	d, err := r.files.FindDescriptorByName(name)
	if err != nil {
		if d, err2 := wellKnown().FindDescriptorByName(name); err2 == nil {
			return d, nil
		}
	}
	return d, err
}
