package health

import (
	"github.com/h2rpc/h2rpc/rpc"
	"github.com/h2rpc/h2rpc/wire"
)

// The messages of grpc/health/v1/health.proto:
//
//	message HealthCheckRequest { string service = 1; }
//	message HealthCheckResponse { ServingStatus status = 1; }
//	message HealthListRequest {}
//	message HealthListResponse { map<string, HealthCheckResponse> statuses = 1; }

// decodeRequest returns the service of a HealthCheckRequest. A malformed
// request is INVALID_ARGUMENT.
func decodeRequest(b []byte) (string, error) {
	var service string
	err := wire.Range(b, func(f wire.Field) error {
		if f.Is(1, wire.TypeLen) {
			service = string(f.Bytes)
		}
		return nil
	})
	if err != nil {
		return "", badRequest(err)
	}
	return service, nil
}

// decodeEmpty checks that b is a well-formed message whose fields (none
// known) can be skipped.
func decodeEmpty(b []byte) error {
	if err := wire.Range(b, func(wire.Field) error { return nil }); err != nil {
		return badRequest(err)
	}
	return nil
}

func badRequest(err error) error {
	return rpc.Errorf(rpc.InvalidArgument, "health: malformed request: %v", err)
}

// appendResponse appends a HealthCheckResponse; UNKNOWN, the default, is
// left out as proto3 does.
func appendResponse(b []byte, st Status) []byte {
	return wire.AppendInt32Field(b, 1, int32(st))
}

// appendList appends a HealthListResponse with the statuses of names, in
// that order.
func appendList(b []byte, names []string, statuses map[string]Status) []byte {
	for _, name := range names {
		entry := wire.AppendStringField(nil, 1, name)
		entry = wire.AppendTag(entry, 2, wire.TypeLen)
		entry = wire.AppendBytes(entry, appendResponse(nil, statuses[name]))
		b = wire.AppendTag(b, 1, wire.TypeLen)
		b = wire.AppendBytes(b, entry)
	}
	return b
}
