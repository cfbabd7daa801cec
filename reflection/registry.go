package reflection

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/h2rpc/h2rpc/reflection/internal/wellknown"
	"github.com/h2rpc/h2rpc/wire"
)

// Source is where the reflection service finds descriptors: serialized
// google.protobuf.FileDescriptorProto messages, by file name and by the
// symbols they declare. Its methods report false for what they do not
// know. A Source is safe for concurrent use.
type Source interface {
	// File returns the FileDescriptorProto of the file of that name
	// (such as "grpc/health/v1/health.proto").
	File(name string) ([]byte, bool)
	// FileContainingSymbol returns the name of the file declaring the
	// fully-qualified symbol (without a leading dot): a message, field,
	// oneof, enum, enum value, service, method or extension.
	FileContainingSymbol(symbol string) (string, bool)
	// FileContainingExtension returns the name of the file declaring
	// extension number of the message named extendee.
	FileContainingExtension(extendee string, number int32) (string, bool)
	// ExtensionNumbers returns the numbers of the known extensions of the
	// message named extendee; false if the message is unknown.
	ExtensionNumbers(extendee string) ([]int32, bool)
}

// RegisterFile adds a serialized FileDescriptorProto to the descriptors
// that Register's reflection service describes. Generated code calls it
// from init (protoc-gen-go-h2rpc's messages=wire and messages=generate stubs
// do), as protoc-gen-go code registers with protobuf-go. Registering the
// same bytes twice does nothing; it fails, registering nothing, if the bytes
// are malformed, or if the file's name or one of its symbols is registered
// already by other bytes (the generated code then keeps the first).
func RegisterFile(rawDescriptor []byte) error {
	return registered.add(rawDescriptor)
}

// registered holds the files of RegisterFile, and the health and reflection
// services' own and the well-known types'.
var registered = func() *registry {
	r := &registry{files: map[string]*file{}, symbols: map[string]string{}, extensions: map[string]map[int32]string{}}
	for _, b := range wellknown.Files {
		if err := r.add(b); err != nil {
			panic("reflection: embedded descriptor: " + err.Error()) // generated and tested: cannot happen
		}
	}
	return r
}()

// file is one registered file.
type file struct {
	raw        []byte
	symbols    []string
	extensions []extension
	messages   []string // the messages it declares, which may be extended
}

type extension struct {
	extendee string
	number   int32
}

// registry is a Source of registered files.
type registry struct {
	mu         sync.RWMutex
	files      map[string]*file            // guarded by mu; by name
	symbols    map[string]string           // guarded by mu; symbol → file name
	extensions map[string]map[int32]string // guarded by mu; extendee → number → file name
}

func (r *registry) add(raw []byte) error {
	name, f, err := parseFile(raw)
	if err != nil {
		return fmt.Errorf("reflection: RegisterFile: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.files[name]; ok {
		if bytes.Equal(old.raw, f.raw) {
			return nil
		}
		return fmt.Errorf("reflection: RegisterFile: file %q is registered already, with another descriptor", name)
	}
	for _, s := range f.symbols {
		if other, ok := r.symbols[s]; ok {
			return fmt.Errorf("reflection: RegisterFile: %s of %q is declared by %q already", s, name, other)
		}
	}
	for _, x := range f.extensions {
		if other, ok := r.extensions[x.extendee][x.number]; ok {
			return fmt.Errorf("reflection: RegisterFile: extension %d of %s in %q is declared by %q already", x.number, x.extendee, name, other)
		}
	}
	r.files[name] = f
	for _, s := range f.symbols {
		r.symbols[s] = name
	}
	for _, x := range f.extensions {
		if r.extensions[x.extendee] == nil {
			r.extensions[x.extendee] = map[int32]string{}
		}
		r.extensions[x.extendee][x.number] = name
	}
	return nil
}

func (r *registry) File(name string) ([]byte, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.files[name]
	if !ok {
		return nil, false
	}
	return f.raw, true
}

func (r *registry) FileContainingSymbol(symbol string) (string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	name, ok := r.symbols[symbol]
	return name, ok
}

func (r *registry) FileContainingExtension(extendee string, number int32) (string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	name, ok := r.extensions[extendee][number]
	return name, ok
}

func (r *registry) ExtensionNumbers(extendee string) ([]int32, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	name, ok := r.symbols[extendee]
	if !ok || !isMessage(r.files[name], extendee) {
		return nil, false
	}
	var nums []int32
	for n := range r.extensions[extendee] {
		nums = append(nums, n)
	}
	return nums, true
}

func isMessage(f *file, name string) bool {
	for _, m := range f.messages {
		if m == name {
			return true
		}
	}
	return false
}

// maxNesting bounds how deeply message declarations may nest in a
// registered descriptor (protoc's own limit is lower).
const maxNesting = 100

var errNesting = errors.New("messages nested too deeply")

// parseFile reads the name and the declarations of a FileDescriptorProto:
//
//	FileDescriptorProto     name = 1, package = 2, dependency = 3, message_type = 4,
//	                        enum_type = 5, service = 6, extension = 7
//	DescriptorProto         name = 1, field = 2, nested_type = 3, enum_type = 4,
//	                        extension = 6, oneof_decl = 8
//	FieldDescriptorProto    name = 1, extendee = 2, number = 3
//	EnumDescriptorProto     name = 1, value = 2 (EnumValueDescriptorProto, name = 1)
//	ServiceDescriptorProto  name = 1, method = 2 (MethodDescriptorProto, name = 1)
//	OneofDescriptorProto    name = 1
func parseFile(raw []byte) (string, *file, error) {
	f := &file{raw: bytes.Clone(raw)}
	var name, pkg string
	// The package comes before the declarations in protoc's output, but
	// need not: find it first.
	err := wire.Range(raw, func(fl wire.Field) error {
		switch {
		case fl.Is(1, wire.TypeLen):
			name = string(fl.Bytes)
		case fl.Is(2, wire.TypeLen):
			pkg = string(fl.Bytes)
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	if name == "" {
		return "", nil, errors.New("a FileDescriptorProto without a name")
	}
	scope := ""
	if pkg != "" {
		scope = pkg + "."
	}
	err = wire.Range(raw, func(fl wire.Field) error {
		if fl.Type != wire.TypeLen {
			return nil
		}
		switch fl.Num {
		case 4:
			return f.message(fl.Bytes, scope, 0)
		case 5:
			return f.enum(fl.Bytes, scope)
		case 6:
			return f.service(fl.Bytes, scope)
		case 7:
			return f.field(fl.Bytes, scope, true)
		}
		return nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", name, err)
	}
	return name, f, nil
}

// nameOf returns field 1, the name, of a descriptor.
func nameOf(b []byte) (string, error) {
	var name string
	err := wire.Range(b, func(f wire.Field) error {
		if f.Is(1, wire.TypeLen) {
			name = string(f.Bytes)
		}
		return nil
	})
	if err == nil && name == "" {
		err = errors.New("a declaration without a name")
	}
	return name, err
}

func (f *file) message(b []byte, scope string, depth int) error {
	if depth > maxNesting {
		return errNesting
	}
	name, err := nameOf(b)
	if err != nil {
		return err
	}
	full := scope + name
	f.symbols = append(f.symbols, full)
	f.messages = append(f.messages, full)
	inner := full + "."
	return wire.Range(b, func(fl wire.Field) error {
		if fl.Type != wire.TypeLen {
			return nil
		}
		switch fl.Num {
		case 2:
			return f.field(fl.Bytes, inner, false)
		case 3:
			return f.message(fl.Bytes, inner, depth+1)
		case 4:
			return f.enum(fl.Bytes, inner)
		case 6:
			return f.field(fl.Bytes, inner, true)
		case 8:
			oneof, err := nameOf(fl.Bytes)
			if err == nil {
				f.symbols = append(f.symbols, inner+oneof)
			}
			return err
		}
		return nil
	})
}

// field records a field, or an extension with its extendee and number.
func (f *file) field(b []byte, scope string, isExtension bool) error {
	var name, extendee string
	var number int32
	err := wire.Range(b, func(fl wire.Field) error {
		switch {
		case fl.Is(1, wire.TypeLen):
			name = string(fl.Bytes)
		case fl.Is(2, wire.TypeLen):
			extendee = strings.TrimPrefix(string(fl.Bytes), ".") // protoc writes it fully qualified
		case fl.Is(3, wire.TypeVarint):
			number = fl.Int32()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if name == "" {
		return errors.New("a field without a name")
	}
	f.symbols = append(f.symbols, scope+name)
	if isExtension && extendee != "" {
		f.extensions = append(f.extensions, extension{extendee, number})
	}
	return nil
}

// enum records an enum and its values, which are declared in the enum's
// scope, not inside the enum.
func (f *file) enum(b []byte, scope string) error {
	name, err := nameOf(b)
	if err != nil {
		return err
	}
	f.symbols = append(f.symbols, scope+name)
	return wire.Range(b, func(fl wire.Field) error {
		if !fl.Is(2, wire.TypeLen) {
			return nil
		}
		value, err := nameOf(fl.Bytes)
		if err == nil {
			f.symbols = append(f.symbols, scope+value)
		}
		return err
	})
}

func (f *file) service(b []byte, scope string) error {
	name, err := nameOf(b)
	if err != nil {
		return err
	}
	full := scope + name
	f.symbols = append(f.symbols, full)
	return wire.Range(b, func(fl wire.Field) error {
		if !fl.Is(2, wire.TypeLen) {
			return nil
		}
		method, err := nameOf(fl.Bytes)
		if err == nil {
			f.symbols = append(f.symbols, full+"."+method)
		}
		return err
	})
}

// dependencies returns the names of the files a FileDescriptorProto
// imports (field 3).
func dependencies(raw []byte) []string {
	var deps []string
	_ = wire.Range(raw, func(f wire.Field) error { // a malformed tail: the dependencies before it
		if f.Is(3, wire.TypeLen) {
			deps = append(deps, string(f.Bytes))
		}
		return nil
	})
	return deps
}
