package h2tls

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

	"github.com/h2rpc/h2rpc/internal/devcert"
	"github.com/h2rpc/h2rpc/rpc"
)

// The rpc options end to end: an echo service over TLS, the peer a
// handler and a client see, and the errors users get.

func spiffe(name string) string { return "spiffe://h2rpc.test/" + name }

// pki is a test authority with the certificates of a few workloads, each
// valid for localhost and 127.0.0.1 and named by a SPIFFE ID.
type pki struct {
	ca    *devcert.Authority
	certs map[string]tls.Certificate
}

func newPKI(names ...string) *pki {
	p := &pki{ca: devcert.MustAuthority("test CA"), certs: map[string]tls.Certificate{}}
	for _, n := range names {
		p.certs[n] = p.ca.MustIssue(devcert.Leaf{CommonName: n, Names: []string{"localhost", "127.0.0.1"}, URIs: []string{spiffe(n)}})
	}
	return p
}

// server is the server side: its certificate, and with mutual the client
// certificates it requires.
func (p *pki) server(name string, mutual bool) rpc.ServerOption {
	cfg := &tls.Config{Certificates: []tls.Certificate{p.certs[name]}}
	if mutual {
		cfg.ClientCAs = p.ca.Pool()
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return Server(cfg)
}

// client is the client side, presenting the certificate name (none if "").
func (p *pki) client(name string) rpc.DialOption {
	cfg := &tls.Config{RootCAs: p.ca.Pool()}
	if name != "" {
		cfg.Certificates = []tls.Certificate{p.certs[name]}
	}
	return Client(cfg)
}

type echoServer struct {
	unary func(ctx context.Context, req []byte) ([]byte, error)
}

var echoDesc = rpc.ServiceDesc{
	ServiceName: "test.Echo",
	Methods: []rpc.MethodDesc{{MethodName: "Unary", Handler: func(srv any, ctx context.Context, dec func(any) error, _ rpc.UnaryServerInterceptor) (any, error) {
		var req []byte
		if err := dec(&req); err != nil {
			return nil, err
		}
		return srv.(*echoServer).unary(ctx, req)
	}}},
}

func echoBack(_ context.Context, req []byte) ([]byte, error) { return req, nil }

type env struct {
	srv *rpc.Server
	lis net.Listener
	cc  *rpc.ClientConn
}

// newEnv serves impl on a loopback listener until the test ends, with a
// ClientConn dialled to it if dopts are given.
func newEnv(t *testing.T, impl *echoServer, sopts []rpc.ServerOption, dopts ...rpc.DialOption) *env {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(sopts...)
	srv.RegisterService(&echoDesc, impl)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	var cc *rpc.ClientConn
	if len(dopts) > 0 {
		cc, err = rpc.Dial(lis.Addr().String(), dopts...)
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if cc != nil {
			cc.Close()
		}
		srv.Stop()
		if err := <-served; err != nil && err != rpc.ErrServerStopped {
			t.Errorf("Serve: %v", err)
		}
	})
	return &env{srv: srv, lis: lis, cc: cc}
}

func callEcho(cc *rpc.ClientConn, ctx context.Context, msg string, opts ...rpc.CallOption) (string, error) {
	var reply []byte
	err := cc.Invoke(ctx, "/test.Echo/Unary", []byte(msg), &reply, opts...)
	return string(reply), err
}

func wantCode(t *testing.T, err error, want rpc.Code) *rpc.Status {
	t.Helper()
	if rpc.CodeOf(err) != want {
		t.Fatalf("error %v: code %v, want %v", err, rpc.CodeOf(err), want)
	}
	return rpc.StatusOf(err)
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

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestMutualTLSPeerIdentity: the handler sees the client's TLS state and
// SPIFFE ID, the client (CallPeer) the server's.
func TestMutualTLSPeerIdentity(t *testing.T) {
	p := newPKI("server", "client")
	var got *rpc.Peer
	var caller string
	e := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		got, _ = rpc.PeerFromContext(ctx)
		caller, _ = rpc.OriginalCaller(ctx)
		return req, nil
	}}, []rpc.ServerOption{p.server("server", true)}, p.client("client"))
	var server rpc.Peer
	if _, err := callEcho(e.cc, context.Background(), "hi", rpc.CallPeer(&server)); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Identity != spiffe("client") || got.Addr == nil {
		t.Fatalf("handler's peer: %+v", got)
	}
	if st, ok := got.State.(*tls.ConnectionState); !ok || len(st.VerifiedChains) == 0 {
		t.Errorf("handler's peer TLS state: %#v", got.State)
	}
	if caller != spiffe("client") {
		t.Errorf("OriginalCaller = %q, want the peer's own identity", caller)
	}
	st, ok := server.State.(*tls.ConnectionState)
	if server.Identity != spiffe("server") || !ok || st.NegotiatedProtocol != "h2" || server.Addr.String() != e.lis.Addr().String() {
		t.Errorf("CallPeer: %+v", server)
	}
}

// TestTLSWithoutClientCertHasNoIdentity: a TLS peer without a verified
// certificate has no identity, so no original caller either.
func TestTLSWithoutClientCertHasNoIdentity(t *testing.T) {
	p := newPKI("server")
	var got *rpc.Peer
	var hasCaller bool
	e := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		got, _ = rpc.PeerFromContext(ctx)
		_, hasCaller = rpc.OriginalCaller(ctx)
		return req, nil
	}}, []rpc.ServerOption{p.server("server", false)}, p.client(""))
	if _, err := callEcho(e.cc, context.Background(), "hi"); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.State == nil || got.Identity != "" || hasCaller {
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
	p := newPKI("server")
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
				[]rpc.ServerOption{p.server("server", true), rpc.ServerLogger(slog.New(slog.NewTextHandler(&logs, nil)))})
			cfg := &tls.Config{RootCAs: p.ca.Pool()}
			if tc.cert != nil {
				cfg.Certificates = []tls.Certificate{*tc.cert}
			}
			cc, err := rpc.Dial(e.lis.Addr().String(), Client(cfg))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			_, err = callEcho(cc, context.Background(), "hi")
			st := wantCode(t, err, rpc.Unavailable)
			if !containsAny(st.Message, tc.want) {
				t.Errorf("message %q, want one of %q", st.Message, tc.want)
			}
			e.srv.Stop() // the handshake's end is logged before Stop returns
			if !strings.Contains(logs.String(), "handshake failed") {
				t.Errorf("server log %q: no handshake failure", logs.String())
			}
		})
	}
}

// TestTLSClientErrorsNameTheCause: an unknown authority, a name
// mismatch, an expired server certificate, and each side speaking the
// other's language fail the call with UNAVAILABLE and the reason.
func TestTLSClientErrorsNameTheCause(t *testing.T) {
	p := newPKI("server")
	other := devcert.MustAuthority("other CA")
	expired := p.ca.MustIssue(devcert.Leaf{Names: []string{"127.0.0.1"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	for _, tc := range []struct {
		name  string
		sopts []rpc.ServerOption
		dopts []rpc.DialOption
		want  string
	}{
		{"unknown CA", []rpc.ServerOption{p.server("server", false)}, []rpc.DialOption{Client(&tls.Config{RootCAs: other.Pool()})}, "authority we do not trust"},
		{"name mismatch", []rpc.ServerOption{p.server("server", false)}, []rpc.DialOption{p.client(""), rpc.WithAuthority("elsewhere.example:443")}, "not valid for the name"},
		{"expired", []rpc.ServerOption{Server(&tls.Config{Certificates: []tls.Certificate{expired}})}, []rpc.DialOption{p.client("")}, "expired"},
		{"h2c to a TLS port", []rpc.ServerOption{p.server("server", false)}, []rpc.DialOption{rpc.WithInsecure()}, "requires TLS"},
		{"TLS to an h2c port", nil, []rpc.DialOption{p.client("")}, "plaintext"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &echoServer{unary: echoBack}, tc.sopts, tc.dopts...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := callEcho(e.cc, ctx, "hi")
			st := wantCode(t, err, rpc.Unavailable)
			if !strings.Contains(st.Message, tc.want) {
				t.Errorf("message %q, want %q", st.Message, tc.want)
			}
		})
	}
}

// TestClientOverDialerTLS: a dialer that returns a *tls.Conn is not
// wrapped in TLS again; the connection is completed and checked as ours
// are.
func TestClientOverDialerTLS(t *testing.T) {
	p := newPKI("server")
	e := newEnv(t, &echoServer{unary: echoBack}, []rpc.ServerOption{p.server("server", false)})
	dialer := func(alpn ...string) rpc.DialOption {
		return rpc.WithDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			// The handshake is left to h2tls.Client.
			return tls.Client(nc, &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost", NextProtos: alpn}), nil
		})
	}
	// Client's own config trusts no one: used, it would fail the call.
	distrust := Client(&tls.Config{RootCAs: devcert.MustAuthority("other CA").Pool()})

	cc, err := rpc.Dial(e.lis.Addr().String(), dialer("h2"), distrust)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var server rpc.Peer
	if got, err := callEcho(cc, context.Background(), "hi", rpc.CallPeer(&server)); err != nil || got != "hi" {
		t.Fatalf("call over the dialer's TLS: %q, %v", got, err)
	}
	if server.Identity != spiffe("server") {
		t.Errorf("server identity %q, want %q", server.Identity, spiffe("server"))
	}

	// Without ALPN h2 the dialer's connection is refused as ours would be.
	cc2, err := rpc.Dial(e.lis.Addr().String(), dialer(), distrust)
	if err != nil {
		t.Fatal(err)
	}
	defer cc2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = callEcho(cc2, ctx, "hi")
	if st := wantCode(t, err, rpc.Unavailable); !strings.Contains(st.Message, `not "h2"`) {
		t.Errorf("message %q, want the ALPN refusal", st.Message)
	}
}
