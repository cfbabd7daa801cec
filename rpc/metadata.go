package rpc

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/h2rpc/h2rpc/hpack"
)

// MD is call metadata: custom headers or trailers, keyed by lowercase name.
// A key ending in "-bin" holds binary values, which travel base64-encoded;
// in an MD they are the raw bytes. Other values must be printable ASCII
// (0x20-0x7E) without leading or trailing spaces.
//
// "Custom-Metadata" names follow "Header-Name → 1*( %x30-39 / %x61-7A / "_" /
// "-" / ".")" (PROTOCOL-HTTP2.md, Requests). Names this package or HTTP/2
// reserve cannot be sent: pseudo-headers (":..."), "grpc-..." (reserved for
// gRPC), the connection-specific fields of RFC 9113 §8.2.2 and te,
// content-type, user-agent and host, which the call sets itself.
type MD map[string][]string

// Pairs returns an MD from alternating keys and values; keys are lowercased.
// It panics if len(kv) is odd.
func Pairs(kv ...string) MD {
	if len(kv)%2 == 1 {
		panic("rpc: Pairs got an odd number of arguments")
	}
	md := make(MD, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k := strings.ToLower(kv[i])
		md[k] = append(md[k], kv[i+1])
	}
	return md
}

// Get returns the values for key (lowercased).
func (md MD) Get(key string) []string { return md[strings.ToLower(key)] }

// Set replaces the values for key (lowercased).
func (md MD) Set(key string, vals ...string) {
	if len(vals) == 0 {
		return
	}
	md[strings.ToLower(key)] = vals
}

// Append adds values to key (lowercased).
func (md MD) Append(key string, vals ...string) {
	if len(vals) == 0 {
		return
	}
	k := strings.ToLower(key)
	md[k] = append(md[k], vals...)
}

// Delete removes key (lowercased).
func (md MD) Delete(key string) { delete(md, strings.ToLower(key)) }

// Len returns the number of keys.
func (md MD) Len() int { return len(md) }

// Copy returns a deep copy of md.
func (md MD) Copy() MD {
	out := make(MD, len(md))
	for k, v := range md {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// Join merges mds into a new MD, appending values of equal keys in order.
func Join(mds ...MD) MD {
	out := MD{}
	for _, md := range mds {
		for k, v := range md {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

type outgoingKey struct{}
type incomingKey struct{}

// outgoingMD is what the outgoing context holds: a base MD and pairs
// appended to it later, kept apart so appending never copies the base.
type outgoingMD struct {
	md    MD
	added [][]string
}

// NewOutgoingContext returns a context carrying md as the metadata of calls
// made with it, replacing any outgoing metadata ctx had. The MD must not be
// modified afterwards.
func NewOutgoingContext(ctx context.Context, md MD) context.Context {
	return context.WithValue(ctx, outgoingKey{}, outgoingMD{md: md})
}

// AppendToOutgoingContext returns a context with the key-value pairs kv
// added to its outgoing metadata (keys lowercased). It panics if len(kv) is
// odd.
func AppendToOutgoingContext(ctx context.Context, kv ...string) context.Context {
	if len(kv)%2 == 1 {
		panic("rpc: AppendToOutgoingContext got an odd number of arguments")
	}
	o, _ := ctx.Value(outgoingKey{}).(outgoingMD)
	added := make([][]string, len(o.added), len(o.added)+1)
	copy(added, o.added)
	pairs := make([]string, len(kv))
	for i := range kv {
		if i%2 == 0 {
			pairs[i] = strings.ToLower(kv[i])
		} else {
			pairs[i] = kv[i]
		}
	}
	o.added = append(added, pairs)
	return context.WithValue(ctx, outgoingKey{}, o)
}

// FromOutgoingContext returns a copy of the outgoing metadata of ctx.
func FromOutgoingContext(ctx context.Context) (MD, bool) {
	o, ok := ctx.Value(outgoingKey{}).(outgoingMD)
	if !ok {
		return nil, false
	}
	out := o.md.Copy()
	for _, kv := range o.added {
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = append(out[kv[i]], kv[i+1])
		}
	}
	return out, true
}

// NewIncomingContext returns a context carrying md as incoming metadata.
// The server does this for each call's request headers; it is exported for
// tests and interceptors.
func NewIncomingContext(ctx context.Context, md MD) context.Context {
	return context.WithValue(ctx, incomingKey{}, md)
}

// FromIncomingContext returns the metadata the client sent with the call a
// handler's ctx belongs to. The MD is shared: copy it before modifying it.
func FromIncomingContext(ctx context.Context) (MD, bool) {
	md, ok := ctx.Value(incomingKey{}).(MD)
	return md, ok
}

// isReservedKey reports whether a metadata key may not be sent by users.
// A server may send grpc-retry-pushback-ms (grpc proposal A6) as trailer
// metadata.
func isReservedKey(k string) bool {
	if k == "grpc-retry-pushback-ms" {
		return false
	}
	if strings.HasPrefix(k, "grpc-") || strings.HasPrefix(k, ":") {
		return true
	}
	switch k {
	case "content-type", "user-agent", "te", "host",
		"connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
		return true
	}
	return false
}

// validKey checks "Header-Name → 1*( %x30-39 / %x61-7A / "_" / "-" / ".")".
func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// validASCIIValue checks "ASCII-Value → 1*( %x20-%x7E )" and, since RFC 9113
// §8.2.1 says "A field value MUST NOT start or end with an ASCII whitespace
// character", no space at either end. An empty value is allowed.
func validASCIIValue(v string) bool {
	if v != "" && (v[0] == ' ' || v[len(v)-1] == ' ') {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

func isBinKey(k string) bool { return strings.HasSuffix(k, "-bin") }

// appendMD appends md's fields to dst, checking every key and value. Binary
// values are base64-encoded: the spec says implementations "should emit
// un-padded values" (PROTOCOL-HTTP2.md, Requests), so this sends
// RawStdEncoding.
func appendMD(dst []hpack.Field, md MD) ([]hpack.Field, error) {
	for k, vals := range md {
		if err := checkKey(k); err != nil {
			return dst, err
		}
		bin := isBinKey(k)
		for _, v := range vals {
			if bin {
				v = base64.RawStdEncoding.EncodeToString([]byte(v))
			} else if !validASCIIValue(v) {
				return dst, statusf(Internal, "rpc: metadata %q has an invalid value: only printable ASCII without leading or trailing spaces may be sent (use a -bin key for binary values)", k)
			}
			dst = append(dst, hpack.Field{Name: k, Value: v})
		}
	}
	return dst, nil
}

func checkKey(k string) error {
	if !validKey(k) {
		return statusf(Internal, "rpc: invalid metadata key %q: keys are lowercase letters, digits, '_', '-' and '.'", k)
	}
	if isReservedKey(k) {
		return statusf(Internal, "rpc: metadata key %q is reserved and may not be sent", k)
	}
	return nil
}

// appendOutgoing appends the outgoing metadata of ctx to dst.
func appendOutgoing(dst []hpack.Field, ctx context.Context) ([]hpack.Field, error) {
	dst = appendOriginalCaller(dst, ctx) // peer.go
	o, ok := ctx.Value(outgoingKey{}).(outgoingMD)
	if !ok {
		return dst, nil
	}
	dst, err := appendMD(dst, o.md)
	if err != nil {
		return dst, err
	}
	for _, kv := range o.added {
		for i := 0; i < len(kv); i += 2 {
			dst, err = appendMD(dst, MD{kv[i]: {kv[i+1]}})
			if err != nil {
				return dst, err
			}
		}
	}
	return dst, nil
}

// decodeBin decodes one received -bin value. "Implementations MUST accept
// padded and un-padded values" (PROTOCOL-HTTP2.md, Requests).
func decodeBin(v string) (string, error) {
	if len(v)%4 == 0 && strings.HasSuffix(v, "=") {
		b, err := base64.StdEncoding.DecodeString(v)
		return string(b), err
	}
	b, err := base64.RawStdEncoding.DecodeString(v)
	return string(b), err
}

// addReceived adds one received custom field to md. Binary values are
// split on "," before decoding: "Implementations must split Binary-Headers
// on "," before decoding the Base64-encoded values" (PROTOCOL-HTTP2.md).
func addReceived(md MD, f hpack.Field) error {
	if !isBinKey(f.Name) {
		md[f.Name] = append(md[f.Name], f.Value)
		return nil
	}
	v := f.Value
	for {
		part, rest, more := strings.Cut(v, ",")
		d, err := decodeBin(strings.TrimSpace(part))
		if err != nil {
			return fmt.Errorf("malformed base64 in metadata %q: %w", f.Name, err)
		}
		md[f.Name] = append(md[f.Name], d)
		if !more {
			return nil
		}
		v = rest
	}
}
