package reflection_test

import (
	"context"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/internal/leakcheck"
	"github.com/h2rpc/h2rpc/reflection"
	"github.com/h2rpc/h2rpc/rpc"
	"github.com/h2rpc/h2rpc/wire"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// Descriptors written with wire: FileDescriptorProto and the messages in it.

func named(name string, fields ...[]byte) []byte {
	b := wire.AppendStringField(nil, 1, name)
	for _, f := range fields {
		b = append(b, f...)
	}
	return b
}

func sub(num wire.Number, m []byte) []byte {
	return wire.AppendBytes(wire.AppendTag(nil, num, wire.TypeLen), m)
}

func str(num wire.Number, s string) []byte { return wire.AppendStringField(nil, num, s) }

// base.proto: package test.base; message Base { extensions 100 to 200; }
var baseProto = named("test/base.proto", str(2, "test.base"), sub(4, named("Base")))

// svc.proto imports base.proto:
//
//	package test.svc;
//	message Outer { message Inner { string x = 1; } enum Color { RED = 0; } oneof choice {} Inner in = 1; }
//	enum Mode { MODE_A = 0; }
//	extend test.base.Base { string note = 150; }
//	service Echo { rpc Say(Outer) returns (Outer); }
var svcProto = named("test/svc.proto",
	str(2, "test.svc"),
	str(3, "test/base.proto"),
	sub(4, named("Outer",
		sub(3, named("Inner", sub(2, named("x")))),
		sub(4, named("Color", sub(2, named("RED")))),
		sub(8, named("choice")),
		sub(2, named("in")),
	)),
	sub(5, named("Mode", sub(2, named("MODE_A")))),
	sub(7, named("note", str(2, ".test.base.Base"), wire.AppendInt32Field(nil, 3, 150))),
	sub(6, named("Echo", sub(2, named("Say")))),
)

func init() {
	for _, b := range [][]byte{baseProto, svcProto, svcProto} { // twice: the same bytes again are fine
		if err := reflection.RegisterFile(b); err != nil {
			panic(err)
		}
	}
}

func TestRegisterFileErrors(t *testing.T) {
	for name, b := range map[string][]byte{
		"malformed":           {0x0a, 0x05, 'a'},
		"no name":             str(2, "test.noname"),
		"same name, new body": named("test/svc.proto", str(2, "test.other")),
		"symbol taken":        named("test/taken.proto", str(2, "test.svc"), sub(5, named("Mode"))),
		"extension taken":     named("test/ext.proto", sub(7, named("other", str(2, ".test.base.Base"), wire.AppendInt32Field(nil, 3, 150)))),
		"nameless message":    named("test/nameless.proto", sub(4, str(2, "x"))),
	} {
		if err := reflection.RegisterFile(b); err == nil {
			t.Errorf("%s: RegisterFile succeeded", name)
		}
	}
	// Nothing of a failed registration stays.
	if err := reflection.RegisterFile(named("test/ext2.proto", sub(7, named("other", str(2, ".test.base.Base"), wire.AppendInt32Field(nil, 3, 151))))); err != nil {
		t.Errorf("a fresh extension number: %v", err)
	}
}

// deep nests messages past any sensible limit.
func TestRegisterFileDeepNesting(t *testing.T) {
	m := named("M")
	for range 200 {
		m = named("M", sub(3, m))
	}
	if err := reflection.RegisterFile(named("test/deep.proto", sub(4, m))); err == nil {
		t.Error("RegisterFile accepted 200 nested messages")
	}
}

type echo struct{}

// serve starts a server with a service, reflection (from the registry
// alone, or with src first) and returns a reflection stream to it.
func stream(t *testing.T, src reflection.Source, method string) rpc.ClientStream {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := rpc.NewServer()
	s.RegisterService(&rpc.ServiceDesc{ServiceName: "test.svc.Echo", HandlerType: (*any)(nil),
		Methods: []rpc.MethodDesc{{MethodName: "Say", Handler: func(any, context.Context, func(any) error, rpc.UnaryServerInterceptor) (any, error) {
			return []byte{}, nil
		}}}}, echo{})
	reflection.RegisterSource(s, src)
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	cc, err := rpc.Dial(lis.Addr().String(), rpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(func() {
		cancel()
		cc.Close()
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	st, err := cc.NewStream(ctx, &rpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// reply is a decoded ServerReflectionResponse.
type reply struct {
	host, original []byte
	files          []string // the names of the FileDescriptorProtos
	services       []string
	extType        string
	extNumbers     []int32
	errCode        int32
	kind           wire.Number
}

func ask(t *testing.T, st rpc.ClientStream, req []byte) reply {
	t.Helper()
	if err := st.SendMsg(req); err != nil {
		t.Fatal(err)
	}
	var b []byte
	if err := st.RecvMsg(&b); err != nil {
		t.Fatal(err)
	}
	var r reply
	err := wire.Range(b, func(f wire.Field) error {
		switch f.Num {
		case 1:
			r.host = f.Bytes
		case 2:
			r.original = f.Bytes
		case 4, 5, 6, 7:
			r.kind = f.Num
			return wire.Range(f.Bytes, func(g wire.Field) error {
				switch {
				case f.Num == 4 && g.Num == 1:
					name, err := nameOf(g.Bytes)
					if pkg := pkgOf(g.Bytes); pkg == "test.shadow" {
						name = pkg // the Source's file, named by its package
					}
					r.files = append(r.files, name)
					return err
				case f.Num == 5 && g.Num == 1:
					r.extType = string(g.Bytes)
				case f.Num == 5 && g.Num == 2:
					for p := g.Bytes; len(p) > 0; {
						v, n := wire.ConsumeVarint(p)
						if n < 0 {
							return wire.ParseError(n)
						}
						r.extNumbers = append(r.extNumbers, int32(v))
						p = p[n:]
					}
				case f.Num == 6 && g.Num == 1:
					name, err := nameOf(g.Bytes)
					r.services = append(r.services, name)
					return err
				case f.Num == 7 && g.Num == 1:
					r.errCode = g.Int32()
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("response %x: %v", b, err)
	}
	if string(r.original) != string(req) {
		t.Errorf("original_request %x, want %x", r.original, req)
	}
	return r
}

func nameOf(b []byte) (string, error) {
	var name string
	err := wire.Range(b, func(f wire.Field) error {
		if f.Is(1, wire.TypeLen) {
			name = string(f.Bytes)
		}
		return nil
	})
	return name, err
}

func pkgOf(b []byte) string {
	var pkg string
	_ = wire.Range(b, func(f wire.Field) error {
		if f.Is(2, wire.TypeLen) {
			pkg = string(f.Bytes)
		}
		return nil
	})
	return pkg
}

func TestRequests(t *testing.T) {
	for _, method := range []string{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"} {
		t.Run(method, func(t *testing.T) {
			st := stream(t, nil, method)
			r := ask(t, st, append(str(1, "host"), str(7, "*")...))
			if string(r.host) != "host" {
				t.Errorf("valid_host %q, want host", r.host)
			}
			want := []string{reflection.ServiceNameV1, reflection.ServiceNameV1Alpha, "test.svc.Echo"}
			if !slices.Equal(r.services, want) {
				t.Errorf("list_services = %v, want %v", r.services, want)
			}
			// The file comes first, its dependency once per stream.
			if r := ask(t, st, str(4, "test.svc.Echo")); !slices.Equal(r.files, []string{"test/svc.proto", "test/base.proto"}) {
				t.Errorf("file_containing_symbol(service) = %v", r.files)
			}
			for _, sym := range []string{"test.svc.Echo.Say", "test.svc.Outer.Inner", "test.svc.Outer.Inner.x", "test.svc.Outer.RED",
				"test.svc.Outer.choice", "test.svc.MODE_A", "test.svc.Mode", "test.svc.note"} {
				if r := ask(t, st, str(4, sym)); !slices.Equal(r.files, []string{"test/svc.proto"}) {
					t.Errorf("file_containing_symbol(%s) = %v", sym, r.files)
				}
			}
			if r := ask(t, st, str(3, "test/base.proto")); !slices.Equal(r.files, []string{"test/base.proto"}) {
				t.Errorf("file_by_filename(base) = %v", r.files)
			}
			if r := ask(t, st, str(4, "grpc.health.v1.Health.Watch")); !slices.Equal(r.files, []string{"grpc/health/v1/health.proto"}) {
				t.Errorf("file_containing_symbol(health) = %v", r.files)
			}
			// The well-known types' files are built in: generated wire
			// messages import them.
			if r := ask(t, st, str(3, "google/protobuf/timestamp.proto")); !slices.Equal(r.files, []string{"google/protobuf/timestamp.proto"}) {
				t.Errorf("file_by_filename(timestamp) = %v", r.files)
			}
			if r := ask(t, st, str(4, "google.protobuf.Value.struct_value")); !slices.Equal(r.files, []string{"google/protobuf/struct.proto"}) {
				t.Errorf("file_containing_symbol(google.protobuf.Value.struct_value) = %v", r.files)
			}
			ext := append(str(1, "test.base.Base"), wire.AppendInt32Field(nil, 2, 150)...)
			if r := ask(t, st, sub(5, ext)); !slices.Equal(r.files, []string{"test/svc.proto"}) {
				t.Errorf("file_containing_extension = %v", r.files)
			}
			if r := ask(t, st, str(6, "test.base.Base")); r.kind != 5 || r.extType != "test.base.Base" || !slices.Contains(r.extNumbers, 150) {
				t.Errorf("all_extension_numbers_of_type = %+v", r)
			}
			for _, req := range [][]byte{
				str(3, "no/such.proto"),
				str(4, "no.Such"),
				str(4, "test.svc"), // a package is not a symbol
				sub(5, append(str(1, "test.base.Base"), wire.AppendInt32Field(nil, 2, 199)...)),
				str(6, "test.svc.Mode"), // an enum has no extensions
				str(6, "no.Such"),
			} {
				if r := ask(t, st, req); r.kind != 7 || r.errCode != int32(rpc.NotFound) {
					t.Errorf("request %x: %+v, want a NOT_FOUND error_response", req, r)
				}
			}
			if r := ask(t, st, nil); r.kind != 7 || r.errCode != int32(rpc.Unimplemented) {
				t.Errorf("an empty request: %+v, want an UNIMPLEMENTED error_response", r)
			}
			if err := st.CloseSend(); err != nil {
				t.Fatal(err)
			}
			var b []byte
			if err := st.RecvMsg(&b); err != io.EOF {
				t.Errorf("after CloseSend: %v, want io.EOF", err)
			}
		})
	}
}

func TestMalformedRequest(t *testing.T) {
	st := stream(t, nil, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
	if err := st.SendMsg([]byte{0x2a, 0x02, 0x10}); err != nil { // a truncated extension request
		t.Fatal(err)
	}
	var b []byte
	if err := st.RecvMsg(&b); rpc.CodeOf(err) != rpc.InvalidArgument {
		t.Errorf("a malformed request: %v, want INVALID_ARGUMENT", err)
	}
}

// source is a Source of one file that shadows a registered one.
type source struct{}

var shadow = named("test/svc.proto", str(2, "test.shadow"))

func (source) File(name string) ([]byte, bool) {
	return shadow, name == "test/svc.proto"
}
func (source) FileContainingSymbol(s string) (string, bool) {
	return "test/svc.proto", s == "test.shadow.X"
}
func (source) FileContainingExtension(string, int32) (string, bool) { return "", false }
func (source) ExtensionNumbers(string) ([]int32, bool)              { return nil, false }

// A Source is asked first; the registry answers what it does not know.
func TestSource(t *testing.T) {
	st := stream(t, source{}, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
	if r := ask(t, st, str(4, "test.shadow.X")); len(r.files) != 1 {
		t.Errorf("file_containing_symbol(test.shadow.X) = %v", r.files)
	}
	// The registry finds the symbol, the source the file of that name
	// (which imports nothing).
	r := ask(t, st, str(4, "test.svc.Echo"))
	if !slices.Equal(r.files, []string{"test.shadow"}) {
		t.Errorf("file_containing_symbol(test.svc.Echo) = %v", r.files)
	}
}
