package conn_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
	"github.com/h2rpc/h2rpc/internal/h2test"
)

// writeBlock sends a header block as HEADERS and as many CONTINUATION
// frames as the default frame size needs.
func writeBlock(p *h2test.Peer, id uint32, endStream bool, block []byte) {
	const max = frame.DefaultMaxFrameSize
	first := block[:min(len(block), max)]
	b := frame.AppendHeaders(nil, id, endStream, len(block) <= max, first)
	for rest := block[len(first):]; len(rest) > 0; {
		n := min(len(rest), max)
		b = frame.AppendContinuation(b, id, n == len(rest), rest[:n])
		rest = rest[n:]
	}
	p.WriteRaw(b)
}

// oversized are header lists over the default 16 KiB limit that a
// connection can still decode: they fail one stream, not the connection.
var oversized = []struct {
	name   string
	fields []hpack.Field
}{
	{"one long value", []hpack.Field{f("x-long", strings.Repeat("v", 20<<10))}},
	{"many fields", func() (fs []hpack.Field) {
		for i := range 40 {
			fs = append(fs, f("x-field", strings.Repeat(string(rune('a'+i%26)), 500)))
		}
		return fs
	}()},
}

// TestServerOversizedHeaderListIsStreamLevel: a request whose header list
// is over our SETTINGS_MAX_HEADER_LIST_SIZE gets 431 on its stream (RFC
// 9113 §10.5.1) while a stream already open on the connection completes,
// and the connection takes new streams after it.
func TestServerOversizedHeaderListIsStreamLevel(t *testing.T) {
	for _, tc := range oversized {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, p := startServer(t, nil, echo)
				p.WriteHeaders(1, false, request("/open")...)
				p.WantHeaders("the open stream's headers", 1, false, status200)
				writeBlock(p, 3, true, p.EncodeHeaders(append(request("/big"), tc.fields...)...))
				p.WantHeaders("431 for the oversized request", 3, true, h431)
				p.WriteData(1, true, []byte("still here"))
				p.WantData("the open stream completes", 1, false, []byte("still here"))
				p.WantHeaders("its trailers", 1, true, trailerOK)
				p.WriteHeaders(5, true, request("/after")...)
				p.WantHeaders("a new stream after it", 5, false, status200)
				p.WantHeaders("its trailers", 5, true, trailerOK)
				if err := c.Err(); err != nil {
					t.Fatalf("the connection ended: %v", err)
				}
			})
		})
	}
}

// TestClientOversizedResponseHeadersIsStreamLevel: a response whose header
// list is over our limit resets that stream (PROTOCOL_ERROR, RFC 9113
// §8.1.1) while another stream on the connection completes.
func TestClientOversizedResponseHeadersIsStreamLevel(t *testing.T) {
	for _, tc := range oversized {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, p := startClient(t, nil)
				ctx := context.Background()
				s1, err := c.OpenStream(ctx, request("/ok"), nil, conn.EndStream)
				if err != nil {
					t.Fatal(err)
				}
				s3, err := c.OpenStream(ctx, request("/big"), nil, conn.EndStream)
				if err != nil {
					t.Fatal(err)
				}
				p.WantHeaders("first request", 1, true, request("/ok"))
				p.WantHeaders("second request", 3, true, request("/big"))
				writeBlock(p, 3, false, p.EncodeHeaders(append(status200, tc.fields...)...))
				p.WantRST("the oversized response is reset", 3, frame.ErrCodeProtocol)
				var re *conn.ResetError
				if _, err := s3.ReadHeaders(); !errors.As(err, &re) || re.Remote {
					t.Fatalf("ReadHeaders of the oversized response = %v, want a local *conn.ResetError", err)
				}
				// The error says why, with the limit to raise.
				if !strings.Contains(re.Error(), "SETTINGS_MAX_HEADER_LIST_SIZE of 16384") {
					t.Fatalf("ReadHeaders of the oversized response = %q, want it to name the limit", re)
				}
				p.WriteHeaders(1, false, status200...)
				p.WriteData(1, false, []byte("fine"))
				p.WriteHeaders(1, true, trailerOK...)
				if _, err := s1.ReadHeaders(); err != nil {
					t.Fatalf("the other stream's headers: %v", err)
				}
				if b, err := io.ReadAll(s1); err != nil || string(b) != "fine" {
					t.Fatalf("the other stream's body: %q, %v", b, err)
				}
				if !c.Available() {
					t.Fatalf("the connection ended: %v", c.Err())
				}
			})
		})
	}
}

// TestHeaderBlockHardCap: a block past MaxHeaderBlockSize (64 KiB) cannot
// be decoded, so the table is lost and the connection ends, in both roles.
func TestHeaderBlockHardCap(t *testing.T) {
	huge := f("x-huge", strings.Repeat("v", 100<<10)) // ~88 KiB Huffman-coded
	t.Run("server", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c, p := startServer(t, nil, echo)
			writeBlock(p, 1, true, p.EncodeHeaders(append(request("/"), huge)...))
			wantConnError(t, c, p, frame.ErrCodeEnhanceYourCalm)
		})
	})
	t.Run("client", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c, p := startClient(t, nil)
			s, err := c.OpenStream(context.Background(), request("/"), nil, conn.EndStream)
			if err != nil {
				t.Fatal(err)
			}
			p.WantHeaders("request", 1, true, request("/"))
			writeBlock(p, 1, false, p.EncodeHeaders(status200[0], huge))
			wantConnError(t, c, p, frame.ErrCodeEnhanceYourCalm)
			if _, err := s.ReadHeaders(); !errors.Is(err, conn.ErrClosed) {
				t.Fatalf("ReadHeaders = %v, want ErrClosed", err)
			}
		})
	})
}

// TestHeaderBlockSizeFollowsListSize: raising MaxHeaderListSize raises the
// default MaxHeaderBlockSize with it, so a header list under the new limit
// is served, and one over it fails only its stream, as with the defaults.
func TestHeaderBlockSizeFollowsListSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := startServer(t, &conn.Config{MaxHeaderListSize: 256 << 10}, echo)
		// ~88 KiB Huffman-coded: past the 64 KiB default block size.
		big := f("x-big", strings.Repeat("v", 100<<10))
		writeBlock(p, 1, true, p.EncodeHeaders(append(request("/big"), big)...))
		p.WantHeaders("a 100 KiB list under a 256 KiB limit is served", 1, false, status200)
		p.WantHeaders("its trailers", 1, true, trailerOK)
		// ~265 KiB coded (a block under 1 MiB), over the list limit: 431.
		over := f("x-over", strings.Repeat("v", 300<<10))
		writeBlock(p, 3, true, p.EncodeHeaders(append(request("/over"), over)...))
		p.WantHeaders("431 for a list over the raised limit", 3, true, h431)
		if err := c.Err(); err != nil {
			t.Fatalf("the connection ended: %v", err)
		}
	})
}
