package health

import (
	"github.com/h2rpc/h2rpc/rpc"
	"google.golang.org/protobuf/encoding/protowire"
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
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", badRequest(protowire.ParseError(n))
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return "", badRequest(protowire.ParseError(n))
			}
			service = string(v)
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return "", badRequest(protowire.ParseError(n))
		}
		b = b[n:]
	}
	return service, nil
}

// decodeEmpty checks that b is a well-formed message whose fields (none
// known) can be skipped.
func decodeEmpty(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return badRequest(protowire.ParseError(n))
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return badRequest(protowire.ParseError(n))
		}
		b = b[n:]
	}
	return nil
}

func badRequest(err error) error {
	return rpc.Errorf(rpc.InvalidArgument, "health: malformed request: %v", err)
}

// appendResponse appends a HealthCheckResponse; UNKNOWN, the default, is
// left out as proto3 does.
func appendResponse(b []byte, st Status) []byte {
	if st != Unknown {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(st)))
	}
	return b
}

// appendList appends a HealthListResponse with the statuses of names, in
// that order.
func appendList(b []byte, names []string, statuses map[string]Status) []byte {
	for _, name := range names {
		var entry []byte
		if name != "" {
			entry = protowire.AppendTag(entry, 1, protowire.BytesType)
			entry = protowire.AppendString(entry, name)
		}
		entry = protowire.AppendTag(entry, 2, protowire.BytesType)
		entry = protowire.AppendBytes(entry, appendResponse(nil, statuses[name]))
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, entry)
	}
	return b
}
