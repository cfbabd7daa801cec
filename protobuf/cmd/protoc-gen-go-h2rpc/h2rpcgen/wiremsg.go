package h2rpcgen

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file generates message types on package wire (messages=generate):
// plain Go structs shaped as protoc-gen-go's (same type, field, getter and
// enum constant names), whose methods encode and decode the protobuf wire
// format directly, with no reflection and no protobuf-go runtime.

const (
	wirePackage   = protogen.GoImportPath("github.com/h2rpc/h2rpc/wire")
	mathPackage   = protogen.GoImportPath("math")
	bytesPackage  = protogen.GoImportPath("bytes")
	slicesPkg     = protogen.GoImportPath("slices")
	unsafePackage = protogen.GoImportPath("unsafe")
)

// WellKnownPackage is where the generated messages of the well-known types
// gRPC services use live; with messages=generate, fields and methods of
// those types refer to it instead of protobuf-go's packages.
const WellKnownPackage = protogen.GoImportPath("github.com/h2rpc/h2rpc/wire/wellknown")

// wellKnownFiles are the .proto files of the types in WellKnownPackage.
var wellKnownFiles = map[string]bool{
	"google/protobuf/any.proto":        true,
	"google/protobuf/duration.proto":   true,
	"google/protobuf/empty.proto":      true,
	"google/protobuf/field_mask.proto": true,
	"google/protobuf/struct.proto":     true,
	"google/protobuf/timestamp.proto":  true,
	"google/protobuf/wrappers.proto":   true,
}

// remapWellKnown points the Go identifiers of the well-known types at
// WellKnownPackage.
func remapWellKnown(p *protogen.Plugin) {
	enums := func(es []*protogen.Enum) {
		for _, e := range es {
			e.GoIdent.GoImportPath = WellKnownPackage
			for _, v := range e.Values {
				v.GoIdent.GoImportPath = WellKnownPackage
			}
		}
	}
	var messages func(ms []*protogen.Message)
	messages = func(ms []*protogen.Message) {
		for _, m := range ms {
			m.GoIdent.GoImportPath = WellKnownPackage
			for _, f := range m.Fields {
				f.GoIdent.GoImportPath = WellKnownPackage
			}
			for _, o := range m.Oneofs {
				o.GoIdent.GoImportPath = WellKnownPackage
			}
			enums(m.Enums)
			messages(m.Messages)
		}
	}
	for _, f := range p.Files {
		if !wellKnownFiles[f.Desc.Path()] || f.GoImportPath == WellKnownPackage {
			continue
		}
		f.GoImportPath = WellKnownPackage
		f.GoPackageName = "wellknown"
		enums(f.Enums)
		messages(f.Messages)
	}
}

// unknownField is the struct field that keeps the fields a message does not
// know, as they came, to write them back. Unexported, so it cannot collide
// with a generated field name.
const unknownField = "unknownFields"

type msgGen struct {
	g *protogen.GeneratedFile
	// checks memoizes needsCheck.
	checks map[*protogen.Message]bool
	// flagged holds, while one AppendWire is generated, the string fields
	// checked up front (plainUTF8), not where they are written.
	flagged map[protoreflect.FieldDescriptor]bool
}

func (w *msgGen) wire(name string) string { return w.g.QualifiedGoIdent(wirePackage.Ident(name)) }
func (w *msgGen) math(name string) string { return w.g.QualifiedGoIdent(mathPackage.Ident(name)) }
func (w *msgGen) bytes(name string) string {
	return w.g.QualifiedGoIdent(bytesPackage.Ident(name))
}
func (w *msgGen) slices(name string) string { return w.g.QualifiedGoIdent(slicesPkg.Ident(name)) }

// checkSupported reports the first feature of f the generator does not
// handle, so the plugin fails loudly instead of writing wrong code.
func checkSupported(f *protogen.File) error {
	var check func(ms []*protogen.Message) error
	check = func(ms []*protogen.Message) error {
		for _, m := range ms {
			for _, fd := range m.Fields {
				switch fd.GoName {
				case "AppendWire", "SizeWire", "UnmarshalWire", "MergeWire", "Equal", "Clone":
					return fmt.Errorf("%s: its Go name %s is a method of generated messages", fd.Desc.FullName(), fd.GoName)
				}
				if fd.Desc.Kind() == protoreflect.GroupKind {
					return fmt.Errorf("%s: groups (delimited encoding) are not supported by messages=generate", fd.Desc.FullName())
				}
				if fd.Message != nil && strings.HasPrefix(string(fd.Message.GoIdent.GoImportPath), "google.golang.org/protobuf/") {
					return fmt.Errorf("%s: field of type %s, whose Go package is protobuf-go's; messages=generate needs every message on wire", fd.Desc.FullName(), fd.Message.Desc.FullName())
				}
			}
			if len(m.Extensions) > 0 {
				return fmt.Errorf("%s: extensions are not supported by messages=generate", m.Desc.FullName())
			}
			if err := check(m.Messages); err != nil {
				return err
			}
		}
		return nil
	}
	if len(f.Extensions) > 0 {
		return fmt.Errorf("%s: extensions are not supported by messages=generate", f.Desc.Path())
	}
	return check(f.Messages)
}

// messagesFile writes the message and enum types of f.
func (o *Options) messagesFile(p *protogen.Plugin, f *protogen.File) error {
	if err := checkSupported(f); err != nil {
		return err
	}
	g := p.NewGeneratedFile(f.GeneratedFilenamePrefix+"_wire.pb.go", f.GoImportPath)
	g.P("// Code generated by protoc-gen-go-h2rpc (messages=generate). DO NOT EDIT.")
	g.P("// versions:")
	g.P("// - protoc-gen-go-h2rpc ", Version)
	g.P("// - protoc             ", protocVersion(p))
	g.P("// source: ", f.Desc.Path())
	g.P()
	g.P("package ", f.GoPackageName)
	g.P()
	w := &msgGen{g: g}
	for _, e := range f.Enums {
		w.enum(e)
	}
	var walk func(ms []*protogen.Message)
	walk = func(ms []*protogen.Message) {
		for _, m := range ms {
			if m.Desc.IsMapEntry() {
				continue
			}
			w.message(m)
			for _, e := range m.Enums {
				w.enum(e)
			}
			walk(m.Messages)
		}
	}
	walk(f.Messages)
	// A file with services registers its descriptor from its stubs; one
	// with messages only registers it here, so that the reflection service
	// can describe the services that import it. The well-known types'
	// package stays on wire alone.
	if len(f.Services) == 0 && f.GoImportPath != WellKnownPackage {
		g.P()
		descriptor(g, f)
	}
	return nil
}

func (w *msgGen) enum(e *protogen.Enum) {
	g := w.g
	name := e.GoIdent.GoName
	if c := e.Comments.Leading.String(); c != "" {
		g.P(strings.TrimSuffix(c, "\n"))
	} else {
		g.P("// ", name, " is the enum ", e.Desc.FullName(), ".")
	}
	g.P("type ", name, " int32")
	g.P()
	g.P("const (")
	for _, v := range e.Values {
		if c := v.Comments.Leading.String(); c != "" {
			g.P(strings.TrimSuffix(c, "\n"))
		}
		g.P(v.GoIdent.GoName, " ", name, " = ", v.Desc.Number())
	}
	g.P(")")
	g.P()
	seen := map[protoreflect.EnumNumber]bool{}
	g.P("// String returns the name of the value, or its number if it has none.")
	g.P("func (x ", name, ") String() string {")
	g.P("switch x {")
	for _, v := range e.Values {
		if seen[v.Desc.Number()] {
			continue
		}
		seen[v.Desc.Number()] = true
		g.P("case ", v.GoIdent.GoName, ":")
		g.P("return ", strconv.Quote(string(v.Desc.Name())))
	}
	g.P("}")
	g.P("return ", g.QualifiedGoIdent(protogen.GoImportPath("strconv").Ident("Itoa")), "(int(x))")
	g.P("}")
	g.P()
	g.P("// Known reports whether x is a value the enum declares. Decoding keeps")
	g.P("// other values too, open enum or closed, as protobuf-go does.")
	g.P("func (x ", name, ") Known() bool {")
	g.P("switch x {")
	var cases []string
	for n := range seen {
		cases = append(cases, strconv.Itoa(int(n)))
	}
	sortStrings(cases)
	g.P("case ", strings.Join(cases, ", "), ":")
	g.P("return true")
	g.P("}")
	g.P("return false")
	g.P("}")
	g.P()
	g.P("// Enum returns a pointer to a copy of x, for optional fields.")
	g.P("func (x ", name, ") Enum() *", name, " { return &x }")
	g.P()
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0; j-- {
			a, _ := strconv.Atoi(s[j-1])
			b, _ := strconv.Atoi(s[j])
			if a <= b {
				break
			}
			s[j-1], s[j] = s[j], s[j-1]
		}
	}
}

// Field shapes.

func isOneof(f *protogen.Field) bool {
	return f.Oneof != nil && !f.Oneof.Desc.IsSynthetic()
}

// isPointerScalar: a singular scalar with presence outside a oneof, held
// as a pointer.
func isPointerScalar(f *protogen.Field) bool {
	return !f.Desc.IsList() && !f.Desc.IsMap() && f.Message == nil && !isOneof(f) && f.Desc.HasPresence()
}

// plainUTF8 returns m's singular string fields held as a plain string (not
// in a oneof, no presence pointer) that are checked for UTF-8.
func plainUTF8(m *protogen.Message) []*protogen.Field {
	var fs []*protogen.Field
	for _, f := range sortedFields(m) {
		if enforceUTF8(f.Desc) && !f.Desc.IsList() && !f.Desc.IsMap() && !isOneof(f) && !f.Desc.HasPresence() {
			fs = append(fs, f)
		}
	}
	return fs
}

func enforceUTF8(f protoreflect.FieldDescriptor) bool {
	if f.Kind() != protoreflect.StringKind {
		return false
	}
	if e, ok := f.(interface{ EnforceUTF8() bool }); ok {
		return e.EnforceUTF8()
	}
	return f.Syntax() == protoreflect.Proto3
}

// goType is the Go type of one value of f (an element, for a list).
func (w *msgGen) goType(f *protogen.Field) string {
	switch f.Desc.Kind() {
	case protoreflect.BoolKind:
		return "bool"
	case protoreflect.EnumKind:
		return w.g.QualifiedGoIdent(f.Enum.GoIdent)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return "int32"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return "uint32"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return "int64"
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "uint64"
	case protoreflect.FloatKind:
		return "float32"
	case protoreflect.DoubleKind:
		return "float64"
	case protoreflect.StringKind:
		return "string"
	case protoreflect.BytesKind:
		return "[]byte"
	case protoreflect.MessageKind:
		return "*" + w.g.QualifiedGoIdent(f.Message.GoIdent)
	}
	panic("unsupported kind " + f.Desc.Kind().String())
}

// fieldType is the Go type of the struct field.
func (w *msgGen) fieldType(f *protogen.Field) string {
	switch {
	case f.Desc.IsMap():
		return "map[" + w.goType(f.Message.Fields[0]) + "]" + w.goType(f.Message.Fields[1])
	case f.Desc.IsList():
		return "[]" + w.goType(f)
	case isPointerScalar(f) && f.Desc.Kind() != protoreflect.BytesKind:
		return "*" + w.goType(f)
	}
	return w.goType(f)
}

func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
		protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	}
	return protowire.BytesType
}

func wireTypeName(t protowire.Type) string {
	switch t {
	case protowire.VarintType:
		return "TypeVarint"
	case protowire.Fixed32Type:
		return "TypeI32"
	case protowire.Fixed64Type:
		return "TypeI64"
	}
	return "TypeLen"
}

// tagBytes is the Go expression list of the encoded tag.
func tagBytes(num protoreflect.FieldNumber, t protowire.Type) (string, int) {
	b := protowire.AppendTag(nil, num, t)
	s := make([]string, len(b))
	for i, c := range b {
		s[i] = fmt.Sprintf("0x%02x", c)
	}
	return strings.Join(s, ", "), len(b)
}

// appendValue returns statements appending value v of kind f to b (no tag).
func (w *msgGen) appendValue(f protoreflect.FieldDescriptor, v string) string {
	switch f.Kind() {
	case protoreflect.BoolKind:
		return "if " + v + " { b = append(b, 1) } else { b = append(b, 0) }"
	case protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind:
		return "b = " + w.wire("AppendVarint") + "(b, uint64(" + v + "))"
	case protoreflect.Uint64Kind:
		return "b = " + w.wire("AppendVarint") + "(b, " + v + ")"
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return "b = " + w.wire("AppendVarint") + "(b, " + w.wire("EncodeZigZag") + "(int64(" + v + ")))"
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return "b = " + w.wire("AppendFixed32") + "(b, uint32(" + v + "))"
	case protoreflect.FloatKind:
		return "b = " + w.wire("AppendFixed32") + "(b, " + w.math("Float32bits") + "(" + v + "))"
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return "b = " + w.wire("AppendFixed64") + "(b, uint64(" + v + "))"
	case protoreflect.DoubleKind:
		return "b = " + w.wire("AppendFixed64") + "(b, " + w.math("Float64bits") + "(" + v + "))"
	case protoreflect.StringKind, protoreflect.BytesKind:
		return "b = " + w.wire("AppendVarint") + "(b, uint64(len(" + v + ")))\nb = append(b, " + v + "...)"
	}
	panic("appendValue: " + f.Kind().String())
}

// sizeValue returns the expression of the encoded size of v (no tag); for
// messages, of the length prefix and the message.
func (w *msgGen) sizeValue(f protoreflect.FieldDescriptor, v string) string {
	switch f.Kind() {
	case protoreflect.BoolKind:
		return "1"
	case protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind:
		return w.wire("SizeVarint") + "(uint64(" + v + "))"
	case protoreflect.Uint64Kind:
		return w.wire("SizeVarint") + "(" + v + ")"
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return w.wire("SizeVarint") + "(" + w.wire("EncodeZigZag") + "(int64(" + v + ")))"
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return "4"
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return "8"
	case protoreflect.StringKind, protoreflect.BytesKind:
		return w.wire("SizeBytes") + "(len(" + v + "))"
	case protoreflect.MessageKind:
		return w.wire("SizeBytes") + "(" + v + ".SizeWire())"
	}
	panic("sizeValue: " + f.Kind().String())
}

// nonZero is the expression saying v does not hold the zero value of a
// field without presence: proto3 writes only such fields. A float is
// compared by its bits, so -0.0 is written, as protobuf-go writes it.
func (w *msgGen) nonZero(f protoreflect.FieldDescriptor, v string) string {
	switch f.Kind() {
	case protoreflect.BoolKind:
		return v
	case protoreflect.StringKind, protoreflect.BytesKind:
		return "len(" + v + ") != 0"
	case protoreflect.FloatKind:
		return w.math("Float32bits") + "(" + v + ") != 0"
	case protoreflect.DoubleKind:
		return w.math("Float64bits") + "(" + v + ") != 0"
	case protoreflect.MessageKind:
		return v + " != nil"
	}
	return v + " != 0"
}

// A decoder reads its input b in one of two ways. Re-slicing (idx false)
// consumes a value by b = b[n:]; the loop over a message's own fields
// (idx true) keeps b whole and advances an index i into it instead, so
// that a field costs an add and a compare rather than a slice's three
// words updated (and spilled around the loop) and the checks they bring.
// The loops over a map entry and a packed list re-slice their own b.

// rest is the unread input: b, or b[i:].
func rest(idx bool) string {
	if idx {
		return "b[i:]"
	}
	return "b"
}

// advance consumes n bytes of the input.
func advance(idx bool) string {
	if idx {
		return "i += n\n"
	}
	return "b = b[n:]\n"
}

// decodeValue returns statements that consume one value of f's kind,
// encoded with wire type wt, from the input into a new variable v,
// advancing it. msg is the message's full name, for errors. Messages are
// not handled.
func (w *msgGen) decodeValue(f protoreflect.FieldDescriptor, msg, goType, ret string, idx bool) string {
	num := strconv.Itoa(int(f.Number()))
	fail := "if n < 0 { return " + ret + w.wire("FieldError") + "(" + strconv.Quote(msg) + ", " + num + ", " + w.wire("ParseError") + "(n)) }\n"
	var s string
	switch wireType(f.Kind()) {
	case protowire.VarintType:
		s = w.consumeVarint(fail, idx)
	case protowire.Fixed32Type:
		s = "x, n := " + w.wire("ConsumeFixed32") + "(" + rest(idx) + ")\n" + fail
	case protowire.Fixed64Type:
		s = "x, n := " + w.wire("ConsumeFixed64") + "(" + rest(idx) + ")\n" + fail
	default:
		s = w.consumeBytes(fail, idx)
	}
	s += advance(idx)
	switch f.Kind() {
	case protoreflect.BoolKind:
		s += "v := x != 0"
	case protoreflect.EnumKind:
		s += "v := " + goType + "(int32(x))"
	case protoreflect.Int32Kind, protoreflect.Sfixed32Kind:
		s += "v := int32(x)"
	case protoreflect.Uint32Kind:
		s += "v := uint32(x)"
	case protoreflect.Int64Kind, protoreflect.Sfixed64Kind:
		s += "v := int64(x)"
	case protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		s += "v := x"
	case protoreflect.Sint32Kind:
		s += "v := int32(" + w.wire("DecodeZigZag") + "(x & " + w.math("MaxUint32") + "))"
	case protoreflect.Sint64Kind:
		s += "v := " + w.wire("DecodeZigZag") + "(x)"
	case protoreflect.FloatKind:
		s += "v := " + w.math("Float32frombits") + "(x)"
	case protoreflect.DoubleKind:
		s += "v := " + w.math("Float64frombits") + "(x)"
	case protoreflect.StringKind:
		if enforceUTF8(f) {
			s += "if !" + w.wire("ASCII") + "(x) && !" + w.wire("ValidUTF8") + "(x) { return " + ret + w.wire("FieldError") + "(" + strconv.Quote(msg) + ", " + num + ", " + w.wire("ErrInvalidUTF8") + ") }\n"
		}
		s += "v := string(x)"
	case protoreflect.BytesKind:
		s += "v := x"
	default:
		panic("decodeValue: " + f.Kind().String())
	}
	return s
}

// consumeVarint declares x and n, a varint of the input and its length,
// inline for one byte; fail is the statement run when n < 0.
func (w *msgGen) consumeVarint(fail string, idx bool) string {
	if idx {
		return "x, n := uint64(0), 1\n" +
			"if i < len(b) && b[i] < 0x80 { x = uint64(b[i]) } else {\n" +
			"x, n = " + w.wire("ConsumeVarint") + "(b[i:])\n" + fail + "}\n"
	}
	return "x, n := uint64(0), 1\n" +
		"if len(b) > 0 && b[0] < 0x80 { x = uint64(b[0]) } else {\n" +
		"x, n = " + w.wire("ConsumeVarint") + "(b)\n" + fail + "}\n"
}

// consumeBytes declares x and n, a length-delimited value of the input
// and its encoded length, inline for a one-byte length.
func (w *msgGen) consumeBytes(fail string, idx bool) string {
	if idx {
		return "var x []byte\nn := 0\n" +
			"if i < len(b) && b[i] < 0x80 && int(b[i]) < len(b)-i { n = 1 + int(b[i]); x = b[i+1 : i+n : i+n] } else {\n" +
			"x, n = " + w.wire("ConsumeBytes") + "(b[i:])\n" + fail + "}\n"
	}
	return "var x []byte\nn := 0\n" +
		"if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) { n = 1 + int(b[0]); x = b[1:n:n] } else {\n" +
		"x, n = " + w.wire("ConsumeBytes") + "(b)\n" + fail + "}\n"
}

func (w *msgGen) message(m *protogen.Message) {
	g := w.g
	name := m.GoIdent.GoName
	full := string(m.Desc.FullName())
	if c := m.Comments.Leading.String(); c != "" {
		g.P(strings.TrimSuffix(c, "\n"))
	} else {
		g.P("// ", name, " is the message ", full, ".")
	}
	g.P("type ", name, " struct {")
	doneOneof := map[*protogen.Oneof]bool{}
	for _, f := range m.Fields {
		if isOneof(f) {
			if doneOneof[f.Oneof] {
				continue
			}
			doneOneof[f.Oneof] = true
			g.P("// Types that are valid to be assigned to ", f.Oneof.GoName, ":")
			for _, of := range f.Oneof.Fields {
				g.P("//\t*", of.GoIdent.GoName)
			}
			g.P(f.Oneof.GoName, " is", f.Oneof.GoIdent.GoName)
			continue
		}
		if c := f.Comments.Leading.String(); c != "" {
			g.P(strings.TrimSuffix(c, "\n"))
		}
		g.P(f.GoName, " ", w.fieldType(f))
	}
	g.P()
	g.P(unknownField, " []byte")
	g.P("}")
	g.P()
	g.P("var _ ", w.wire("Message"), " = (*", name, ")(nil)")
	g.P()
	for _, oo := range m.Oneofs {
		if oo.Desc.IsSynthetic() {
			continue
		}
		g.P("type is", oo.GoIdent.GoName, " interface{ is", oo.GoIdent.GoName, "() }")
		g.P()
		for _, f := range oo.Fields {
			g.P("// ", f.GoIdent.GoName, " holds field ", f.Desc.Name(), " of oneof ", oo.Desc.Name(), ".")
			g.P("type ", f.GoIdent.GoName, " struct {")
			g.P(f.GoName, " ", w.goType(f))
			g.P("}")
			g.P()
			g.P("func (*", f.GoIdent.GoName, ") is", oo.GoIdent.GoName, "() {}")
			g.P()
		}
	}
	w.getters(m)
	w.reset(m)
	w.size(m)
	w.marshal(m)
	w.unmarshal(m)
	w.equal(m)
	w.clone(m)
}

// defaultValue is the Go expression of f's proto2 default, or "" if it
// has none.
func (w *msgGen) defaultValue(f *protogen.Field) string {
	if !f.Desc.HasDefault() {
		return ""
	}
	d := f.Desc.Default()
	switch f.Desc.Kind() {
	case protoreflect.BoolKind:
		return strconv.FormatBool(d.Bool())
	case protoreflect.EnumKind:
		for _, v := range f.Enum.Values {
			if v.Desc.Number() == f.Desc.DefaultEnumValue().Number() {
				return w.g.QualifiedGoIdent(v.GoIdent)
			}
		}
		return w.goType(f) + "(" + strconv.Itoa(int(d.Enum())) + ")"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return w.goType(f) + "(" + strconv.FormatInt(d.Int(), 10) + ")"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return w.goType(f) + "(" + strconv.FormatUint(d.Uint(), 10) + ")"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		x := d.Float()
		t := w.goType(f)
		switch {
		case math.IsInf(x, 1):
			return t + "(" + w.math("Inf") + "(1))"
		case math.IsInf(x, -1):
			return t + "(" + w.math("Inf") + "(-1))"
		case math.IsNaN(x):
			return t + "(" + w.math("NaN") + "())"
		}
		if f.Desc.Kind() == protoreflect.FloatKind {
			return t + "(" + strconv.FormatFloat(x, 'g', -1, 32) + ")"
		}
		return t + "(" + strconv.FormatFloat(x, 'g', -1, 64) + ")"
	case protoreflect.StringKind:
		return strconv.Quote(d.String())
	case protoreflect.BytesKind:
		return "[]byte(" + strconv.Quote(string(d.Bytes())) + ")"
	}
	return ""
}

func (w *msgGen) getters(m *protogen.Message) {
	g := w.g
	name := m.GoIdent.GoName
	done := map[*protogen.Oneof]bool{}
	for _, f := range m.Fields {
		if isOneof(f) && !done[f.Oneof] {
			done[f.Oneof] = true
			g.P("func (m *", name, ") Get", f.Oneof.GoName, "() is", f.Oneof.GoIdent.GoName, " {")
			g.P("if m != nil { return m.", f.Oneof.GoName, " }")
			g.P("return nil")
			g.P("}")
			g.P()
		}
		typ := w.fieldType(f)
		if isPointerScalar(f) && f.Desc.Kind() != protoreflect.BytesKind {
			typ = w.goType(f)
		}
		def := w.defaultValue(f)
		zero := "nil"
		switch {
		case f.Desc.IsList() || f.Desc.IsMap() || f.Desc.Kind() == protoreflect.MessageKind || f.Desc.Kind() == protoreflect.BytesKind:
		case f.Desc.Kind() == protoreflect.StringKind:
			zero = `""`
		case f.Desc.Kind() == protoreflect.BoolKind:
			zero = "false"
		default:
			zero = "0"
		}
		if def == "" {
			def = zero
		}
		g.P("func (m *", name, ") Get", f.GoName, "() ", typ, " {")
		switch {
		case isOneof(f):
			g.P("if x, ok := m.Get", f.Oneof.GoName, "().(*", f.GoIdent.GoName, "); ok { return x.", f.GoName, " }")
		case isPointerScalar(f) && f.Desc.Kind() != protoreflect.BytesKind:
			g.P("if m != nil && m.", f.GoName, " != nil { return *m.", f.GoName, " }")
		case isPointerScalar(f):
			g.P("if m != nil && m.", f.GoName, " != nil { return m.", f.GoName, " }")
		default:
			g.P("if m != nil { return m.", f.GoName, " }")
		}
		g.P("return ", def)
		g.P("}")
		g.P()
	}
}

func (w *msgGen) reset(m *protogen.Message) {
	g := w.g
	name := m.GoIdent.GoName
	g.P("// Reset sets every field of m to its zero value.")
	g.P("func (m *", name, ") Reset() { *m = ", name, "{} }")
	g.P()
	// reuse empties m but keeps the memory of its lists, maps, bytes and
	// unknown fields for the next decoding.
	g.P("func (m *", name, ") reuse() {")
	g.P("*m = ", name, "{")
	var maps []string
	for _, f := range m.Fields {
		switch {
		case isOneof(f):
		case f.Desc.IsList():
			g.P(f.GoName, ": m.", f.GoName, "[:0],")
		case f.Desc.IsMap():
			g.P(f.GoName, ": m.", f.GoName, ",")
			maps = append(maps, f.GoName)
		case f.Desc.Kind() == protoreflect.BytesKind && !f.Desc.HasPresence():
			g.P(f.GoName, ": m.", f.GoName, "[:0],")
		}
	}
	g.P(unknownField, ": m.", unknownField, "[:0],")
	g.P("}")
	for _, name := range maps {
		g.P("clear(m.", name, ")")
	}
	g.P("}")
	g.P()
}

// sortedFields returns m's fields in the order protobuf-go writes them:
// fields outside oneofs by number, then each oneof's in declaration order
// of the oneofs, by number within one.
func sortedFields(m *protogen.Message) []*protogen.Field {
	fs := append([]*protogen.Field(nil), m.Fields...)
	key := func(f *protogen.Field) [2]int {
		if isOneof(f) {
			return [2]int{1 + f.Oneof.Desc.Index(), int(f.Desc.Number())}
		}
		return [2]int{0, int(f.Desc.Number())}
	}
	less := func(a, b *protogen.Field) bool {
		ka, kb := key(a), key(b)
		return ka[0] < kb[0] || ka[0] == kb[0] && ka[1] < kb[1]
	}
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && less(fs[j], fs[j-1]); j-- {
			fs[j-1], fs[j] = fs[j], fs[j-1]
		}
	}
	return fs
}

func (w *msgGen) size(m *protogen.Message) {
	g := w.g
	name := m.GoIdent.GoName
	g.P("// SizeWire returns the length of m's encoding.")
	g.P("func (m *", name, ") SizeWire() (n int) {")
	g.P("if m == nil { return 0 }")
	for _, f := range sortedFields(m) {
		_, tl := tagBytes(f.Desc.Number(), wireType(f.Desc.Kind()))
		tag := strconv.Itoa(tl)
		fv := "m." + f.GoName
		switch {
		case f.Desc.IsMap():
			k, v := f.Message.Fields[0], f.Message.Fields[1]
			g.P("for k, v := range ", fv, " {")
			g.P("_ = k; _ = v")
			g.P("e := 1 + ", w.sizeValue(k.Desc, "k"), " + 1 + ", w.sizeValue(v.Desc, "v"))
			g.P("n += ", tag, " + ", w.wire("SizeBytes"), "(e)")
			g.P("}")
		case f.Desc.IsList():
			if f.Desc.IsPacked() {
				g.P("if len(", fv, ") > 0 {")
				switch wireType(f.Desc.Kind()) {
				case protowire.Fixed32Type:
					g.P("n += ", tag, " + ", w.wire("SizeBytes"), "(4*len(", fv, "))")
				case protowire.Fixed64Type:
					g.P("n += ", tag, " + ", w.wire("SizeBytes"), "(8*len(", fv, "))")
				default:
					g.P("p := 0")
					g.P("for _, v := range ", fv, " { _ = v; p += ", w.sizeValue(f.Desc, "v"), " }")
					g.P("n += ", tag, " + ", w.wire("SizeBytes"), "(p)")
				}
				g.P("}")
			} else {
				g.P("for _, v := range ", fv, " { _ = v; n += ", tag, " + ", w.sizeValue(f.Desc, "v"), " }")
			}
		case isOneof(f):
			sv := w.sizeValue(f.Desc, "x."+f.GoName)
			x := "x"
			if !strings.Contains(sv, "x.") {
				x = "_"
			}
			g.P("if ", x, ", ok := m.", f.Oneof.GoName, ".(*", f.GoIdent.GoName, "); ok {")
			g.P("n += ", tag, " + ", sv)
			g.P("}")
		case f.Desc.Kind() == protoreflect.MessageKind:
			g.P("if ", fv, " != nil { n += ", tag, " + ", w.sizeValue(f.Desc, fv), " }")
		case isPointerScalar(f) && f.Desc.Kind() == protoreflect.BytesKind:
			g.P("if ", fv, " != nil { n += ", tag, " + ", w.sizeValue(f.Desc, fv), " }")
		case isPointerScalar(f):
			g.P("if ", fv, " != nil { n += ", tag, " + ", w.sizeValue(f.Desc, "*"+fv), " }")
		default:
			g.P("if ", w.nonZero(f.Desc, fv), " { n += ", tag, " + ", w.sizeValue(f.Desc, fv), " }")
		}
	}
	g.P("return n + len(m.", unknownField, ")")
	g.P("}")
	g.P()
}

// appendField returns statements appending field f with value v, tag first.
func (w *msgGen) appendField(f protoreflect.FieldDescriptor, msg, v string) string {
	tb, _ := tagBytes(f.Number(), wireType(f.Kind()))
	s := "b = append(b, " + tb + ")\n"
	switch f.Kind() {
	case protoreflect.MessageKind:
		// One byte reserved for the length, fixed up after: no sizing pass.
		s += "at := len(b)\nb = append(b, 0)\n"
		s += "if b, err = " + v + ".AppendWire(b); err != nil { return b[:orig], err }\n"
		s += "b = " + w.wire("FinishLen") + "(b, at)"
		return s
	case protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind,
		protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		// Tag and a one-byte varint in one append: values under 128.
		x := "uint64(" + v + ")"
		if k := f.Kind(); k == protoreflect.Sint32Kind || k == protoreflect.Sint64Kind {
			x = w.wire("EncodeZigZag") + "(int64(" + v + "))"
		}
		return "if x := " + x + "; x < 0x80 {\n" +
			"b = append(b, " + tb + ", byte(x))\n" +
			"} else {\n" +
			s + "b = " + w.wire("AppendVarint") + "(b, x)\n" +
			"}"
	case protoreflect.StringKind, protoreflect.BytesKind:
		// Tag and a one-byte length in one append: values under 128 bytes.
		s = "if l := len(" + v + "); l < 0x80 {\n" +
			"b = append(b, " + tb + ", byte(l))\n" +
			"} else {\n" +
			s + "b = " + w.wire("AppendVarint") + "(b, uint64(l))\n" +
			"}\n" +
			"b = append(b, " + v + "...)"
		if enforceUTF8(f) {
			if w.flagged[f] {
				return s
			}
			s = "if !" + w.wire("ASCII") + "(" + v + ") && !" + w.wire("ValidUTF8") + "(" + v + ") { return b[:orig], " + w.wire("FieldError") + "(" + strconv.Quote(msg) + ", " + strconv.Itoa(int(f.Number())) + ", " + w.wire("ErrInvalidUTF8") + ") }\n" + s
		}
		return s
	}
	return s + w.appendValue(f, v)
}

func (w *msgGen) marshal(m *protogen.Message) {
	g := w.g
	name := m.GoIdent.GoName
	full := string(m.Desc.FullName())
	g.P("// AppendWire appends the encoding of m to b: fields in number order,")
	g.P("// map entries by key, then the unknown fields m keeps. It allocates only if")
	g.P("// b lacks capacity (and for maps of more than 16 entries, to sort them).")
	g.P("// On error it returns b as it was.")
	g.P("func (m *", name, ") AppendWire(b []byte) (_ []byte, err error) {")
	g.P("if m == nil { return b, nil }")
	g.P("orig := len(b)")
	g.P("_, _ = orig, err")
	// The plain string fields are checked together, before any is written:
	// one ASCII test each, with little live around the calls, and each
	// checked rune by rune only if one of them is not ASCII.
	w.flagged = nil
	if plain := plainUTF8(m); len(plain) > 0 {
		w.flagged = make(map[protoreflect.FieldDescriptor]bool)
		tests := make([]string, len(plain))
		for i, f := range plain {
			w.flagged[f.Desc] = true
			tests[i] = "!" + w.wire("ASCII") + "(m." + f.GoName + ")"
		}
		g.P("if ", strings.Join(tests, " || "), " {")
		for _, f := range plain {
			g.P("if !", w.wire("ValidUTF8"), "(m.", f.GoName, ") { return b, ", w.wire("FieldError"), "(", strconv.Quote(full), ", ", f.Desc.Number(), ", ", w.wire("ErrInvalidUTF8"), ") }")
		}
		g.P("}")
	}
	for _, f := range sortedFields(m) {
		fv := "m." + f.GoName
		switch {
		case f.Desc.IsMap():
			k, v := f.Message.Fields[0], f.Message.Fields[1]
			tb, _ := tagBytes(f.Desc.Number(), protowire.BytesType)
			g.P("if len(", fv, ") > 0 {")
			entry := func(kv, vv string) {
				g.P("v := ", vv)
				if v.Desc.Kind() == protoreflect.FloatKind {
					// protobuf-go holds a map's values as protoreflect.Values,
					// a float as a float64: the conversions set the quiet bit
					// of a signaling NaN, and so does this, to write its bytes.
					g.P("if u := ", w.math("Float32bits"), "(v); u&0x7fc00000 == 0x7f800000 && u&0x003fffff != 0 { v = ", w.math("Float32frombits"), "(u | 0x00400000) }")
				}
				g.P("b = append(b, ", tb, ")")
				if v.Desc.Kind() == protoreflect.MessageKind {
					g.P("entry := len(b)")
					g.P("b = append(b, 0)")
				} else {
					g.P("b = ", w.wire("AppendVarint"), "(b, uint64(1 + ", w.sizeValue(k.Desc, kv), " + 1 + ", w.sizeValue(v.Desc, "v"), "))")
				}
				g.P(w.appendField(k.Desc, full, kv))
				if v.Desc.Kind() == protoreflect.MessageKind {
					tv, _ := tagBytes(2, protowire.BytesType)
					g.P("b = append(b, ", tv, ")")
					g.P("at := len(b)")
					g.P("b = append(b, 0)")
					g.P("if b, err = v.AppendWire(b); err != nil { return b[:orig], err }")
					g.P("b = ", w.wire("FinishLen"), "(b, at)")
					g.P("b = ", w.wire("FinishLen"), "(b, entry)")
				} else {
					g.P(w.appendField(v.Desc, full, "v"))
				}
			}
			if k.Desc.Kind() == protoreflect.BoolKind {
				g.P("for _, k := range [2]bool{false, true} {")
				g.P("mv, ok := ", fv, "[k]")
				g.P("if !ok { continue }")
				entry("k", "mv")
				g.P("}")
			} else {
				// The entries are copied out with their values (no lookup
				// after sorting) and sorted by key, by insertion for the
				// few a message usually holds, on the stack.
				g.P("type pair struct { k ", w.goType(k), "; v ", w.goType(v), " }")
				g.P("var a [16]pair")
				g.P("es := a[:0]")
				g.P("for k, v := range ", fv, " { es = append(es, pair{k, v}) }")
				g.P("if len(es) <= len(a) {")
				g.P("for i := 1; i < len(es); i++ {")
				g.P("for j := i; j > 0 && es[j].k < es[j-1].k; j-- { es[j], es[j-1] = es[j-1], es[j] }")
				g.P("}")
				g.P("} else {")
				g.P(w.slices("SortFunc"), "(es, func(x, y pair) int {")
				g.P("if x.k < y.k { return -1 }")
				g.P("if x.k > y.k { return 1 }")
				g.P("return 0")
				g.P("})")
				g.P("}")
				g.P("for _, e := range es {")
				entry("e.k", "e.v")
				g.P("}")
			}
			g.P("}")
		case f.Desc.IsList():
			if f.Desc.IsPacked() {
				tb, _ := tagBytes(f.Desc.Number(), protowire.BytesType)
				g.P("if len(", fv, ") > 0 {")
				g.P("b = append(b, ", tb, ")")
				switch wireType(f.Desc.Kind()) {
				case protowire.Fixed32Type:
					g.P("b = ", w.wire("AppendVarint"), "(b, uint64(4*len(", fv, ")))")
				case protowire.Fixed64Type:
					g.P("b = ", w.wire("AppendVarint"), "(b, uint64(8*len(", fv, ")))")
				default:
					if f.Desc.Kind() == protoreflect.BoolKind {
						g.P("p := len(", fv, ")")
					} else {
						g.P("p := 0")
						g.P("for _, v := range ", fv, " { p += ", w.sizeValue(f.Desc, "v"), " }")
					}
					g.P("b = ", w.wire("AppendVarint"), "(b, uint64(p))")
				}
				g.P("for _, v := range ", fv, " {")
				g.P(w.appendValue(f.Desc, "v"))
				g.P("}")
				g.P("}")
			} else {
				g.P("for _, v := range ", fv, " {")
				g.P(w.appendField(f.Desc, full, "v"))
				g.P("}")
			}
		case isOneof(f):
			g.P("if x, ok := m.", f.Oneof.GoName, ".(*", f.GoIdent.GoName, "); ok {")
			g.P(w.appendField(f.Desc, full, "x."+f.GoName))
			g.P("}")
		case f.Desc.Kind() == protoreflect.MessageKind:
			g.P("if ", fv, " != nil {")
			g.P(w.appendField(f.Desc, full, fv))
			g.P("}")
		case isPointerScalar(f) && f.Desc.Kind() == protoreflect.BytesKind:
			g.P("if ", fv, " != nil {")
			g.P(w.appendField(f.Desc, full, fv))
			g.P("}")
		case isPointerScalar(f):
			g.P("if ", fv, " != nil {")
			g.P(w.appendField(f.Desc, full, "*"+fv))
			g.P("}")
		default:
			g.P("if ", w.nonZero(f.Desc, fv), " {")
			g.P(w.appendField(f.Desc, full, fv))
			g.P("}")
		}
		if f.Desc.Cardinality() == protoreflect.Required {
			g.P("if ", fv, " == nil { return b[:orig], ", w.wire("FieldError"), "(", strconv.Quote(full), ", ", f.Desc.Number(), ", ", w.wire("ErrRequired"), ") }")
		}
	}
	g.P("if len(m.", unknownField, ") > 0 { b = append(b, m.", unknownField, "...) }")
	g.P("return b, nil")
	g.P("}")
	g.P()
}

func (w *msgGen) unmarshal(m *protogen.Message) {
	g := w.g
	name := m.GoIdent.GoName
	full := string(m.Desc.FullName())
	q := strconv.Quote(full)
	g.P("// UnmarshalWire replaces the contents of m with those decoded from b. It")
	g.P("// reuses the memory of m's lists, maps and bytes fields, so values taken")
	g.P("// from m before the call may change; it does not retain b. On error m is")
	g.P("// left empty.")
	g.P("func (m *", name, ") UnmarshalWire(b []byte) error {")
	g.P("m.reuse()")
	g.P("if err := m.MergeWire(b, 0); err != nil {")
	g.P("m.Reset()")
	g.P("return err")
	g.P("}")
	if w.needsCheck(m) {
		g.P("if err := m.checkRequired(); err != nil {")
		g.P("m.Reset()")
		g.P("return err")
		g.P("}")
	}
	g.P("return nil")
	g.P("}")
	g.P()
	if w.needsCheck(m) {
		w.checkRequired(m)
	}
	g.P("// MergeWire decodes b into m as protobuf merges: singular fields are")
	g.P("// replaced, messages merged, lists appended to. depth is the number of")
	g.P("// messages around m (0 for a top-level one), bounded by")
	g.P("// wire.MaxMessageDepth. On error m holds part of b.")
	g.P("func (m *", name, ") MergeWire(b []byte, depth int) error {")
	g.P("if depth > ", w.wire("MaxMessageDepth"), " { return ", w.wire("MessageError"), "(", q, ", ", w.wire("ErrMessageDepth"), ") }")
	deferred := deferredStrings(m)
	if len(deferred) > 0 {
		// An array, not one variable per field: it stays in memory, where
		// a string read stores its bytes, rather than being carried in
		// registers (and spilled) around every turn of the loop.
		var names []string
		for _, f := range deferred {
			names = append(names, f.GoName+" ("+deferredName(f)+")")
		}
		line := "// The bytes in b of the strings"
		for i, n := range names {
			if i < len(names)-1 {
				n += ","
			}
			if len(line)+1+len(n) > 76 {
				g.P(line)
				line = "//"
			}
			line += " " + n
		}
		g.P(line, ", copied")
		g.P("// into one allocation at the end.")
		g.P("var str [", len(deferred), "][]byte")
	}
	// b is read at index i, never re-sliced: each field adds its length
	// to i (see advance).
	g.P("// b[i:] is still to read.")
	g.P("for i := 0; i < len(b); {")
	// A one-byte tag is taken as it is: a case below checks the type of a
	// field it knows, and the number 0 and the invalid types are refused
	// with the unknown fields.
	g.P("num, typ := ", w.wire("Number"), "(b[i]>>3), ", w.wire("Type"), "(b[i]&7)")
	g.P("if b[i] < 0x80 {")
	g.P("// Its number and type are checked below, by a field's case or with the unknown fields.")
	g.P("i++")
	g.P("} else {")
	g.P("var n int")
	g.P("if num, typ, n = ", w.wire("ConsumeTag"), "(b[i:]); n < 0 { return ", w.wire("MessageError"), "(", q, ", ", w.wire("ParseError"), "(n)) }")
	g.P("i += n")
	g.P("}")
	g.P("switch num {")
	for _, f := range sortedFields(m) {
		num := strconv.Itoa(int(f.Desc.Number()))
		fv := "m." + f.GoName
		wt := w.wire(wireTypeName(wireType(f.Desc.Kind())))
		g.P("case ", num, ":")
		switch {
		case f.Desc.IsMap():
			k, v := f.Message.Fields[0], f.Message.Fields[1]
			g.P("if typ != ", w.wire("TypeLen"), " { break }")
			g.P(w.consumeBytes("if n < 0 { return "+w.wire("FieldError")+"("+q+", "+num+", "+w.wire("ParseError")+"(n)) }\n", true))
			g.P("e := x")
			g.P("i += n")
			g.P("var mk ", w.goType(k))
			if v.Desc.Kind() == protoreflect.MessageKind {
				g.P("var mv ", w.goType(v))
			} else {
				g.P("var mv ", w.goType(v))
			}
			g.P("if _, err := func(b []byte) (bool, error) {")
			g.P("for len(b) > 0 {")
			g.P("num, typ, n := ", w.wire("ConsumeTag"), "(b)")
			g.P("if n < 0 { return false, ", w.wire("FieldError"), "(", q, ", ", num, ", ", w.wire("ParseError"), "(n)) }")
			g.P("b = b[n:]")
			g.P("switch {")
			g.P("case num == 1 && typ == ", w.wire(wireTypeName(wireType(k.Desc.Kind()))), ":")
			g.P(w.decodeValue(withNumber(k.Desc, f.Desc), full, w.goType(k), "false, ", false))
			g.P("mk = v")
			g.P("continue")
			g.P("case num == 2 && typ == ", w.wire(wireTypeName(wireType(v.Desc.Kind()))), ":")
			if v.Desc.Kind() == protoreflect.MessageKind {
				g.P(w.consumeBytes("if n < 0 { return false, "+w.wire("FieldError")+"("+q+", "+num+", "+w.wire("ParseError")+"(n)) }\n", false))
				g.P("b = b[n:]")
				g.P("if mv == nil { mv = new(", w.g.QualifiedGoIdent(v.Message.GoIdent), ") }")
				g.P("if err := mv.MergeWire(x, depth+1); err != nil { return false, err }")
			} else {
				g.P(w.decodeValue(withNumber(v.Desc, f.Desc), full, w.goType(v), "false, ", false))
				if v.Desc.Kind() == protoreflect.BytesKind {
					g.P("mv = append([]byte{}, v...)")
				} else {
					g.P("mv = v")
				}
			}
			g.P("continue")
			g.P("}")
			g.P("n = ", w.wire("ConsumeFieldValue"), "(num, typ, b)")
			g.P("if n < 0 { return false, ", w.wire("FieldError"), "(", q, ", ", num, ", ", w.wire("ParseError"), "(n)) }")
			g.P("b = b[n:]")
			g.P("}")
			g.P("return false, nil")
			g.P("}(e); err != nil {")
			g.P("return err")
			g.P("}")
			if v.Desc.Kind() == protoreflect.MessageKind {
				g.P("if mv == nil { mv = new(", w.g.QualifiedGoIdent(v.Message.GoIdent), ") }")
			} else if v.Desc.Kind() == protoreflect.BytesKind {
				g.P("if mv == nil { mv = []byte{} }")
			}
			g.P("if ", fv, " == nil { ", fv, " = make(", w.fieldType(f), ") }")
			g.P(fv, "[mk] = mv")
			g.P("continue")
		case f.Desc.IsList() && f.Desc.Kind() == protoreflect.MessageKind:
			g.P("if typ != ", w.wire("TypeLen"), " { break }")
			g.P(w.consumeBytes("if n < 0 { return "+w.wire("FieldError")+"("+q+", "+num+", "+w.wire("ParseError")+"(n)) }\n", true))
			g.P("i += n")
			g.P("var e ", w.goType(f))
			g.P("if l := len(", fv, "); l < cap(", fv, ") {")
			g.P(fv, " = ", fv, "[:l+1]")
			reset := "e.Reset()"
			if f.Message.GoIdent.GoImportPath == m.GoIdent.GoImportPath {
				reset = "e.reuse()" // keeps the element's own lists and maps too
			}
			g.P("if e = ", fv, "[l]; e == nil { e = new(", w.g.QualifiedGoIdent(f.Message.GoIdent), "); ", fv, "[l] = e } else { ", reset, " }")
			g.P("} else {")
			g.P("e = new(", w.g.QualifiedGoIdent(f.Message.GoIdent), ")")
			g.P(fv, " = append(", fv, ", e)")
			g.P("}")
			g.P("if err := e.MergeWire(x, depth+1); err != nil { return err }")
			g.P("continue")
		case f.Desc.IsList():
			store := fv + " = append(" + fv + ", v)"
			if f.Desc.Kind() == protoreflect.BytesKind {
				store = fv + " = append(" + fv + ", append([]byte{}, v...))"
			}
			if wt := wireType(f.Desc.Kind()); wt != protowire.BytesType {
				// Packed or not, whatever the .proto says.
				g.P("if typ == ", w.wire("TypeLen"), " {")
				g.P(w.consumeBytes("if n < 0 { return "+w.wire("FieldError")+"("+q+", "+num+", "+w.wire("ParseError")+"(n)) }\n", true))
				g.P("i += n")
				switch wt {
				case protowire.Fixed32Type:
					g.P("if len(x)%4 != 0 { return ", w.wire("FieldError"), "(", q, ", ", num, ", ", w.wire("ErrTruncated"), ") }")
					g.P(fv, " = ", w.slices("Grow"), "(", fv, ", len(x)/4)")
				case protowire.Fixed64Type:
					g.P("if len(x)%8 != 0 { return ", w.wire("FieldError"), "(", q, ", ", num, ", ", w.wire("ErrTruncated"), ") }")
					g.P(fv, " = ", w.slices("Grow"), "(", fv, ", len(x)/8)")
				default:
					g.P("c := 0")
					g.P("for _, x := range x { if x < 0x80 { c++ } }")
					g.P(fv, " = ", w.slices("Grow"), "(", fv, ", c)")
				}
				g.P("for b := x; len(b) > 0; {")
				g.P(w.decodeOwn(f, full, false))
				g.P(store)
				g.P("}")
				g.P("continue")
				g.P("}")
			}
			g.P("if typ != ", wt, " { break }")
			g.P(w.decodeOwn(f, full, true))
			g.P(store)
			g.P("continue")
		case f.Desc.Kind() == protoreflect.MessageKind:
			g.P("if typ != ", w.wire("TypeLen"), " { break }")
			g.P(w.consumeBytes("if n < 0 { return "+w.wire("FieldError")+"("+q+", "+num+", "+w.wire("ParseError")+"(n)) }\n", true))
			g.P("i += n")
			if isOneof(f) {
				g.P("o, ok := m.", f.Oneof.GoName, ".(*", f.GoIdent.GoName, ")")
				g.P("if !ok || o.", f.GoName, " == nil {")
				g.P("o = &", f.GoIdent.GoName, "{", f.GoName, ": new(", w.g.QualifiedGoIdent(f.Message.GoIdent), ")}")
				g.P("m.", f.Oneof.GoName, " = o")
				g.P("}")
				g.P("if err := o.", f.GoName, ".MergeWire(x, depth+1); err != nil { return err }")
			} else {
				g.P("if ", fv, " == nil { ", fv, " = new(", w.g.QualifiedGoIdent(f.Message.GoIdent), ") }")
				g.P("if err := ", fv, ".MergeWire(x, depth+1); err != nil { return err }")
			}
			g.P("continue")
		default:
			g.P("if typ != ", wt, " { break }")
			g.P(w.decodeOwn(f, full, true))
			kind := f.Desc.Kind()
			switch {
			case slices.Contains(deferred, f):
				// Stored after the loop.
			case isOneof(f) && kind == protoreflect.BytesKind:
				g.P("m.", f.Oneof.GoName, " = &", f.GoIdent.GoName, "{", f.GoName, ": append([]byte{}, v...)}")
			case isOneof(f):
				g.P("m.", f.Oneof.GoName, " = &", f.GoIdent.GoName, "{", f.GoName, ": v}")
			case kind == protoreflect.BytesKind && f.Desc.HasPresence():
				g.P(fv, " = append([]byte{}, v...)")
			case kind == protoreflect.BytesKind:
				g.P(fv, " = append(", fv, "[:0], v...)")
			case isPointerScalar(f):
				g.P(fv, " = &v")
			default:
				g.P(fv, " = v")
			}
			if isOneof(f) {
				// The last member read wins: forget a string member read
				// before, once checked.
				for _, d := range deferred {
					if d != f && d.Oneof == f.Oneof {
						if c := w.checkReplaced(d, q); c != "" {
							g.P(c)
						}
						g.P(deferredName(d), " = nil")
					}
				}
			}
			g.P("continue")
		}
	}
	g.P("}")
	g.P("if num == 0 { return ", w.wire("MessageError"), "(", q, ", ", w.wire("ErrFieldNumber"), ") }")
	g.P("n := ", w.wire("ConsumeFieldValue"), "(num, typ, b[i:]) // refuses the types 4, 6 and 7")
	g.P("if n < 0 { return ", w.wire("FieldError"), "(", q, ", num, ", w.wire("ParseError"), "(n)) }")
	g.P("// Kept with its tag re-encoded minimally, as protobuf-go keeps it.")
	g.P("m.", unknownField, " = append(", w.wire("AppendTag"), "(m.", unknownField, ", num, typ), b[i:i+n]...)")
	g.P("i += n")
	g.P("}")
	if len(deferred) > 0 {
		var lens []string
		for _, f := range deferred {
			lens = append(lens, "len("+deferredName(f)+")")
		}
		g.P("// The strings' bytes, copied into one allocation that they share")
		g.P("// (never written again once it is a string).")
		g.P("buf := make([]byte, ", strings.Join(lens, " + "), ")")
		for i, f := range deferred {
			switch {
			case len(deferred) == 1:
				g.P("copy(buf, ", deferredName(f), ")")
			case i == 0:
				g.P("n := copy(buf, ", deferredName(f), ")")
			case i < len(deferred)-1:
				g.P("n += copy(buf[n:], ", deferredName(f), ")")
			default:
				g.P("copy(buf[n:], ", deferredName(f), ")")
			}
		}
		var checked []*protogen.Field
		for _, f := range deferred {
			if enforceUTF8(f.Desc) {
				checked = append(checked, f)
			}
		}
		if len(checked) > 0 {
			g.P("// Checked for UTF-8 together: one test of the copy when it is all ASCII.")
			g.P("if !", w.wire("ASCII"), "(buf) {")
			for _, f := range checked {
				g.P("if !", w.wire("ValidUTF8"), "(", deferredName(f), ") { return ", w.wire("FieldError"), "(", q, ", ", f.Desc.Number(), ", ", w.wire("ErrInvalidUTF8"), ") }")
			}
			g.P("}")
		}
		g.P("all := ", w.g.QualifiedGoIdent(unsafePackage.Ident("String")), "(", w.g.QualifiedGoIdent(unsafePackage.Ident("SliceData")), "(buf), len(buf))")
		for i, f := range deferred {
			x := deferredName(f)
			g.P("if ", x, " != nil {")
			if isOneof(f) {
				g.P("m.", f.Oneof.GoName, " = &", f.GoIdent.GoName, "{", f.GoName, ": all[:len(", x, ")]}")
			} else if isPointerScalar(f) {
				g.P("v := all[:len(", x, ")]")
				g.P("m.", f.GoName, " = &v")
			} else {
				g.P("m.", f.GoName, " = all[:len(", x, ")]")
			}
			g.P("}")
			if i < len(deferred)-1 {
				g.P("all = all[len(", x, "):]")
			}
		}
	}
	g.P("return nil")
	g.P("}")
	g.P()
}

// deferredStrings are the string fields of m whose values a decoder copies
// into one allocation once the whole message is read, or none. That pays
// (one malloc fewer per string, against a builder's bookkeeping) for a flat
// message of two or more strings: scalars and strings only. While decoding,
// each such field keeps the bytes of its last occurrence in b (each
// occurrence checked for UTF-8 as it is read; a oneof member read forgets
// the other members' bytes), so no walk ahead is needed to size the
// allocation. A kept string keeps the others' bytes alive too, never b.
func deferredStrings(m *protogen.Message) []*protogen.Field {
	var fs []*protogen.Field
	for _, f := range m.Fields {
		switch {
		case f.Desc.IsList() || f.Desc.IsMap():
			return nil
		case f.Desc.Kind() == protoreflect.MessageKind || f.Desc.Kind() == protoreflect.GroupKind || f.Desc.Kind() == protoreflect.BytesKind:
			return nil
		case f.Desc.Kind() == protoreflect.StringKind:
			fs = append(fs, f)
		}
	}
	if len(fs) < 2 {
		return nil
	}
	return fs
}

// deferredName is the element of the local array str that holds the
// bytes of a deferred string field while its message is decoded.
func deferredName(f *protogen.Field) string {
	return "str[" + strconv.Itoa(slices.Index(deferredStrings(f.Parent), f)) + "]"
}

// decodeOwn is decodeValue for a field of the message itself (not a map's
// key or value). A string of deferredStrings keeps its bytes in its local
// instead of becoming a string, and is checked for UTF-8 with the others
// once they are copied; an occurrence it replaces is checked here.
func (w *msgGen) decodeOwn(f *protogen.Field, msg string, idx bool) string {
	if f.Desc.Kind() != protoreflect.StringKind || !slices.Contains(deferredStrings(f.Parent), f) {
		return w.decodeValue(f.Desc, msg, w.goType(f), "", idx)
	}
	q := strconv.Quote(msg)
	check := w.checkReplaced(f, q)
	if check != "" {
		check += "\n"
	}
	return w.consumeBytes("if n < 0 { return "+w.wire("FieldError")+"("+q+", "+strconv.Itoa(int(f.Desc.Number()))+", "+w.wire("ParseError")+"(n)) }\n", idx) +
		advance(idx) + check + deferredName(f) + " = x"
}

// checkReplaced returns the statement that checks for UTF-8 the bytes of
// deferred string field f before they are forgotten (another occurrence
// or oneof member read), or "" if f is not checked. q is the quoted name of
// the message.
func (w *msgGen) checkReplaced(f *protogen.Field, q string) string {
	if !enforceUTF8(f.Desc) {
		return ""
	}
	x := deferredName(f)
	return "// Bytes about to be forgotten are checked now; the kept ones at the end.\n" +
		"if " + x + " != nil && !" + w.wire("ValidUTF8") + "(" + x + ") { return " + w.wire("FieldError") + "(" + q + ", " + strconv.Itoa(int(f.Desc.Number())) + ", " + w.wire("ErrInvalidUTF8") + ") }"
}

// needsCheck reports whether m, or a message it holds, has required fields:
// then UnmarshalWire checks them all, as protobuf-go's Unmarshal does. Only
// messages of the same Go package count (the check is an unexported method).
func (w *msgGen) needsCheck(m *protogen.Message) bool {
	if w.checks == nil {
		w.checks = make(map[*protogen.Message]bool)
	}
	if v, ok := w.checks[m]; ok {
		return v
	}
	// A walk of the messages m reaches, each once.
	seen := map[*protogen.Message]bool{}
	var reaches func(m *protogen.Message) bool
	reaches = func(m *protogen.Message) bool {
		if seen[m] {
			return false
		}
		seen[m] = true
		for _, f := range m.Fields {
			if f.Desc.Cardinality() == protoreflect.Required {
				return true
			}
			if t := held(f); t != nil && t.GoIdent.GoImportPath == m.GoIdent.GoImportPath && reaches(t) {
				return true
			}
		}
		return false
	}
	w.checks[m] = reaches(m)
	return w.checks[m]
}

// held is the message type a field holds (itself, as a list element or as a
// map's value), or nil.
func held(f *protogen.Field) *protogen.Message {
	if f.Desc.IsMap() {
		return f.Message.Fields[1].Message
	}
	return f.Message
}

// checkRequired writes m's checkRequired method: the first required field
// not set in m or in a message it holds, as an error wrapping
// wire.ErrRequired.
func (w *msgGen) checkRequired(m *protogen.Message) {
	g := w.g
	full := strconv.Quote(string(m.Desc.FullName()))
	g.P("// checkRequired returns an error naming the first required field not set")
	g.P("// in m or in the messages it holds.")
	g.P("func (m *", m.GoIdent.GoName, ") checkRequired() error {")
	g.P("if m == nil { return nil }")
	for _, f := range sortedFields(m) {
		fv := "m." + f.GoName
		if f.Desc.Cardinality() == protoreflect.Required {
			g.P("if ", fv, " == nil { return ", w.wire("FieldError"), "(", full, ", ", f.Desc.Number(), ", ", w.wire("ErrRequired"), ") }")
		}
		t := held(f)
		if t == nil || t.GoIdent.GoImportPath != m.GoIdent.GoImportPath || !w.needsCheck(t) {
			continue
		}
		switch {
		case f.Desc.IsMap() || f.Desc.IsList():
			g.P("for _, v := range ", fv, " { if err := v.checkRequired(); err != nil { return err } }")
		case isOneof(f):
			g.P("if x, ok := m.", f.Oneof.GoName, ".(*", f.GoIdent.GoName, "); ok { if err := x.", f.GoName, ".checkRequired(); err != nil { return err } }")
		default:
			g.P("if err := ", fv, ".checkRequired(); err != nil { return err }")
		}
	}
	g.P("return nil")
	g.P("}")
	g.P()
}

// numbered is a field descriptor reporting another field's number, so that
// errors about a map's key or value name the map field.
type numbered struct {
	protoreflect.FieldDescriptor
	num protoreflect.FieldNumber
}

func (n numbered) Number() protoreflect.FieldNumber { return n.num }
func (n numbered) EnforceUTF8() bool                { return enforceUTF8(n.FieldDescriptor) }

func withNumber(f, outer protoreflect.FieldDescriptor) protoreflect.FieldDescriptor {
	return numbered{f, outer.Number()}
}

func (w *msgGen) equalValue(f protoreflect.FieldDescriptor, a, b string) string {
	switch f.Kind() {
	case protoreflect.BytesKind:
		return w.bytes("Equal") + "(" + a + ", " + b + ")"
	case protoreflect.MessageKind:
		return a + ".Equal(" + b + ")"
	}
	return a + " == " + b
}

func (w *msgGen) equal(m *protogen.Message) {
	g := w.g
	name := m.GoIdent.GoName
	g.P("// Equal reports whether m and o hold the same fields, unknown fields")
	g.P("// included. Two nil messages are equal; nil and non-nil are not. Floating")
	g.P("// point fields compare with ==.")
	g.P("func (m *", name, ") Equal(o *", name, ") bool {")
	g.P("if m == nil || o == nil { return m == o }")
	done := map[*protogen.Oneof]bool{}
	for _, f := range m.Fields {
		a, b := "m."+f.GoName, "o."+f.GoName
		switch {
		case f.Desc.IsMap():
			v := f.Message.Fields[1]
			g.P("if len(", a, ") != len(", b, ") { return false }")
			g.P("for k, v := range ", a, " {")
			g.P("w, ok := ", b, "[k]")
			g.P("if !ok || !(", w.equalValue(v.Desc, "v", "w"), ") { return false }")
			g.P("}")
		case f.Desc.IsList():
			g.P("if len(", a, ") != len(", b, ") { return false }")
			g.P("for i, v := range ", a, " {")
			g.P("if !(", w.equalValue(f.Desc, "v", b+"[i]"), ") { return false }")
			g.P("}")
		case isOneof(f):
			if done[f.Oneof] {
				continue
			}
			done[f.Oneof] = true
			g.P("switch x := m.", f.Oneof.GoName, ".(type) {")
			g.P("case nil:")
			g.P("if o.", f.Oneof.GoName, " != nil { return false }")
			for _, of := range f.Oneof.Fields {
				g.P("case *", of.GoIdent.GoName, ":")
				g.P("y, ok := o.", f.Oneof.GoName, ".(*", of.GoIdent.GoName, ")")
				g.P("if !ok || !(", w.equalValue(of.Desc, "x."+of.GoName, "y."+of.GoName), ") { return false }")
			}
			g.P("}")
		case isPointerScalar(f) && f.Desc.Kind() == protoreflect.BytesKind:
			g.P("if (", a, " == nil) != (", b, " == nil) || !", w.bytes("Equal"), "(", a, ", ", b, ") { return false }")
		case isPointerScalar(f):
			g.P("if (", a, " == nil) != (", b, " == nil) || (", a, " != nil && *", a, " != *", b, ") { return false }")
		default:
			g.P("if !(", w.equalValue(f.Desc, a, b), ") { return false }")
		}
	}
	g.P("return ", w.bytes("Equal"), "(m.", unknownField, ", o.", unknownField, ")")
	g.P("}")
	g.P()
}

func (w *msgGen) cloneValue(f protoreflect.FieldDescriptor, v string) string {
	switch f.Kind() {
	case protoreflect.BytesKind:
		return w.bytes("Clone") + "(" + v + ")"
	case protoreflect.MessageKind:
		return v + ".Clone()"
	}
	return v
}

func (w *msgGen) clone(m *protogen.Message) {
	g := w.g
	name := m.GoIdent.GoName
	g.P("// Clone returns a deep copy of m (nil for nil).")
	g.P("func (m *", name, ") Clone() *", name, " {")
	g.P("if m == nil { return nil }")
	g.P("c := *m")
	done := map[*protogen.Oneof]bool{}
	for _, f := range m.Fields {
		a := "m." + f.GoName
		c := "c." + f.GoName
		switch {
		case f.Desc.IsMap():
			v := f.Message.Fields[1]
			g.P("if ", a, " != nil {")
			g.P(c, " = make(", w.fieldType(f), ", len(", a, "))")
			g.P("for k, v := range ", a, " { ", c, "[k] = ", w.cloneValue(v.Desc, "v"), " }")
			g.P("}")
		case f.Desc.IsList():
			switch f.Desc.Kind() {
			case protoreflect.BytesKind, protoreflect.MessageKind:
				g.P("if ", a, " != nil {")
				g.P(c, " = make(", w.fieldType(f), ", len(", a, "))")
				g.P("for i, v := range ", a, " { ", c, "[i] = ", w.cloneValue(f.Desc, "v"), " }")
				g.P("}")
			default:
				g.P(c, " = ", w.slices("Clone"), "(", a, ")")
			}
		case isOneof(f):
			if done[f.Oneof] {
				continue
			}
			done[f.Oneof] = true
			g.P("switch x := m.", f.Oneof.GoName, ".(type) {")
			for _, of := range f.Oneof.Fields {
				g.P("case *", of.GoIdent.GoName, ":")
				g.P("c.", f.Oneof.GoName, " = &", of.GoIdent.GoName, "{", of.GoName, ": ", w.cloneValue(of.Desc, "x."+of.GoName), "}")
			}
			g.P("}")
		case f.Desc.Kind() == protoreflect.MessageKind, f.Desc.Kind() == protoreflect.BytesKind:
			g.P(c, " = ", w.cloneValue(f.Desc, a))
		case isPointerScalar(f):
			g.P("if ", a, " != nil { v := *", a, "; ", c, " = &v }")
		}
	}
	g.P("c.", unknownField, " = ", w.bytes("Clone"), "(m.", unknownField, ")")
	g.P("return &c")
	g.P("}")
	g.P()
}
