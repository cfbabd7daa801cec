package reflection_test

import (
	"context"
	"io"
	"testing"

	"github.com/h2rpc/h2rpc/protobuf/reflection"
	"github.com/h2rpc/h2rpc/rpc"
	refv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// registrar keeps the stream handler and implementation registered as
// ServiceNameV1.
type registrar struct {
	handler rpc.StreamHandler
	impl    any
}

func (r *registrar) RegisterService(sd *rpc.ServiceDesc, impl any) {
	if sd.ServiceName == reflection.ServiceNameV1 {
		r.handler, r.impl = sd.Streams[0].Handler, impl
	}
}
func (r *registrar) GetServiceInfo() map[string]rpc.ServiceInfo { return nil }

// oneShot is a ServerStream carrying one request and keeping the reply.
type oneShot struct {
	rpc.ServerStream
	in, out []byte
	done    bool
}

func (s *oneShot) Context() context.Context { return context.Background() }
func (s *oneShot) RecvMsg(m any) error {
	if s.done {
		return io.EOF
	}
	s.done = true
	*m.(*[]byte) = s.in
	return nil
}
func (s *oneShot) SendMsg(m any) error { s.out = m.([]byte); return nil }

// FuzzRequest: any request gets an answer or fails cleanly; what
// protobuf-go decodes gets an answer protobuf-go decodes, echoing the
// request and host.
func FuzzRequest(f *testing.F) {
	f.Add([]byte{})
	f.Add(protowire.AppendString(protowire.AppendTag(nil, 4, protowire.BytesType), "google.protobuf.FileDescriptorProto"))
	f.Add(protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), "google/protobuf/descriptor.proto"))
	f.Add(protowire.AppendString(protowire.AppendTag(nil, 7, protowire.BytesType), "*"))
	ext := protowire.AppendVarint(protowire.AppendTag(protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "google.protobuf.MessageOptions"), 2, protowire.VarintType), 1000)
	f.Add(protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), ext))
	f.Add([]byte{0x2a, 0x02, 0x10}) // a truncated extension request
	reg := &registrar{}
	reflection.Register(reg)
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &oneShot{in: b}
		err := reg.handler(reg.impl, s)
		var want refv1.ServerReflectionRequest
		if proto.Unmarshal(b, &want) != nil {
			return // the hand-written decoder may be more lenient; it must only not crash
		}
		if err != nil {
			t.Fatalf("a request protobuf-go decodes (%v) failed: %v", &want, err)
		}
		var resp refv1.ServerReflectionResponse
		if err := proto.Unmarshal(s.out, &resp); err != nil {
			t.Fatalf("response %x: %v", s.out, err)
		}
		if resp.ValidHost != want.Host || !proto.Equal(resp.OriginalRequest, &want) || resp.MessageResponse == nil {
			t.Fatalf("response %v to %v", &resp, &want)
		}
	})
}
