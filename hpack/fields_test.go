package hpack

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func f(name, value string) Field { return Field{Name: name, Value: value} }

var (
	okRequest  = []Field{f(":method", "POST"), f(":scheme", "https"), f(":path", "/pkg.Svc/Method"), f(":authority", "example.com")}
	okResponse = []Field{f(":status", "200")}
)

func with(base []Field, extra ...Field) []Field {
	return append(append([]Field(nil), base...), extra...)
}

// TestFieldRules runs every RFC 9113 §8.2/§8.3 rule through a real encode and
// decode, so the rule is checked on what the decoder sees.
func TestFieldRules(t *testing.T) {
	tests := []struct {
		name   string
		kind   Kind
		fields []Field
		want   string // substring of the MalformedError reason; "" means valid
	}{
		{"§8.3.1 valid request", Request, okRequest, ""},
		{"§8.3.1 valid request without :authority", Request, okRequest[:3], ""},
		{"§8.3.1 valid request with regular fields", Request, with(okRequest, f("content-type", "application/grpc"), f("te", "trailers"), f("x-empty", "")), ""},
		{"§8.3.2 valid response", Response, with(okResponse, f("content-type", "application/grpc")), ""},
		{"§8.3.2 valid informational response", Response, []Field{f(":status", "100")}, ""},
		{"§8.1 valid trailers", Trailers, []Field{f("grpc-status", "0"), f("grpc-message", "ok")}, ""},
		{"§8.1 empty trailers", Trailers, nil, ""},
		{"§8.5 valid CONNECT", Request, []Field{f(":method", "CONNECT"), f(":authority", "example.com:443")}, ""},
		{"§8.3.1 OPTIONS *", Request, []Field{f(":method", "OPTIONS"), f(":scheme", "https"), f(":path", "*")}, ""},
		{"§8.3.1 empty :path allowed for other schemes", Request, []Field{f(":method", "GET"), f(":scheme", "foo"), f(":path", "")}, ""},
		{"§8.2.1 obs-text in value is allowed", Request, with(okRequest, f("x-bin", "caf\xc3\xa9 \x01inner space")), ""},

		{"§8.2 uppercase name", Request, with(okRequest, f("Content-Type", "x")), "uppercase"},
		{"§8.2.1 space in name", Request, with(okRequest, f("x y", "v")), "invalid character in field name"},
		{"§8.2.1 NUL in name", Request, with(okRequest, f("x\x00", "v")), "invalid character in field name"},
		{"§8.2.1 DEL in name", Request, with(okRequest, f("x\x7f", "v")), "invalid character in field name"},
		{"§8.2.1 non-ASCII in name", Request, with(okRequest, f("caf\xc3\xa9", "v")), "invalid character in field name"},
		{"§8.2.1 colon in regular name", Request, with(okRequest, f("x:y", "v")), "colon"},
		{"RFC 9110 §5.1 empty name", Request, with(okRequest, f("", "v")), "empty field name"},
		{"§8.2.1 NUL in value", Request, with(okRequest, f("x", "a\x00b")), "invalid character in the value"},
		{"§8.2.1 CR in value", Request, with(okRequest, f("x", "a\rb")), "invalid character in the value"},
		{"§8.2.1 LF in value", Request, with(okRequest, f("x", "a\nb")), "invalid character in the value"},
		{"§8.2.1 leading SP in value", Request, with(okRequest, f("x", " a")), "invalid character in the value"},
		{"§8.2.1 trailing HTAB in value", Request, with(okRequest, f("x", "a\t")), "invalid character in the value"},
		{"§8.2.1 value of one SP", Request, with(okRequest, f("x", " ")), "invalid character in the value"},
		{"§8.2.1 CR in pseudo value", Request, []Field{f(":method", "GET"), f(":scheme", "https"), f(":path", "/a\r\nx: y")}, "invalid character in the value"},
		{"§8.2.2 connection", Request, with(okRequest, f("connection", "close")), "connection-specific"},
		{"§8.2.2 proxy-connection", Request, with(okRequest, f("proxy-connection", "keep-alive")), "connection-specific"},
		{"§8.2.2 keep-alive", Request, with(okRequest, f("keep-alive", "timeout=5")), "connection-specific"},
		{"§8.2.2 transfer-encoding", Response, with(okResponse, f("transfer-encoding", "chunked")), "connection-specific"},
		{"§8.2.2 upgrade", Request, with(okRequest, f("upgrade", "h2c")), "connection-specific"},
		{"§8.2.2 te other than trailers", Request, with(okRequest, f("te", "gzip")), "te field"},
		{"§8.2.2 te with trailers and more", Request, with(okRequest, f("te", "trailers, deflate")), "te field"},
		{"§8.3 pseudo after regular", Request, []Field{f(":method", "GET"), f(":scheme", "https"), f("x", "y"), f(":path", "/")}, "after a regular field"},
		{"§8.3 repeated :path", Request, with(okRequest, f(":path", "/again")), "repeated"},
		{"§8.3 repeated :status", Response, []Field{f(":status", "200"), f(":status", "204")}, "repeated"},
		{"§8.3 unknown pseudo", Request, with(okRequest[:3], f(":foo", "bar")), "not defined"},
		{"§8.3 bare colon", Request, with(okRequest[:3], f(":", "bar")), "not defined"},
		{"§8.3 :protocol without extended CONNECT", Request, with(okRequest[:3], f(":protocol", "websocket")), "not defined"},
		{"§8.3 :status in request", Request, with(okRequest, f(":status", "200")), "not defined"},
		{"§8.3 :method in response", Response, []Field{f(":status", "200"), f(":method", "GET")}, "not defined"},
		{"§8.3 pseudo in trailers", Trailers, []Field{f(":status", "200")}, "in trailers"},
		{"§8.3.1 missing :method", Request, okRequest[1:], "request without"},
		{"§8.3.1 missing :scheme", Request, []Field{f(":method", "GET"), f(":path", "/")}, "request without"},
		{"§8.3.1 missing :path", Request, []Field{f(":method", "GET"), f(":scheme", "https")}, "request without"},
		{"§8.3.1 empty block as request", Request, nil, "request without"},
		{"§8.3.1 empty :path for https", Request, []Field{f(":method", "GET"), f(":scheme", "https"), f(":path", "")}, "empty :path"},
		{"§8.3.1 empty :path for http", Request, []Field{f(":method", "GET"), f(":scheme", "http"), f(":path", "")}, "empty :path"},
		{"§8.5 CONNECT with :path", Request, []Field{f(":method", "CONNECT"), f(":authority", "a:1"), f(":path", "/")}, "CONNECT request with"},
		{"§8.5 CONNECT with :scheme", Request, []Field{f(":method", "CONNECT"), f(":authority", "a:1"), f(":scheme", "https")}, "CONNECT request with"},
		{"§8.5 CONNECT without :authority", Request, []Field{f(":method", "CONNECT")}, "without :authority"},
		{"§8.3.1 empty :method", Request, []Field{f(":method", ""), f(":scheme", "https"), f(":path", "/")}, "not a token"},
		{"§8.3.1 :method not a token", Request, []Field{f(":method", "GE(T"), f(":scheme", "https"), f(":path", "/")}, "not a token"},
		{"§8.3.1 extension method is a token", Request, []Field{f(":method", "M-SEARCH"), f(":scheme", "https"), f(":path", "*")}, ""},
		{"§8.3.1 empty :scheme", Request, []Field{f(":method", "GET"), f(":scheme", ""), f(":path", "/")}, "not a URI scheme"},
		{"§8.3.1 :scheme starting with a digit", Request, []Field{f(":method", "GET"), f(":scheme", "1http"), f(":path", "/")}, "not a URI scheme"},
		{"§8.3.1 :scheme with a slash", Request, []Field{f(":method", "GET"), f(":scheme", "ht/tp"), f(":path", "/")}, "not a URI scheme"},
		{"§8.3.1 :scheme with + - .", Request, []Field{f(":method", "GET"), f(":scheme", "svn+ssh-1.0"), f(":path", "/")}, ""},
		{"§8.3.2 missing :status", Response, []Field{f("content-type", "text/plain")}, "without :status"},
		{"§8.3.2 empty block as response", Response, nil, "without :status"},
		{"RFC 9110 §15 :status not three digits", Response, []Field{f(":status", "20")}, "three-digit"},
		{"RFC 9110 §15 :status not numeric", Response, []Field{f(":status", "2x0")}, "three-digit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, dec := NewEncoder(), NewDecoder(Limits{})
			block := enc.AppendBlock(nil, tt.fields...)
			got, err := dec.Decode(block, tt.kind, nil)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if !slices.Equal(got, tt.fields) {
					t.Fatalf("Decode = %v, want %v", got, tt.fields)
				}
				return
			}
			var me *MalformedError
			if !errors.As(err, &me) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode error = %v, want a *MalformedError", err)
			}
			if !strings.Contains(me.Reason, tt.want) || !strings.Contains(me.Reason, "RFC 9") {
				t.Fatalf("reason %q, want it to contain %q and an RFC section", me.Reason, tt.want)
			}
			// The table stayed in sync: the same fields decode again
			// from a second block that refers back to the table.
			block = enc.AppendBlock(nil, okResponse...)
			if got, err := dec.Decode(block, Response, nil); err != nil || !slices.Equal(got, okResponse) {
				t.Fatalf("next block: %v, %v", got, err)
			}
		})
	}
}

func TestMalformedReasonIsBounded(t *testing.T) {
	name := "X" + strings.Repeat("a", 10000)
	dec := NewDecoder(Limits{})
	_, err := dec.Decode(NewEncoder().AppendBlock(nil, with(okRequest, f(name, "v"))...), Request, nil)
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("error %d bytes long: %.100v", len(err.Error()), err)
	}
}
