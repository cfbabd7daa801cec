package rpc

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

// identityEcho answers with its peer's identity and the original caller.
func identityEcho(ctx context.Context, req []byte) ([]byte, error) {
	p, _ := PeerFromContext(ctx)
	caller, _ := OriginalCaller(ctx)
	return []byte(p.Identity + "|" + caller), nil
}

// TestThreeHopIdentity: client → A → B over mutual TLS. B sees A as its
// peer and the client as the original caller; a client that asserts an
// original caller itself straight at B is refused.
func TestThreeHopIdentity(t *testing.T) {
	p := newPKI(t, "client", "a", "b")
	b := newEnv(t, &echoServer{unary: identityEcho},
		[]ServerOption{p.serverTLS("b", true), TrustOriginalCallerFrom(spiffe("a"))}, p.clientTLS("client"))
	toB, err := Dial(b.lis.Addr().String(), p.clientTLS("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer toB.Close()
	a := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		// The handler calls on with its own context, as it would to pass
		// its deadline on.
		reply, err := callEcho(toB, ctx, "")
		return []byte(reply), err
	}}, []ServerOption{p.serverTLS("a", true)}, p.clientTLS("client"))

	got, err := callEcho(a.cc, context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := spiffe("a") + "|" + spiffe("client"); got != want {
		t.Errorf("B saw peer|original caller %q, want %q", got, want)
	}

	// Straight at B, the client is both.
	got, err = callEcho(b.cc, context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := spiffe("client") + "|" + spiffe("client"); got != want {
		t.Errorf("direct call: B saw %q, want %q", got, want)
	}

	// A client may not claim to call on behalf of someone else.
	ctx := AppendToOutgoingContext(context.Background(), OriginalCallerKey, spiffe("admin"))
	_, err = callEcho(b.cc, ctx, "")
	st := wantCode(t, err, PermissionDenied)
	if !strings.Contains(st.Message, spiffe("client")+" may not assert an original caller") {
		t.Errorf("refusal message %q", st.Message)
	}
}

// TestOriginalCallerNeedsTrust: without TrustOriginalCallerFrom, or over
// h2c, no peer is believed.
func TestOriginalCallerNeedsTrust(t *testing.T) {
	e := newEnv(t, &echoServer{unary: identityEcho}, nil)
	ctx := AppendToOutgoingContext(context.Background(), OriginalCallerKey, "spiffe://x/admin")
	_, err := callEcho(e.cc, ctx, "")
	st := wantCode(t, err, PermissionDenied)
	if !strings.Contains(st.Message, "an unauthenticated peer may not assert") {
		t.Errorf("refusal message %q", st.Message)
	}
}

func bearerCheck(want string) CredentialsCheck {
	return func(ctx context.Context, method string, md MD) (context.Context, error) {
		tok, ok := BearerToken(md)
		if !ok {
			return nil, errors.New("no bearer token")
		}
		if tok != want {
			return nil, &Status{Code: PermissionDenied, Message: "wrong token for " + method}
		}
		return context.WithValue(ctx, tokenKey{}, tok), nil
	}
}

type tokenKey struct{}

func bearer(tok string, calls *atomic.Int32) CallCredentials {
	return func(ctx context.Context, method string) (MD, error) {
		calls.Add(1)
		return MD{"authorization": {"Bearer " + tok}}, nil
	}
}

func TestCallCredentials(t *testing.T) {
	p := newPKI(t, "server")
	impl := &echoServer{
		unary: func(ctx context.Context, req []byte) ([]byte, error) {
			tok, _ := ctx.Value(tokenKey{}).(string)
			return []byte(tok), nil
		},
		stream: func(ss ServerStream) error {
			tok, _ := ss.Context().Value(tokenKey{}).(string)
			return ss.SendMsg([]byte(tok))
		},
	}
	e := newEnv(t, impl, []ServerOption{p.serverTLS("server", false), CheckCallCredentials(bearerCheck("s3cret"))})
	var calls atomic.Int32

	dial := func(opts ...DialOption) *ClientConn {
		cc, err := Dial(e.lis.Addr().String(), append([]DialOption{WithInsecure()}, opts...)...) // opts may ask for TLS
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	good := dial(p.clientTLS(""), WithCallCredentials(bearer("s3cret", &calls)))
	if got, err := callEcho(good, context.Background(), ""); err != nil || got != "s3cret" {
		t.Fatalf("unary with the right token: %q, %v", got, err)
	}
	cs, err := good.NewStream(context.Background(), serverStreamDesc, "/test.Echo/ServerStream")
	if err != nil {
		t.Fatal(err)
	}
	cs.SendMsg([]byte{})
	cs.CloseSend()
	var got []byte
	if err := cs.RecvMsg(&got); err != nil || string(got) != "s3cret" {
		t.Fatalf("stream with the right token: %q, %v", got, err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("credentials asked %d times for 2 calls", n)
	}

	wrong := dial(p.clientTLS(""), WithCallCredentials(bearer("guess", &calls)))
	_, err = callEcho(wrong, context.Background(), "")
	wantCode(t, err, PermissionDenied)
	none := dial(p.clientTLS(""))
	_, err = callEcho(none, context.Background(), "")
	wantCode(t, err, Unauthenticated)

	// Over h2c the credentials are never asked for, and the call fails.
	h2c := newEnv(t, impl, []ServerOption{CheckCallCredentials(bearerCheck("s3cret"))})
	calls.Store(0)
	cc, err := Dial(h2c.lis.Addr().String(), WithInsecure(), WithCallCredentials(bearer("s3cret", &calls)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, err = callEcho(cc, context.Background(), "")
	st := wantCode(t, err, Unauthenticated)
	if !strings.Contains(st.Message, "not sent over h2c") || calls.Load() != 0 {
		t.Errorf("h2c: %q, credentials asked %d times", st.Message, calls.Load())
	}
	// Unless allowed.
	allowed, err := Dial(h2c.lis.Addr().String(), WithInsecure(), WithInsecureCallCredentials(bearer("s3cret", &calls)))
	if err != nil {
		t.Fatal(err)
	}
	defer allowed.Close()
	if got, err := callEcho(allowed, context.Background(), ""); err != nil || got != "s3cret" {
		t.Errorf("h2c with WithInsecureCallCredentials: %q, %v", got, err)
	}
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		vals []string
		want string
		ok   bool
	}{
		{[]string{"Bearer abc"}, "abc", true},
		{[]string{"bearer  abc "}, "abc", true},
		{[]string{"Basic xyz", "Bearer abc"}, "abc", true},
		{[]string{"Bearer "}, "", false},
		{[]string{"Basic xyz"}, "", false},
		{nil, "", false},
	} {
		got, ok := BearerToken(MD{"authorization": tc.vals})
		if got != tc.want || ok != tc.ok {
			t.Errorf("BearerToken(%q) = %q, %v", tc.vals, got, ok)
		}
	}
}
