package wirecompat

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/h2rpc/h2rpc/examples/messenger/pb"
	"github.com/h2rpc/h2rpc/wire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

const messengerProto = "../../examples/messenger/messenger.proto"

// messengerTypes are the hand-written Go types, by message name.
var messengerTypes = map[string]func() wire.Message{
	"StatusRequest":   func() wire.Message { return new(pb.StatusRequest) },
	"StatusResponse":  func() wire.Message { return new(pb.StatusResponse) },
	"TopicRequest":    func() wire.Message { return new(pb.TopicRequest) },
	"LearningUpdate":  func() wire.Message { return new(pb.LearningUpdate) },
	"ResearchNote":    func() wire.Message { return new(pb.ResearchNote) },
	"SummaryResponse": func() wire.Message { return new(pb.SummaryResponse) },
	"FeedUpdate":      func() wire.Message { return new(pb.FeedUpdate) },
}

var (
	protoMessage = regexp.MustCompile(`(?s)message\s+(\w+)\s*\{(.*?)\}`)
	protoField   = regexp.MustCompile(`^\s*(\w+)\s+(\w+)\s*=\s*(\d+)\s*;`)
	protoRPC     = regexp.MustCompile(`rpc\s+(\w+)\s*\(\s*(stream\s+)?(\w+)\s*\)\s*returns\s*\(\s*(stream\s+)?(\w+)\s*\)`)
	scalarByName = map[string]descriptorpb.FieldDescriptorProto_Type{
		"string": descriptorpb.FieldDescriptorProto_TYPE_STRING,
		"bool":   descriptorpb.FieldDescriptorProto_TYPE_BOOL,
		"int32":  descriptorpb.FieldDescriptorProto_TYPE_INT32,
		"int64":  descriptorpb.FieldDescriptorProto_TYPE_INT64,
		"uint32": descriptorpb.FieldDescriptorProto_TYPE_UINT32,
		"bytes":  descriptorpb.FieldDescriptorProto_TYPE_BYTES,
	}
)

// messengerFile builds the descriptor of messenger.proto from the file
// itself, so that the test follows the .proto: a field added there and not
// to the Go types fails here. It understands the subset the file uses:
// proto3 messages of singular scalar fields, and a service.
func messengerFile(t testing.TB) *descriptorpb.FileDescriptorProto {
	t.Helper()
	src, err := os.ReadFile(messengerProto)
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`//[^\n]*`).ReplaceAllString(string(src), "")
	if !strings.Contains(text, `syntax = "proto3";`) || !strings.Contains(text, "package messenger;") {
		t.Fatalf("%s: not the proto3 file of package messenger this test understands", messengerProto)
	}
	file := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("messenger.proto"),
		Package: proto.String("messenger"),
		Syntax:  proto.String("proto3"),
	}
	for _, m := range protoMessage.FindAllStringSubmatch(text, -1) {
		msg := &descriptorpb.DescriptorProto{Name: proto.String(m[1])}
		for _, line := range strings.Split(m[2], "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			f := protoField.FindStringSubmatch(line)
			if f == nil {
				t.Fatalf("%s: message %s: cannot read field line %q", messengerProto, m[1], line)
			}
			typ, ok := scalarByName[f[1]]
			if !ok {
				t.Fatalf("%s: message %s: type %q not supported by this test", messengerProto, m[1], f[1])
			}
			num, _ := strconv.Atoi(f[3])
			msg.Field = append(msg.Field, field(f[2], int32(num), optional, typ, ""))
		}
		file.MessageType = append(file.MessageType, msg)
	}
	svc := &descriptorpb.ServiceDescriptorProto{Name: proto.String("LearningMessenger")}
	for _, r := range protoRPC.FindAllStringSubmatch(text, -1) {
		svc.Method = append(svc.Method, &descriptorpb.MethodDescriptorProto{
			Name:            proto.String(r[1]),
			InputType:       proto.String(".messenger." + r[3]),
			OutputType:      proto.String(".messenger." + r[5]),
			ClientStreaming: proto.Bool(r[2] != ""),
			ServerStreaming: proto.Bool(r[4] != ""),
		})
	}
	file.Service = []*descriptorpb.ServiceDescriptorProto{svc}
	return file
}

func messengerDescriptors(t testing.TB) protoreflect.FileDescriptor {
	t.Helper()
	fd, err := protodesc.NewFile(messengerFile(t), protoregistry.GlobalFiles)
	if err != nil {
		t.Fatalf("messenger.proto descriptor: %v", err)
	}
	return fd
}

// goFieldName maps a proto field name to the Go field as protoc-gen-go and
// the wire message generator name it: user_id → UserId.
func goFieldName(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "_") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// goField returns the Go struct field of msg for proto field fd.
func goField(t testing.TB, msg wire.Message, fd protoreflect.FieldDescriptor) reflect.Value {
	t.Helper()
	v := reflect.ValueOf(msg).Elem().FieldByName(goFieldName(string(fd.Name())))
	if !v.IsValid() {
		t.Fatalf("%T has no field %s for %s", msg, goFieldName(string(fd.Name())), fd.FullName())
	}
	return v
}

// setBoth sets field fd to the same random value in the Go message and the
// dynamic one.
func setBoth(t testing.TB, r *rand.Rand, fd protoreflect.FieldDescriptor, msg wire.Message, dyn *dynamicpb.Message) {
	gv := goField(t, msg, fd)
	switch fd.Kind() {
	case protoreflect.StringKind:
		s := []string{"", "researcher-01", "héllo, 世界 ✓", strings.Repeat("n", 127), strings.Repeat("m", 128), strings.Repeat("long ", 5000), fmt.Sprint(r.Uint64())}[r.IntN(7)]
		gv.SetString(s)
		dyn.Set(fd, protoreflect.ValueOfString(s))
	case protoreflect.BoolKind:
		v := r.IntN(2) == 1
		gv.SetBool(v)
		dyn.Set(fd, protoreflect.ValueOfBool(v))
	case protoreflect.Int32Kind:
		v := []int32{0, 1, 25, 100, -1, math.MaxInt32, math.MinInt32, r.Int32(), -r.Int32()}[r.IntN(9)]
		gv.SetInt(int64(v))
		dyn.Set(fd, protoreflect.ValueOfInt32(v))
	default:
		t.Fatalf("%s: kind %v not handled", fd.FullName(), fd.Kind())
	}
}

func TestMessengerTypesCoverTheProto(t *testing.T) {
	file := messengerDescriptors(t)
	if file.Messages().Len() != len(messengerTypes) {
		t.Errorf("messenger.proto has %d messages, the Go package %d", file.Messages().Len(), len(messengerTypes))
	}
	for i := 0; i < file.Messages().Len(); i++ {
		md := file.Messages().Get(i)
		newMsg, ok := messengerTypes[string(md.Name())]
		if !ok {
			t.Errorf("message %s has no Go type", md.Name())
			continue
		}
		msg := newMsg()
		exported := 0
		for _, f := range reflect.VisibleFields(reflect.TypeOf(msg).Elem()) {
			if f.IsExported() {
				exported++
			}
		}
		if want := md.Fields().Len(); exported != want {
			t.Errorf("%T has %d exported fields, message %s has %d", msg, exported, md.Name(), want)
		}
		for j := 0; j < md.Fields().Len(); j++ {
			goField(t, msg, md.Fields().Get(j))
		}
	}
	if s := file.Services().ByName("LearningMessenger"); s == nil || s.Methods().Len() != 4 {
		t.Errorf("service LearningMessenger: %v", s)
	}
}

// TestMessengerBytesMatchProtobufGo: for random values, our encoding equals
// protobuf-go's for the same .proto, and each side decodes the other's bytes
// to the same values.
func TestMessengerBytesMatchProtobufGo(t *testing.T) {
	file := messengerDescriptors(t)
	r := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < file.Messages().Len(); i++ {
		md := file.Messages().Get(i)
		newMsg := messengerTypes[string(md.Name())]
		for n := range 200 {
			msg, dyn := newMsg(), dynamicpb.NewMessage(md)
			for j := 0; j < md.Fields().Len(); j++ {
				if n > 0 { // case 0: the empty message
					setBoth(t, r, md.Fields().Get(j), msg, dyn)
				}
			}
			ours, err := msg.AppendWire(nil)
			if err != nil {
				t.Fatalf("%T.AppendWire: %v", msg, err)
			}
			theirs, err := deterministic.Marshal(dyn)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ours, theirs) {
				t.Fatalf("%s %+v:\nwire     % x\nprotobuf % x", md.Name(), msg, trim(ours), trim(theirs))
			}
			back := newMsg()
			if err := back.UnmarshalWire(theirs); err != nil || !reflect.DeepEqual(back, msg) {
				t.Fatalf("%s: decoding protobuf-go's bytes gave %+v (%v), want %+v", md.Name(), back, err, msg)
			}
			dynBack := dynamicpb.NewMessage(md)
			if err := proto.Unmarshal(ours, dynBack); err != nil || !proto.Equal(dynBack, dyn) {
				t.Fatalf("%s: protobuf-go decoding our bytes gave %v (%v), want %v", md.Name(), dynBack, err, dyn)
			}
		}
	}
}

// TestMessengerSkipsFieldsOfANewerVersion: a v2 of each message adds fields
// of every wire type; protobuf-go writes v2, our v1 types read it and see
// what protobuf-go's v1 sees.
func TestMessengerSkipsFieldsOfANewerVersion(t *testing.T) {
	file := messengerFile(t)
	file.Name = proto.String("messenger_v2.proto")
	file.Package = proto.String("messenger.v2")
	file.Service = nil
	for _, m := range file.MessageType {
		m.Field = append(m.Field,
			field("added_text", 15, optional, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
			field("added_numbers", 16, repeated, descriptorpb.FieldDescriptorProto_TYPE_SINT64, ""),
			field("added_fixed", 17, optional, descriptorpb.FieldDescriptorProto_TYPE_FIXED64, ""),
			field("added_float", 18, optional, descriptorpb.FieldDescriptorProto_TYPE_FLOAT, ""),
			field("added_message", 19, optional, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".messenger.v2."+m.GetName()),
			field("added_far", 100000, optional, descriptorpb.FieldDescriptorProto_TYPE_INT64, ""))
	}
	v2, err := protodesc.NewFile(file, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	v1 := messengerDescriptors(t)
	g := &filler{rand.New(rand.NewPCG(11, 12))}
	for i := 0; i < v2.Messages().Len(); i++ {
		md2 := v2.Messages().Get(i)
		md1 := v1.Messages().ByName(md2.Name())
		for range 100 {
			newer := dynamicpb.NewMessage(md2)
			g.fill(newer, 2)
			b, err := deterministic.Marshal(newer)
			if err != nil {
				t.Fatal(err)
			}
			older := dynamicpb.NewMessage(md1)
			if err := proto.Unmarshal(b, older); err != nil {
				t.Fatal(err)
			}
			msg := messengerTypes[string(md2.Name())]()
			if err := msg.UnmarshalWire(b); err != nil {
				t.Fatalf("%s: %v", md2.Name(), err)
			}
			for j := 0; j < md1.Fields().Len(); j++ {
				fd := md1.Fields().Get(j)
				got := goField(t, msg, fd).Interface()
				want := older.Get(fd).Interface()
				if got != want {
					t.Fatalf("%s.%s: wire read %v, protobuf-go v1 read %v", md2.Name(), fd.Name(), got, want)
				}
			}
		}
	}
}

// TestMessengerInvalidUTF8LikeProtobufGo: both refuse to write, and both
// refuse to read, a string that is not UTF-8.
func TestMessengerInvalidUTF8LikeProtobufGo(t *testing.T) {
	file := messengerDescriptors(t)
	for i := 0; i < file.Messages().Len(); i++ {
		md := file.Messages().Get(i)
		for j := 0; j < md.Fields().Len(); j++ {
			fd := md.Fields().Get(j)
			if fd.Kind() != protoreflect.StringKind {
				continue
			}
			msg, dyn := messengerTypes[string(md.Name())](), dynamicpb.NewMessage(md)
			goField(t, msg, fd).SetString("bad\xc0")
			dyn.Set(fd, protoreflect.ValueOfString("bad\xc0"))
			_, ourErr := msg.AppendWire(nil)
			_, theirErr := deterministic.Marshal(dyn)
			if ourErr == nil || theirErr == nil {
				t.Errorf("%s.%s: marshal errors: wire %v, protobuf-go %v; want both", md.Name(), fd.Name(), ourErr, theirErr)
			}
			b := wire.AppendString(wire.AppendTag(nil, wire.Number(fd.Number()), wire.TypeLen), "bad\xc0")
			ourErr = messengerTypes[string(md.Name())]().UnmarshalWire(b)
			theirErr = proto.Unmarshal(b, dynamicpb.NewMessage(md))
			if ourErr == nil || theirErr == nil {
				t.Errorf("%s.%s: unmarshal errors: wire %v, protobuf-go %v; want both", md.Name(), fd.Name(), ourErr, theirErr)
			}
		}
	}
}
