package health_test

import (
	"context"
	"testing"

	"github.com/h2rpc/h2rpc/protobuf/health"
	"github.com/h2rpc/h2rpc/rpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// registrar keeps the service descriptions registered with it.
type registrar map[string]*rpc.ServiceDesc

func (r registrar) RegisterService(sd *rpc.ServiceDesc, _ any) { r[sd.ServiceName] = sd }

// FuzzRequest: any Check request decodes or fails cleanly, and for what
// protobuf-go decodes, the hand-written decoder finds the same service.
func FuzzRequest(f *testing.F) {
	f.Add([]byte{})
	f.Add(protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "pkg.Svc"))
	f.Add([]byte{0x0a, 0x05, 'a'})
	f.Add([]byte{0x08, 0x96, 0x01, 0x0a, 0x01, 'x'})
	reg := registrar{}
	hs := health.NewServer()
	health.Register(reg, hs)
	var check rpc.MethodDesc
	for _, m := range reg[health.ServiceName].Methods {
		if m.MethodName == "Check" {
			check = m
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want healthpb.HealthCheckRequest
		decoded := proto.Unmarshal(b, &want) == nil
		if decoded {
			hs.SetServingStatus(want.Service, health.NotServing)
		}
		dec := func(m any) error { *m.(*[]byte) = b; return nil }
		out, err := check.Handler(hs, context.Background(), dec, nil)
		if !decoded {
			return // the hand-written decoder may be more lenient; it must only not crash
		}
		var resp healthpb.HealthCheckResponse
		if err != nil || proto.Unmarshal(out.([]byte), &resp) != nil || resp.Status != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("Check(%q) = %v, %v; want NOT_SERVING", want.Service, out, err)
		}
	})
}
