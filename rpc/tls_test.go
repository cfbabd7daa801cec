package rpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/hpack"
	"github.com/h2rpc/h2rpc/internal/devcert"
)

// pki is a test authority with the certificates of a few workloads, each
// valid for localhost and 127.0.0.1 and named by a SPIFFE ID.
type pki struct {
	ca    *devcert.Authority
	certs map[string]tls.Certificate // by short name: "server", "client", ...
}

func spiffe(name string) string { return "spiffe://h2rpc.test/" + name }

func newPKI(t testing.TB, names ...string) *pki {
	t.Helper()
	p := &pki{ca: devcert.MustAuthority("test CA"), certs: map[string]tls.Certificate{}}
	for _, n := range names {
		p.certs[n] = p.ca.MustIssue(devcert.Leaf{CommonName: n, Names: []string{"localhost", "127.0.0.1"}, URIs: []string{spiffe(n)}})
	}
	return p
}

// rpc does not import crypto/tls (package h2tls, which imports rpc, does
// TLS), so these tests plug in a bare TLS handshake of their own: they are
// about what rpc does with a Handshake, not about TLS.

// testHandshake runs crypto/tls's handshake with cfg, offering ALPN h2,
// and reports the peer's state and the SPIFFE ID of its verified
// certificate.
func testHandshake(cfg *tls.Config, server bool) Handshake {
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"h2"}
	return func(ctx context.Context, nc net.Conn, authority string) (net.Conn, AuthInfo, error) {
		var tc *tls.Conn
		if server {
			tc = tls.Server(nc, cfg)
		} else {
			cfg := cfg.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(authority)
			tc = tls.Client(nc, cfg)
		}
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, AuthInfo{}, fmt.Errorf("TLS handshake: %w", err)
		}
		st := tc.ConnectionState()
		a := AuthInfo{State: &st}
		if len(st.VerifiedChains) > 0 && len(st.VerifiedChains[0][0].URIs) > 0 {
			a.Identity = st.VerifiedChains[0][0].URIs[0].String()
		}
		return tc, a, nil
	}
}

// serverTLS is the server side: its certificate, and with mutual the
// client certificates it requires.
func (p *pki) serverTLS(name string, mutual bool) ServerOption {
	cfg := &tls.Config{Certificates: []tls.Certificate{p.certs[name]}}
	if mutual {
		cfg.ClientCAs = p.ca.Pool()
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return ServerHandshake(testHandshake(cfg, true))
}

// clientTLS is the client side, presenting the certificate name (none if
// "").
func (p *pki) clientTLS(name string) DialOption {
	cfg := &tls.Config{RootCAs: p.ca.Pool()}
	if name != "" {
		cfg.Certificates = []tls.Certificate{p.certs[name]}
	}
	return WithHandshake(testHandshake(cfg, false))
}

func callEcho(cc *ClientConn, ctx context.Context, msg string, opts ...CallOption) (string, error) {
	var reply []byte
	err := cc.Invoke(ctx, "/test.Echo/Unary", []byte(msg), &reply, opts...)
	return string(reply), err
}

func TestTLSUnaryAndStreaming(t *testing.T) {
	p := newPKI(t, "server")
	e := newEnv(t, &echoServer{unary: echoBack, stream: func(ss ServerStream) error {
		for {
			var m []byte
			if err := ss.RecvMsg(&m); err != nil {
				return nil
			}
			if err := ss.SendMsg(m); err != nil {
				return err
			}
		}
	}}, []ServerOption{p.serverTLS("server", false)}, p.clientTLS(""))
	big := bytes.Repeat([]byte("x"), 1<<20)
	var reply []byte
	if err := e.cc.Invoke(context.Background(), "/test.Echo/Unary", big, &reply); err != nil || !bytes.Equal(reply, big) {
		t.Fatalf("Invoke: %v, %d bytes back", err, len(reply))
	}
	cs, err := e.cc.NewStream(context.Background(), bidiDesc, "/test.Echo/Bidi")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		msg := []byte{byte(i)}
		if err := cs.SendMsg(msg); err != nil {
			t.Fatal(err)
		}
		var got []byte
		if err := cs.RecvMsg(&got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("RecvMsg: %v %v", got, err)
		}
	}
	cs.CloseSend()
}

// TestTLSSchemeIsHTTPS: requests over TLS say :scheme https, over h2c
// http.
func TestTLSSchemeIsHTTPS(t *testing.T) {
	p := newPKI(t, "server")
	for _, secure := range []bool{true, false} {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		schemes := make(chan string, 1)
		scfg := &tls.Config{Certificates: []tls.Certificate{p.certs["server"]}, NextProtos: []string{"h2"}}
		served := make(chan *conn.Conn, 1)
		go func() {
			nc, err := lis.Accept()
			lis.Close()
			if err != nil {
				served <- nil
				return
			}
			if secure {
				tc := tls.Server(nc, scfg)
				if err := tc.Handshake(); err != nil {
					nc.Close()
					served <- nil
					return
				}
				nc = tc
			}
			c, _ := conn.Server(nc, nil, func(st *conn.Stream) {
				for _, f := range st.RequestHeaders() {
					if f.Name == ":scheme" {
						schemes <- f.Value
					}
				}
				st.WriteAll(nil, nil, []hpack.Field{{Name: ":status", Value: "200"}, {Name: "content-type", Value: "application/grpc"}, {Name: "grpc-status", Value: "0"}})
			})
			served <- c
		}()
		opt := WithInsecure()
		if secure {
			opt = p.clientTLS("")
		}
		cc, err := Dial(lis.Addr().String(), WithInsecure(), opt)
		if err != nil {
			t.Fatal(err)
		}
		callEcho(cc, context.Background(), "")
		want := map[bool]string{true: "https", false: "http"}[secure]
		if got := <-schemes; got != want {
			t.Errorf("TLS %v: :scheme %q, want %q", secure, got, want)
		}
		cc.Close()
		if c := <-served; c != nil {
			c.Close()
		}
	}
}

// TestHandshakeAuthInfoReachesPeer: what the handshakes learn reaches the
// handler's Peer (and its original caller) and the client's CallPeer.
func TestHandshakeAuthInfoReachesPeer(t *testing.T) {
	p := newPKI(t, "server", "client")
	var got *Peer
	var caller string
	e := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		got, _ = PeerFromContext(ctx)
		caller, _ = OriginalCaller(ctx)
		return req, nil
	}}, []ServerOption{p.serverTLS("server", true)}, p.clientTLS("client"))
	var server Peer
	if _, err := callEcho(e.cc, context.Background(), "hi", CallPeer(&server)); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Identity != spiffe("client") || got.Addr == nil {
		t.Fatalf("handler's peer: %+v", got)
	}
	if st, ok := got.State.(*tls.ConnectionState); !ok || len(st.VerifiedChains) == 0 {
		t.Errorf("handler's peer state: %#v", got.State)
	}
	if caller != spiffe("client") {
		t.Errorf("OriginalCaller = %q, want the peer's own identity", caller)
	}
	if st, ok := server.State.(*tls.ConnectionState); server.Identity != spiffe("server") || !ok || st.NegotiatedProtocol != "h2" || server.Addr.String() != e.lis.Addr().String() {
		t.Errorf("CallPeer: %+v", server)
	}
	// Over h2c there is nothing to learn.
	h2c := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		got, _ = PeerFromContext(ctx)
		return req, nil
	}}, nil, WithInsecure())
	if _, err := callEcho(h2c.cc, context.Background(), "hi", CallPeer(&server)); err != nil {
		t.Fatal(err)
	}
	if got.State != nil || got.Identity != "" || server.State != nil || server.Identity != "" {
		t.Errorf("h2c peers: handler's %+v, client's %+v", got, server)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTLSHandshakeLogIsRateLimited: a burst of failed handshakes logs one
// line, and the next line logged counts the ones left out.
func TestTLSHandshakeLogIsRateLimited(t *testing.T) {
	p := newPKI(t, "server")
	var logs lockedBuffer
	srv := NewServer(p.serverTLS("server", false), ServerLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	for range 5 {
		a, b := net.Pipe()
		go func() {
			b.Write([]byte("not TLS at all, not at all"))
			b.Close()
		}()
		srv.ServeConn(a)
	}
	if n := strings.Count(logs.String(), "handshake failed"); n != 1 {
		t.Errorf("%d lines logged for 5 failures within a second, want 1:\n%s", n, logs.String())
	}
	srv.hsLog.mu.Lock()
	suppressed := srv.hsLog.suppressed
	srv.hsLog.mu.Unlock()
	if suppressed != 4 {
		t.Errorf("%d suppressed, want 4", suppressed)
	}
	srv.Stop()
}

// TestTLSStopEndsHandshakes: Stop ends a handshake a client never
// finishes, and its goroutine with it.
func TestTLSStopEndsHandshakes(t *testing.T) {
	p := newPKI(t, "server")
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, served := startServer(t, lis, &echoServer{unary: echoBack}, p.serverTLS("server", false))
	nc, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for {
		srv.mu.Lock()
		n := len(srv.handshaking)
		srv.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	srv.Stop()
	<-served
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.handshaking) != 0 {
		t.Errorf("%d handshakes left after Stop", len(srv.handshaking))
	}
}

// TestDialNeedsTransportSecurity: Dial without a handshake or WithInsecure
// fails and says what to add; a dialer is no answer to the question.
func TestDialNeedsTransportSecurity(t *testing.T) {
	dialer := WithDialer(func(ctx context.Context, addr string) (net.Conn, error) { return nil, net.ErrClosed })
	for name, opts := range map[string][]DialOption{
		"none":           nil,
		"dialer":         {dialer},
		"nil handshake":  {WithHandshake(nil)},
		"insecure, then": {WithInsecure(), WithHandshake(nil)},
	} {
		cc, err := Dial("127.0.0.1:1", opts...)
		if err == nil {
			cc.Close()
			t.Errorf("%s: Dial succeeded", name)
			continue
		}
		if CodeOf(err) != InvalidArgument || !errors.Is(err, ErrNoTransportSecurity) ||
			!strings.Contains(err.Error(), "rpc.WithInsecure()") || !strings.Contains(err.Error(), "h2tls.Client") {
			t.Errorf("%s: Dial: %v (code %v), want INVALID_ARGUMENT naming the options to add", name, err, CodeOf(err))
		}
	}
	// The last of WithInsecure and WithHandshake wins.
	hs := WithHandshake(func(ctx context.Context, nc net.Conn, authority string) (net.Conn, AuthInfo, error) {
		return nil, AuthInfo{}, errors.New("refused")
	})
	for name, tc := range map[string]struct {
		opts   []DialOption
		scheme string
	}{
		"insecure last":  {[]DialOption{hs, WithInsecure()}, "http"},
		"handshake last": {[]DialOption{WithInsecure(), hs}, "https"},
	} {
		cc, err := Dial("127.0.0.1:1", append(tc.opts, dialer)...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := cc.scheme(); got != tc.scheme {
			t.Errorf("%s: scheme %q, want %q", name, got, tc.scheme)
		}
		cc.Close()
	}
}
