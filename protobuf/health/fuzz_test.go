package health

import (
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// FuzzRequest: any request bytes decode or fail cleanly, and what
// protobuf-go decodes, the hand-written decoder decodes the same.
func FuzzRequest(f *testing.F) {
	f.Add([]byte{})
	f.Add(protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "pkg.Svc"))
	f.Add([]byte{0x0a, 0x05, 'a'})
	f.Add([]byte{0x08, 0x96, 0x01, 0x0a, 0x01, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		service, err := decodeRequest(b)
		var want healthpb.HealthCheckRequest
		if proto.Unmarshal(b, &want) == nil {
			if err != nil || service != want.Service {
				t.Fatalf("decodeRequest = %q, %v; protobuf-go decodes %q", service, err, want.Service)
			}
		}
		if err == nil && decodeEmpty(b) != nil {
			t.Fatal("a request that decodes is not a well-formed message")
		}
	})
}
