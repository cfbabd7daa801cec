package reflection

import (
	"testing"

	"github.com/h2rpc/h2rpc/rpc"
	refv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
)

type noServices struct{ rpc.ServiceRegistrar }

func (noServices) GetServiceInfo() map[string]rpc.ServiceInfo { return nil }

// FuzzRequest: any request bytes decode or fail cleanly, and a decoded
// request gets an answer that encodes and decodes as a protobuf message.
func FuzzRequest(f *testing.F) {
	f.Add([]byte{})
	f.Add(protowire.AppendString(protowire.AppendTag(nil, 4, protowire.BytesType), "google.protobuf.FileDescriptorProto"))
	f.Add(protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), "google/protobuf/descriptor.proto"))
	f.Add(protowire.AppendString(protowire.AppendTag(nil, 7, protowire.BytesType), "*"))
	ext := protowire.AppendVarint(protowire.AppendTag(protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "google.protobuf.MessageOptions"), 2, protowire.VarintType), 1000)
	f.Add(protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), ext))
	f.Add([]byte{0x2a, 0x02, 0x10}) // a truncated extension request
	r := &reflector{server: noServices{}, files: protoregistry.GlobalFiles, types: protoregistry.GlobalTypes}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeRequest(b)
		var want refv1.ServerReflectionRequest
		if proto.Unmarshal(b, &want) == nil {
			if err != nil || req.host != want.Host {
				t.Fatalf("decodeRequest = %+v, %v; protobuf-go decodes %v", req, err, &want)
			}
			name := map[kind]string{
				fileByFilename:            want.GetFileByFilename(),
				fileContainingSymbol:      want.GetFileContainingSymbol(),
				fileContainingExtension:   want.GetFileContainingExtension().GetContainingType(),
				allExtensionNumbersOfType: want.GetAllExtensionNumbersOfType(),
				listServices:              want.GetListServices(),
			}[req.kind]
			if req.name != name || req.kind == fileContainingExtension && req.number != want.GetFileContainingExtension().GetExtensionNumber() {
				t.Fatalf("decodeRequest = %+v; protobuf-go decodes %v", req, &want)
			}
		}
		if err != nil {
			return
		}
		resp := response{host: req.host, original: b}
		r.answer(&req, &resp, map[string]bool{})
		out := resp.append(nil)
		for len(out) > 0 {
			num, typ, n := protowire.ConsumeTag(out)
			if n < 0 {
				t.Fatalf("response tag: %v", protowire.ParseError(n))
			}
			out = out[n:]
			n = protowire.ConsumeFieldValue(num, typ, out)
			if n < 0 {
				t.Fatalf("response field %d: %v", num, protowire.ParseError(n))
			}
			out = out[n:]
		}
	})
}
