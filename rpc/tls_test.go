package rpc

import (
	"bytes"
	"context"
	"crypto/tls"
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

// serverTLS is the server side: its certificate, and with mutual the
// client certificates it requires.
func (p *pki) serverTLS(name string, mutual bool) ServerOption {
	cfg := &tls.Config{Certificates: []tls.Certificate{p.certs[name]}}
	if mutual {
		cfg.ClientCAs = p.ca.Pool()
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return ServerTLS(cfg)
}

// clientTLS is the client side, presenting the certificate name (none if
// "").
func (p *pki) clientTLS(name string) DialOption {
	cfg := &tls.Config{RootCAs: p.ca.Pool()}
	if name != "" {
		cfg.Certificates = []tls.Certificate{p.certs[name]}
	}
	return WithTLS(cfg)
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
		scfg := conn.ConfigureTLS(&tls.Config{Certificates: []tls.Certificate{p.certs["server"]}})
		served := make(chan *conn.Conn, 1)
		go func() {
			nc, err := lis.Accept()
			lis.Close()
			if err != nil {
				served <- nil
				return
			}
			if secure {
				tc, err := conn.ServerHandshake(context.Background(), nc, scfg)
				if err != nil {
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
		cc, err := Dial(lis.Addr().String(), opt)
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

// TestMutualTLSPeerIdentity: the handler sees the client's SPIFFE ID, the
// client (CallPeer) the server's.
func TestMutualTLSPeerIdentity(t *testing.T) {
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
	if got == nil || got.TLS == nil || got.Identity != spiffe("client") || got.Addr == nil || len(got.TLS.VerifiedChains) == 0 {
		t.Fatalf("handler's peer: %+v", got)
	}
	if caller != spiffe("client") {
		t.Errorf("OriginalCaller = %q, want the peer's own identity", caller)
	}
	if server.Identity != spiffe("server") || server.TLS == nil || server.TLS.NegotiatedProtocol != "h2" || server.Addr.String() != e.lis.Addr().String() {
		t.Errorf("CallPeer: %+v", server)
	}
}

// TestTLSWithoutClientCertHasNoIdentity: a TLS peer without a verified
// certificate has no identity, so no original caller either.
func TestTLSWithoutClientCertHasNoIdentity(t *testing.T) {
	p := newPKI(t, "server")
	var got *Peer
	var hasCaller bool
	e := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		got, _ = PeerFromContext(ctx)
		_, hasCaller = OriginalCaller(ctx)
		return req, nil
	}}, []ServerOption{p.serverTLS("server", false)}, p.clientTLS(""))
	if _, err := callEcho(e.cc, context.Background(), "hi"); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.TLS == nil || got.Identity != "" || hasCaller {
		t.Errorf("peer %+v, original caller %v", got, hasCaller)
	}
}

func TestWorkloadIdentity(t *testing.T) {
	ca := devcert.MustAuthority("ca")
	for _, tc := range []struct {
		leaf devcert.Leaf
		want string
	}{
		{devcert.Leaf{CommonName: "cn", Names: []string{"a.example"}, URIs: []string{"https://x.example/y", "spiffe://td/ns/prod/sa/web"}}, "spiffe://td/ns/prod/sa/web"},
		{devcert.Leaf{CommonName: "cn", Names: []string{"a.example"}}, "cn"},
		{devcert.Leaf{Names: []string{"a.example", "b.example"}}, "a.example"},
		{devcert.Leaf{}, ""},
	} {
		c := ca.MustIssue(tc.leaf)
		if got := WorkloadIdentity(c.Leaf); got != tc.want {
			t.Errorf("WorkloadIdentity(%+v) = %q, want %q", tc.leaf, got, tc.want)
		}
	}
}

// TestMutualTLSRefusals: a client without a certificate, with one from
// another authority, or with an expired one, is refused, and its call
// fails with UNAVAILABLE saying why.
func TestMutualTLSRefusals(t *testing.T) {
	p := newPKI(t, "server")
	other := devcert.MustAuthority("other CA")
	fromOther := other.MustIssue(devcert.Leaf{CommonName: "intruder"})
	expired := p.ca.MustIssue(devcert.Leaf{CommonName: "late", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		want []string // any of these in the message
	}{
		{"no certificate", nil, []string{"requires a client certificate signed by an authority it trusts"}},
		{"another CA", &fromOther, []string{"requires a client certificate", "refused"}},
		{"expired", &expired, []string{"refused the TLS handshake"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs lockedBuffer
			e := newEnv(t, &echoServer{unary: echoBack},
				[]ServerOption{p.serverTLS("server", true), ServerLogger(slog.New(slog.NewTextHandler(&logs, nil)))})
			cfg := &tls.Config{RootCAs: p.ca.Pool()}
			if tc.cert != nil {
				cfg.Certificates = []tls.Certificate{*tc.cert}
			}
			cc, err := Dial(e.lis.Addr().String(), WithTLS(cfg))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			_, err = callEcho(cc, context.Background(), "hi")
			st := wantCode(t, err, Unavailable)
			if !containsAny(st.Message, tc.want) {
				t.Errorf("message %q, want one of %q", st.Message, tc.want)
			}
			e.srv.Stop() // the handshake's end is logged before Stop returns
			if !strings.Contains(logs.String(), "TLS handshake failed") {
				t.Errorf("server log %q: no handshake failure", logs.String())
			}
		})
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
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

// TestTLSClientErrorsNameTheCause: an unknown authority, a name
// mismatch, an expired server certificate, and each side speaking the
// other's language fail the call with UNAVAILABLE and the reason.
func TestTLSClientErrorsNameTheCause(t *testing.T) {
	p := newPKI(t, "server")
	other := devcert.MustAuthority("other CA")
	expired := p.ca.MustIssue(devcert.Leaf{Names: []string{"127.0.0.1"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	for _, tc := range []struct {
		name  string
		sopts []ServerOption
		dopts []DialOption
		want  string
	}{
		{"unknown CA", []ServerOption{p.serverTLS("server", false)}, []DialOption{WithTLS(&tls.Config{RootCAs: other.Pool()})}, "authority we do not trust"},
		{"name mismatch", []ServerOption{p.serverTLS("server", false)}, []DialOption{p.clientTLS(""), WithAuthority("elsewhere.example:443")}, "not valid for the name"},
		{"expired", []ServerOption{ServerTLS(&tls.Config{Certificates: []tls.Certificate{expired}})}, []DialOption{p.clientTLS("")}, "expired"},
		{"h2c to a TLS port", []ServerOption{p.serverTLS("server", false)}, []DialOption{WithInsecure()}, "requires TLS"},
		{"TLS to an h2c port", nil, []DialOption{p.clientTLS("")}, "plaintext"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &echoServer{unary: echoBack}, tc.sopts, tc.dopts...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := callEcho(e.cc, ctx, "hi")
			st := wantCode(t, err, Unavailable)
			if !strings.Contains(st.Message, tc.want) {
				t.Errorf("message %q, want %q", st.Message, tc.want)
			}
		})
	}
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
	if n := strings.Count(logs.String(), "TLS handshake failed"); n != 1 {
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
