package rpc

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// FuzzMessageReader feeds arbitrary bytes to the length-prefixed message
// reader: it must never panic, never return a message over the limit, and
// end with io.EOF only at a message boundary.
func FuzzMessageReader(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 2, 'h', 'i'}, false)
	f.Add([]byte{1, 0, 0, 0, 3, 1, 2, 3}, true)
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff}, false)
	f.Add([]byte{2, 0, 0, 0, 0}, false)
	zipped, _ := encodeMsg(nil, DefaultCodec, bytes.Repeat([]byte("z"), 5000), Gzip, nil, DefaultMaxSendMsgSize)
	f.Add(zipped, true)
	f.Fuzz(func(t *testing.T, data []byte, gzip bool) {
		const limit = 4096
		mr := &msgReader{r: bytes.NewReader(data), maxSize: limit}
		if gzip {
			mr.decomp, mr.encoding = Gzip, "gzip"
		}
		defer mr.release()
		consumed := 0
		for {
			m, err := mr.next()
			if err == io.EOF {
				if consumed != len(data) {
					t.Fatalf("io.EOF after %d of %d bytes", consumed, len(data))
				}
				return
			}
			if err != nil {
				if CodeOf(err) == OK {
					t.Fatalf("error without a code: %v", err)
				}
				return
			}
			if len(m) > limit {
				t.Fatalf("message of %d bytes over the %d-byte limit", len(m), limit)
			}
			consumed += msgHeaderLen + int(uint32(data[consumed+1])<<24|uint32(data[consumed+2])<<16|uint32(data[consumed+3])<<8|uint32(data[consumed+4]))
		}
	})
}

// FuzzGRPCMessage: decoding what was encoded gives the message back, the
// encoding holds only the bytes the grammar allows, and decoding anything
// never fails or panics.
func FuzzGRPCMessage(f *testing.F) {
	f.Add("plain")
	f.Add("100% \t\n☺ 😈")
	f.Add("%zz%4")
	f.Fuzz(func(t *testing.T, s string) {
		enc := encodeGRPCMessage(s)
		for i := 0; i < len(enc); i++ {
			if c := enc[i]; c < 0x20 || c > 0x7e {
				t.Fatalf("encoded byte %#x outside 0x20-0x7E", c)
			}
		}
		if got := decodeGRPCMessage(enc); got != s {
			t.Fatalf("round trip %q -> %q -> %q", s, enc, got)
		}
		_ = decodeGRPCMessage(s)
	})
}

// FuzzTimeout: every decodable value re-encodes to one that decodes to no
// more time, and every positive duration encodes to at most 8 digits.
func FuzzTimeout(f *testing.F) {
	f.Add("1S", int64(time.Second))
	f.Add("99999999H", int64(1))
	f.Add("x", int64(123456789012))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		if d, err := decodeTimeout(s); err == nil && d > 0 {
			if back, err := decodeTimeout(encodeTimeout(d)); err != nil || back > d {
				t.Fatalf("%q = %v re-encodes to %q = %v, %v", s, d, encodeTimeout(d), back, err)
			}
		}
		if n > 0 {
			enc := encodeTimeout(time.Duration(n))
			if len(enc) > 9 {
				t.Fatalf("%d encodes to %q", n, enc)
			}
			back, err := decodeTimeout(enc)
			if err != nil || back > time.Duration(n) || back <= 0 {
				t.Fatalf("%d encodes to %q = %v, %v", n, enc, back, err)
			}
		}
	})
}
