package reflection

import (
	"testing"

	"github.com/h2rpc/h2rpc/rpc"
	"github.com/h2rpc/h2rpc/wire"
)

type noServices struct{ rpc.ServiceRegistrar }

func (noServices) GetServiceInfo() map[string]rpc.ServiceInfo { return nil }

// FuzzRequest: any request bytes decode or fail cleanly, and a decoded
// request gets an answer that is a well-formed message.
func FuzzRequest(f *testing.F) {
	f.Add([]byte{})
	f.Add(wire.AppendStringField(nil, 4, "grpc.health.v1.Health"))
	f.Add(wire.AppendStringField(nil, 3, "grpc/reflection/v1/reflection.proto"))
	f.Add(wire.AppendStringField(nil, 7, "*"))
	f.Add([]byte{0x2a, 0x02, 0x10})
	r := &reflector{server: noServices{}, sources: []Source{registered}}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeRequest(b)
		if err != nil {
			return
		}
		resp := response{host: req.host, original: b}
		r.answer(&req, &resp, map[string]bool{})
		if err := wire.Range(resp.append(nil), func(wire.Field) error { return nil }); err != nil {
			t.Fatalf("response to %x: %v", b, err)
		}
	})
}

// FuzzParseFile: any bytes parse as a FileDescriptorProto or fail cleanly.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte{})
	for _, b := range registered.files {
		f.Add(b.raw)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, _, err := parseFile(b); err == nil {
			_ = dependencies(b)
		}
	})
}
