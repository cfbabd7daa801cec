package rpc

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/h2rpc/h2rpc/internal/h2test"
)

// dialScripted returns a ClientConn connected to a scripted server peer,
// past the handshake; both end with the test.
func dialScripted(t *testing.T) (*ClientConn, *h2test.Peer) {
	t.Helper()
	nc, p := h2test.NewClientPipe(t)
	dialed := false
	cc, err := Dial("h2test:80", WithInsecure(), WithDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		if dialed {
			return nil, net.ErrClosed
		}
		dialed = true
		return nc, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	if err := cc.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.ServerHandshake()
	return cc, p
}

// "Error parsing returned status | UNKNOWN | Client" (statuscodes.md): a
// grpc-status that is not a decimal code without leading zeros.
func TestClientMalformedStatusIsUnknown(t *testing.T) {
	cc, p := dialScripted(t)
	id := uint32(1)
	for _, bad := range []string{"abc", "013", "-1", "", "1.0", "99999999999"} {
		errc := make(chan error, 1)
		go func() {
			var reply []byte
			errc <- cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("req"), &reply)
		}()
		p.ReadHeaders("request headers")
		p.WantData("request", id, true, mustEncode(t, []byte("req"), nil))
		p.WriteHeaders(id, true, hf(":status", "200", "content-type", "application/grpc", "grpc-status", bad)...)
		st := wantCode(t, <-errc, Unknown)
		if !strings.Contains(st.Message, "malformed grpc-status") {
			t.Errorf("grpc-status %q: message %q", bad, st.Message)
		}
		id += 2
	}
}
