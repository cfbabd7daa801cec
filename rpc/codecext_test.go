package rpc

import (
	"bytes"
	"strings"
	"testing"
)

// protoLike has the method protobuf-go messages have, so the error for it
// names the protobuf module.
type protoLike struct{}

func (protoLike) ProtoReflect() {}

// upperCodec marshals strings, upper-cased so its work shows.
type upperCodec struct{}

func (upperCodec) Name() string { return "proto" }
func (upperCodec) Marshal(v any) ([]byte, error) {
	return []byte(strings.ToUpper(*v.(*string))), nil
}
func (upperCodec) Unmarshal(data []byte, v any) error {
	*v.(*string) = string(data)
	return nil
}

func TestExtendDefaultCodec(t *testing.T) {
	_, err := DefaultCodec.Marshal(&protoLike{})
	if err == nil || !strings.Contains(err.Error(), `import _ "github.com/h2rpc/h2rpc/protobuf"`) {
		t.Fatalf("marshal of a protobuf-go-like message without an extension: %v", err)
	}
	if err := DefaultCodec.Unmarshal(nil, &protoLike{}); err == nil || !strings.Contains(err.Error(), "protobuf-go message") {
		t.Fatalf("unmarshal of a protobuf-go-like message without an extension: %v", err)
	}
	s := "hi"
	if _, err := DefaultCodec.Marshal(&s); err == nil || !strings.Contains(err.Error(), "ExtendDefaultCodec") {
		t.Fatalf("marshal of a *string without an extension: %v", err)
	}

	ExtendDefaultCodec(upperCodec{})
	defer defaultFallback.Store(nil)
	b, err := DefaultCodec.AppendMarshal([]byte("x:"), &s)
	if err != nil || !bytes.Equal(b, []byte("x:HI")) {
		t.Fatalf("AppendMarshal through the extension = %q, %v; want x:HI", b, err)
	}
	var got string
	if err := DefaultCodec.Unmarshal([]byte("abc"), &got); err != nil || got != "abc" {
		t.Fatalf("Unmarshal through the extension = %q, %v", got, err)
	}
	// Types DefaultCodec knows stay its own.
	if b, err := DefaultCodec.Marshal([]byte{1, 2}); err != nil || !bytes.Equal(b, []byte{1, 2}) {
		t.Fatalf("[]byte with an extension installed = %v, %v", b, err)
	}
}

func TestGetServiceInfo(t *testing.T) {
	s := NewServer()
	s.RegisterService(&ServiceDesc{
		ServiceName: "test.A",
		Methods:     []MethodDesc{{MethodName: "Unary"}},
		Streams: []StreamDesc{
			{StreamName: "Up", ClientStreams: true},
			{StreamName: "Both", ClientStreams: true, ServerStreams: true},
			{StreamName: "Down", ServerStreams: true},
		},
	}, nil)
	s.RegisterService(&ServiceDesc{ServiceName: "test.Empty"}, nil)
	info := s.GetServiceInfo()
	if len(info) != 2 {
		t.Fatalf("GetServiceInfo = %v, want two services", info)
	}
	if m := info["test.Empty"].Methods; len(m) != 0 {
		t.Errorf("test.Empty methods = %v", m)
	}
	want := []MethodInfo{
		{Name: "Both", IsClientStream: true, IsServerStream: true},
		{Name: "Down", IsServerStream: true},
		{Name: "Unary"},
		{Name: "Up", IsClientStream: true},
	}
	got := info["test.A"].Methods
	if len(got) != len(want) {
		t.Fatalf("test.A methods = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("method %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
