package rpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

func mustEncode(t *testing.T, v any, comp Compressor) []byte {
	t.Helper()
	b, err := encodeMsg(nil, DefaultCodec, v, comp, nil, DefaultMaxSendMsgSize)
	if err != nil {
		t.Fatalf("encodeMsg: %v", err)
	}
	return b
}

func TestMessageFraming(t *testing.T) {
	msgs := [][]byte{[]byte("hello"), {}, bytes.Repeat([]byte{0xab}, 70000)}
	var stream []byte
	for _, m := range msgs {
		stream = append(stream, mustEncode(t, m, nil)...)
	}
	if got, want := stream[:5], []byte{0, 0, 0, 0, 5}; !bytes.Equal(got, want) {
		t.Fatalf("prefix = %x, want %x", got, want)
	}
	// One byte at a time: message boundaries must not depend on reads.
	for _, r := range []io.Reader{bytes.NewReader(stream), iotest.OneByteReader(bytes.NewReader(stream))} {
		mr := &msgReader{r: r, maxSize: DefaultMaxRecvMsgSize}
		for i, want := range msgs {
			got, err := mr.next()
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("message %d: got %d bytes, want %d", i, len(got), len(want))
			}
		}
		if _, err := mr.next(); err != io.EOF {
			t.Fatalf("after the last message: %v, want io.EOF", err)
		}
		mr.release()
	}
}

// Every truncated prefix of a message must fail cleanly: io.EOF for the empty
// stream, INTERNAL for anything cut inside the message.
func TestMessageTruncated(t *testing.T) {
	full := mustEncode(t, []byte("truncate me"), nil)
	for n := 0; n < len(full); n++ {
		mr := &msgReader{r: bytes.NewReader(full[:n]), maxSize: DefaultMaxRecvMsgSize}
		_, err := mr.next()
		if n == 0 {
			if err != io.EOF {
				t.Errorf("empty stream: %v, want io.EOF", err)
			}
			continue
		}
		if CodeOf(err) != Internal || !errors.Is(err, errTruncatedMsg) {
			t.Errorf("prefix of %d bytes: %v, want INTERNAL truncated", n, err)
		}
	}
}

func TestMessageReaderPassesStreamErrors(t *testing.T) {
	boom := errors.New("reset")
	mr := &msgReader{r: iotest.ErrReader(boom), maxSize: 10}
	if _, err := mr.next(); err != boom {
		t.Fatalf("got %v, want the reader's error", err)
	}
}

func TestMessageSizeLimits(t *testing.T) {
	msg := mustEncode(t, make([]byte, 100), nil)
	mr := &msgReader{r: bytes.NewReader(msg), maxSize: 99}
	if _, err := mr.next(); CodeOf(err) != ResourceExhausted {
		t.Fatalf("100 bytes over a 99-byte limit: %v, want RESOURCE_EXHAUSTED", err)
	}
	mr = &msgReader{r: bytes.NewReader(msg), maxSize: 100}
	if _, err := mr.next(); err != nil {
		t.Fatalf("100 bytes at a 100-byte limit: %v", err)
	}
	// A length of 2^32-1 must be refused before anything is allocated.
	huge := []byte{0, 0xff, 0xff, 0xff, 0xff}
	mr = &msgReader{r: bytes.NewReader(huge), maxSize: DefaultMaxRecvMsgSize}
	if _, err := mr.next(); CodeOf(err) != ResourceExhausted {
		t.Fatalf("4 GiB length: %v, want RESOURCE_EXHAUSTED", err)
	}
	if _, err := encodeMsg(nil, DefaultCodec, make([]byte, 100), nil, nil, 99); CodeOf(err) != ResourceExhausted {
		t.Fatalf("sending 100 bytes over a 99-byte limit: %v, want RESOURCE_EXHAUSTED", err)
	}
	// A compressed message is limited after decompression too.
	zipped := mustEncode(t, make([]byte, 1<<20), Gzip)
	if len(zipped) > 1<<16 {
		t.Fatalf("1 MiB of zeros compressed to %d bytes", len(zipped))
	}
	mr = &msgReader{r: bytes.NewReader(zipped), maxSize: 1<<20 - 1, decomp: Gzip, encoding: "gzip"}
	if _, err := mr.next(); CodeOf(err) != ResourceExhausted {
		t.Fatalf("1 MiB decompressed over a limit of 1 MiB-1: %v, want RESOURCE_EXHAUSTED", err)
	}
	mr = &msgReader{r: bytes.NewReader(zipped), maxSize: 1 << 20, decomp: Gzip, encoding: "gzip"}
	if got, err := mr.next(); err != nil || len(got) != 1<<20 {
		t.Fatalf("1 MiB decompressed at a limit of 1 MiB: %d bytes, %v", len(got), err)
	}
}

func TestMessageCompressedFlag(t *testing.T) {
	zipped := mustEncode(t, []byte("squeeze"), Gzip)
	if zipped[0] != 1 {
		t.Fatalf("compressed flag = %d, want 1", zipped[0])
	}
	for _, tc := range []struct {
		name     string
		decomp   Compressor
		encoding string
		code     Code
	}{
		{"no grpc-encoding", nil, "", Internal},
		{"identity", nil, "identity", Internal},
		{"unknown encoding", nil, "snappy", Internal},
		{"gzip", Gzip, "gzip", OK},
	} {
		mr := &msgReader{r: bytes.NewReader(zipped), maxSize: 100, decomp: tc.decomp, encoding: tc.encoding}
		got, err := mr.next()
		if CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.code)
		}
		if err == nil && string(got) != "squeeze" {
			t.Errorf("%s: got %q", tc.name, got)
		}
	}
	bad := []byte{2, 0, 0, 0, 0}
	mr := &msgReader{r: bytes.NewReader(bad), maxSize: 100}
	if _, err := mr.next(); CodeOf(err) != Internal {
		t.Errorf("flag 2: %v, want INTERNAL", err)
	}
	corrupt := append([]byte{1, 0, 0, 0, 4}, "junk"...)
	mr = &msgReader{r: bytes.NewReader(corrupt), maxSize: 100, decomp: Gzip, encoding: "gzip"}
	if _, err := mr.next(); CodeOf(err) != Internal {
		t.Errorf("corrupt gzip: %v, want INTERNAL", err)
	}
}

func TestGzipRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 1 << 17} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i * 7 % 251)
		}
		z, err := Gzip.AppendCompressed([]byte("keep"), src)
		if err != nil || string(z[:4]) != "keep" {
			t.Fatalf("compress %d bytes: %v (prefix %q)", n, err, z[:4])
		}
		out, err := Gzip.AppendDecompressed([]byte("pre"), z[4:], n)
		if err != nil {
			t.Fatalf("decompress %d bytes: %v", n, err)
		}
		if string(out[:3]) != "pre" || !bytes.Equal(out[3:], src) {
			t.Fatalf("round trip of %d bytes differs", n)
		}
		if n > 0 {
			if _, err := Gzip.AppendDecompressed(nil, z[4:], n-1); err != ErrTooLarge {
				t.Fatalf("decompress %d bytes with limit %d: %v, want ErrTooLarge", n, n-1, err)
			}
		}
	}
}

func TestCompressorRegistry(t *testing.T) {
	if compressorFor("gzip") != Gzip {
		t.Fatal("gzip is not registered by default")
	}
	if compressorFor("identity") != nil || compressorFor("snappy") != nil {
		t.Fatal("unexpected compressors registered")
	}
	if got := acceptEncoding(); got != "gzip" {
		t.Fatalf("grpc-accept-encoding = %q, want gzip", got)
	}
	for _, tc := range []struct {
		list, enc string
		want      bool
	}{
		{"gzip", "gzip", true},
		{"identity, gzip", "gzip", true},
		{"identity,deflate", "gzip", false},
		{"", "gzip", false},
		{"gzipx", "gzip", false},
	} {
		if got := acceptsEncoding(tc.list, tc.enc); got != tc.want {
			t.Errorf("acceptsEncoding(%q, %q) = %v", tc.list, tc.enc, got)
		}
	}
}

func TestTimeoutEncoding(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{1, "1n"},
		{99999999, "99999999n"},
		{100000000, "100000u"},
		{time.Second, "1000000u"},
		{99999999 * time.Microsecond, "99999999u"},
		{99999999*time.Microsecond + 999, "99999999u"}, // truncated: never more time than the client has
		{100 * time.Second, "100000m"},
		{100*time.Second + 1, "100000m"},
		{99999999 * time.Millisecond, "99999999m"},
		{100000 * time.Second, "100000S"},
		{99999999 * time.Second, "99999999S"},
		{100000000 * time.Second, "1666666M"},
		{math.MaxInt64, "2562047H"},
	} {
		got := encodeTimeout(tc.d)
		if got != tc.want {
			t.Errorf("encodeTimeout(%v) = %q, want %q", tc.d, got, tc.want)
		}
		if len(got) > 9 {
			t.Errorf("encodeTimeout(%v) = %q: more than 8 digits", tc.d, got)
		}
		back, err := decodeTimeout(got)
		if err != nil {
			t.Errorf("decodeTimeout(%q): %v", got, err)
		}
		if back > tc.d {
			t.Errorf("%v encoded as %q decodes to %v: more time than the client has", tc.d, got, back)
		}
	}
}

func TestTimeoutDecoding(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1H", time.Hour, true},
		{"2M", 2 * time.Minute, true},
		{"3S", 3 * time.Second, true},
		{"4m", 4 * time.Millisecond, true},
		{"5u", 5 * time.Microsecond, true},
		{"6n", 6, true},
		{"0S", 0, true},
		{"99999999H", math.MaxInt64, true}, // saturates
		{"2562047H", 2562047 * time.Hour, true},
		{"00000001m", time.Millisecond, true},
		{"", 0, false},
		{"S", 0, false},
		{"1", 0, false},
		{"100000000n", 0, false}, // 9 digits
		{"1s", 0, false},
		{"1h", 0, false},
		{"-1S", 0, false},
		{"+1S", 0, false},
		{"1.5S", 0, false},
		{" 1S", 0, false},
		{"1 S", 0, false},
	} {
		got, err := decodeTimeout(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("decodeTimeout(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestGRPCMessageEncoding(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"100%", "100%25"},
		{"tab\tnew\nline", "tab%09new%0Aline"},
		{"\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n",
			"%09%0Atest with whitespace%0D%0Aand Unicode BMP %E2%98%BA and non-BMP %F0%9F%98%88%09%0A"},
		{"\x7f~ !$&", "%7F~ !$&"},
	} {
		if got := encodeGRPCMessage(tc.in); got != tc.want {
			t.Errorf("encode(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := decodeGRPCMessage(tc.want); got != tc.in {
			t.Errorf("decode(%q) = %q, want %q", tc.want, got, tc.in)
		}
	}
	// Lenient decoding: broken escapes stay as they are, never an error.
	for _, tc := range []struct{ in, want string }{
		{"%", "%"},
		{"%4", "%4"},
		{"%zz%41", "%zzA"},
		{"50%", "50%"},
		{"%e2%98%ba", "☺"},
		{"a%2", "a%2"},
	} {
		if got := decodeGRPCMessage(tc.in); got != tc.want {
			t.Errorf("decode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCodeStrings(t *testing.T) {
	// grpc-go's names (codes/code_string.go), so logs and tests written
	// against grpc-go read the same here.
	want := []string{"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded",
		"NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted",
		"FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal",
		"Unavailable", "DataLoss", "Unauthenticated"}
	for i, w := range want {
		c := Code(i)
		if c.String() != w {
			t.Errorf("Code(%d) = %s, want %s", i, c, w)
		}
		if got, ok := parseCode(c.headerValue()); !ok || got != c {
			t.Errorf("parseCode(%q) = %v, %v", c.headerValue(), got, ok)
		}
	}
	for c, w := range map[Code]string{17: "Code(17)", 1 << 31: "Code(2147483648)", 1<<32 - 1: "Code(4294967295)"} {
		if got := c.String(); got != w {
			t.Errorf("Code(%d) = %s, want %s", uint32(c), got, w)
		}
	}
	for _, bad := range []string{"", "01", "-1", "x", "1 ", "99999999999"} {
		if _, ok := parseCode(bad); ok {
			t.Errorf("parseCode(%q) accepted", bad)
		}
	}
	if got, ok := parseCode("42"); !ok || got != 42 {
		t.Errorf("parseCode(42) = %v, %v", got, ok)
	}
}

func TestResetMapping(t *testing.T) {
	for _, tc := range []struct {
		code frame.ErrCode
		want Code
	}{
		{frame.ErrCodeNo, Internal},
		{frame.ErrCodeProtocol, Internal},
		{frame.ErrCodeInternal, Internal},
		{frame.ErrCodeFlowControl, Internal},
		{frame.ErrCodeSettingsTimeout, Internal},
		{frame.ErrCodeFrameSize, Internal},
		{frame.ErrCodeRefusedStream, Unavailable},
		{frame.ErrCodeCancel, Canceled},
		{frame.ErrCodeCompression, Internal},
		{frame.ErrCodeConnect, Internal},
		{frame.ErrCodeEnhanceYourCalm, ResourceExhausted},
		{frame.ErrCodeInadequateSecurity, PermissionDenied},
		{frame.ErrCodeHTTP11Required, Internal},
		{frame.ErrCode(0x99), Internal},
	} {
		if got := codeForReset(tc.code); got != tc.want {
			t.Errorf("codeForReset(%v) = %v, want %v", tc.code, got, tc.want)
		}
	}
}

// TestHTTPStatusMapping has a case per row of grpc's
// doc/http-grpc-status-mapping.md, then statuses outside the table, which
// its last row maps to UNKNOWN.
func TestHTTPStatusMapping(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   Code
	}{
		// The table's rows.
		{400, Internal},
		{401, Unauthenticated},
		{403, PermissionDenied},
		{404, Unimplemented},
		{429, Unavailable},
		{502, Unavailable},
		{503, Unavailable},
		{504, Unavailable},
		// "All other codes": "200 is UNKNOWN because there should be a
		// grpc-status in case of truly OK response".
		{200, Unknown},
		{431, Unknown}, // not in the table (grpc-go maps it to Unknown too)
		{100, Unknown}, {204, Unknown}, {302, Unknown}, {402, Unknown}, {405, Unknown},
		{407, Unknown}, {408, Unknown}, {413, Unknown}, {415, Unknown}, {499, Unknown},
		{500, Unknown}, {501, Unknown}, {505, Unknown}, {0, Unknown}, {-1, Unknown}, {999, Unknown},
	} {
		if got := CodeForHTTPStatus(tc.status); got != tc.want {
			t.Errorf("CodeForHTTPStatus(%d) = %v, want %v", tc.status, got, tc.want)
		}
	}
}

func TestStatusErrors(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", Errorf(NotFound, "no %s", "thing"))
	var st *Status
	if !errors.As(err, &st) || st.Code != NotFound || st.Message != "no thing" {
		t.Fatalf("errors.As: %+v", st)
	}
	if CodeOf(err) != NotFound || CodeOf(nil) != OK || StatusOf(nil) != nil {
		t.Fatal("CodeOf/StatusOf")
	}
	if Errorf(OK, "fine") != nil {
		t.Fatal("Errorf(OK) is not nil")
	}
	if CodeOf(context.DeadlineExceeded) != DeadlineExceeded || CodeOf(context.Canceled) != Canceled {
		t.Fatal("context errors")
	}
	if CodeOf(errors.New("x")) != Unknown {
		t.Fatal("plain error is not UNKNOWN")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := error(contextStatus(ctx)); !errors.Is(err, context.Canceled) || CodeOf(err) != Canceled {
		t.Fatalf("contextStatus: %v", err)
	}
	if got := Errorf(Internal, "boom").Error(); got != "rpc error: code = Internal desc = boom" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestContentSubtype(t *testing.T) {
	for _, tc := range []struct {
		ct, sub string
		ok      bool
	}{
		{"application/grpc", "proto", true},
		{"application/grpc+proto", "proto", true},
		{"application/grpc+json", "json", true},
		{"application/grpc+JSON", "json", true},
		{"Application/GRPC", "proto", true},
		{"application/grpc;charset=utf-8", "proto", true},
		{"application/grpc+json;x=y", "json", true},
		{"application/grpc+", "proto", true},
		{"application/grpcx", "", false},
		{"application/json", "", false},
		{"", "", false},
		{"text/plain", "", false},
	} {
		sub, ok := contentSubtype(tc.ct)
		if sub != tc.sub || ok != tc.ok {
			t.Errorf("contentSubtype(%q) = %q, %v; want %q, %v", tc.ct, sub, ok, tc.sub, tc.ok)
		}
	}
	if contentType("proto") != "application/grpc" || contentType("json") != "application/grpc+json" {
		t.Error("contentType")
	}
}

type selfMarshalled struct{ s string }

func (m *selfMarshalled) AppendBinary(b []byte) ([]byte, error) { return append(b, m.s...), nil }
func (m *selfMarshalled) UnmarshalBinary(b []byte) error        { m.s = string(b); return nil }

func TestDefaultCodec(t *testing.T) {
	b, err := DefaultCodec.Marshal(&selfMarshalled{"abc"})
	if err != nil || string(b) != "abc" {
		t.Fatalf("Marshal: %q, %v", b, err)
	}
	var m selfMarshalled
	if err := DefaultCodec.Unmarshal([]byte("xyz"), &m); err != nil || m.s != "xyz" {
		t.Fatalf("Unmarshal: %q, %v", m.s, err)
	}
	src := []byte("raw")
	var dst []byte
	if err := DefaultCodec.Unmarshal(src, &dst); err != nil || string(dst) != "raw" {
		t.Fatalf("Unmarshal raw: %q, %v", dst, err)
	}
	src[0] = 'X'
	if string(dst) != "raw" {
		t.Fatal("Unmarshal into *[]byte kept the caller's buffer")
	}
	if _, err := DefaultCodec.Marshal(42); err == nil {
		t.Fatal("Marshal(int) succeeded")
	}
	if err := DefaultCodec.Unmarshal(nil, new(int)); err == nil {
		t.Fatal("Unmarshal(*int) succeeded")
	}
	if _, err := encodeMsg(nil, DefaultCodec, 42, nil, nil, 100); CodeOf(err) != Internal {
		t.Fatalf("encodeMsg of an unmarshalable value: %v, want INTERNAL", err)
	}
}

func TestMetadataHelpers(t *testing.T) {
	md := Pairs("Key", "a", "key", "b", "other", "c")
	if got := md.Get("KEY"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("Get = %q", got)
	}
	md.Set("Other", "d")
	md.Append("new", "e")
	md.Delete("key")
	if md.Len() != 2 || md["other"][0] != "d" || md["new"][0] != "e" {
		t.Fatalf("md = %v", md)
	}
	cp := md.Copy()
	cp["other"][0] = "changed"
	if md["other"][0] != "d" {
		t.Fatal("Copy is shallow")
	}
	j := Join(Pairs("a", "1"), Pairs("a", "2", "b", "3"))
	if len(j["a"]) != 2 || j["b"][0] != "3" {
		t.Fatalf("Join = %v", j)
	}

	ctx := NewOutgoingContext(context.Background(), Pairs("k", "v"))
	ctx = AppendToOutgoingContext(ctx, "K2", "v2", "k", "v3")
	out, ok := FromOutgoingContext(ctx)
	if !ok || len(out["k"]) != 2 || out["k2"][0] != "v2" {
		t.Fatalf("outgoing = %v", out)
	}
	out["k"][0] = "mutated"
	if again, _ := FromOutgoingContext(ctx); again["k"][0] != "v" {
		t.Fatal("FromOutgoingContext returned shared values")
	}
	if _, ok := FromIncomingContext(ctx); ok {
		t.Fatal("incoming metadata on an outgoing context")
	}
	in := NewIncomingContext(context.Background(), Pairs("x", "y"))
	if md, ok := FromIncomingContext(in); !ok || md["x"][0] != "y" {
		t.Fatal("incoming")
	}
}

func TestMetadataSendRules(t *testing.T) {
	for _, k := range []string{":path", "grpc-status", "grpc-timeout", "grpc-foo", "content-type", "te",
		"user-agent", "connection", "transfer-encoding", "upgrade", "keep-alive", "proxy-connection", "host"} {
		if _, err := appendMD(nil, MD{k: {"v"}}); CodeOf(err) != Internal {
			t.Errorf("reserved key %q: %v, want refused", k, err)
		}
	}
	for _, k := range []string{"", "UPPER", "sp ace", "a/b", "é"} {
		if _, err := appendMD(nil, MD{k: {"v"}}); err == nil {
			t.Errorf("invalid key %q accepted", k)
		}
	}
	for _, v := range []string{"tab\there", "new\nline", "\x00", " lead", "trail ", "é"} {
		if _, err := appendMD(nil, MD{"k": {v}}); err == nil {
			t.Errorf("invalid value %q accepted", v)
		}
	}
	fields, err := appendMD(nil, MD{"x-ok_1.2": {"printable ~!", ""}, "trace-bin": {"\x00\x01\xfe\xff"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, f := range fields {
		got[f.Name] = append(got[f.Name], f.Value)
	}
	if v := got["trace-bin"]; len(v) != 1 || v[0] != "AAH+/w" {
		t.Errorf("trace-bin sent as %q, want unpadded base64 AAH+/w", v)
	}
	if v := got["x-ok_1.2"]; len(v) != 2 {
		t.Errorf("x-ok_1.2 sent as %q", v)
	}
	ctx := AppendToOutgoingContext(context.Background(), "grpc-status", "0")
	if _, err := appendOutgoing(nil, ctx); err == nil {
		t.Error("reserved key appended to the outgoing context was sent")
	}
}

func TestMetadataReceiveBinary(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  []string
		ok    bool
	}{
		{"AAH+/w", []string{"\x00\x01\xfe\xff"}, true},
		{"AAH+/w==", []string{"\x00\x01\xfe\xff"}, true},
		{"YQ==,Yg", []string{"a", "b"}, true},
		{"YQ, Yg==", []string{"a", "b"}, true},
		{"", []string{""}, true},
		{"!!!", nil, false},
		{"YQ=", nil, false},
	} {
		md := MD{}
		err := addReceived(md, hpack.Field{Name: "x-bin", Value: tc.value})
		if (err == nil) != tc.ok {
			t.Errorf("%q: err = %v, want ok=%v", tc.value, err, tc.ok)
			continue
		}
		if tc.ok && fmt.Sprint(md["x-bin"]) != fmt.Sprint(tc.want) {
			t.Errorf("%q decoded to %q, want %q", tc.value, md["x-bin"], tc.want)
		}
	}
	md := MD{}
	if err := addReceived(md, hpack.Field{Name: "plain", Value: "a,b"}); err != nil || md["plain"][0] != "a,b" {
		t.Errorf("ASCII values are not split: %q, %v", md["plain"], err)
	}
}

// A message header claiming a length must not be trusted for allocation
// beyond the limit: check the limit is applied to the length, not to reads.
func TestMessageLengthIsBigEndian(t *testing.T) {
	b := mustEncode(t, make([]byte, 0x010203), nil)
	if got := binary.BigEndian.Uint32(b[1:5]); got != 0x010203 {
		t.Fatalf("length = %#x", got)
	}
	if !strings.HasPrefix(string(b), "\x00\x00\x01\x02\x03") {
		t.Fatalf("header = %x", b[:5])
	}
}
