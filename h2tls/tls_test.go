package h2tls_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/h2tls"
	"github.com/h2rpc/h2rpc/internal/devcert"
)

// tlsConfigs returns a server and a client TLS configuration, through
// Configure, for a server certificate of a fresh authority valid for
// "localhost".
func tlsConfigs(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	ca := devcert.MustAuthority("test CA")
	cert := ca.MustIssue(devcert.Leaf{CommonName: "server", Names: []string{"localhost"}, Server: true})
	server = h2tls.Configure(&tls.Config{Certificates: []tls.Certificate{cert}})
	client = h2tls.Configure(&tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	return server, client
}

// handshake runs both sides of a TLS handshake over loopback TCP.
func handshake(t testing.TB, serverCfg, clientCfg *tls.Config) (client, server net.Conn, clientErr, serverErr error) {
	t.Helper()
	cn, sn := loopback(t)
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var tc net.Conn
		tc, serverErr = h2tls.ServerHandshake(ctx, sn, serverCfg)
		if serverErr != nil {
			sn.Close()
			return
		}
		server = tc
	}()
	tc, err := h2tls.ClientHandshake(ctx, cn, clientCfg)
	if err != nil {
		cn.Close()
		clientErr = err
	} else {
		client = tc
	}
	<-done
	return client, server, clientErr, serverErr
}

func TestTLSRoundTrip(t *testing.T) {
	scfg, ccfg := tlsConfigs(t)
	cn, sn, cerr, serr := handshake(t, scfg, ccfg)
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	server, err := conn.Server(sn, nil, hashEcho)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	client, err := conn.Client(cn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for i := range 4 {
		if err := roundTrip(context.Background(), client, i, 100<<10); err != nil {
			t.Fatal(err)
		}
	}
	st := cn.(interface{ ConnectionState() tls.ConnectionState }).ConnectionState()
	if st.NegotiatedProtocol != "h2" || st.Version != tls.VersionTLS13 {
		t.Errorf("client TLS state: ALPN %q, version %x", st.NegotiatedProtocol, st.Version)
	}
}

// TestTLSWithoutALPNIsRefused: a peer that did not agree to speak HTTP/2
// (RFC 9113 §3.2) fails the handshake on both sides.
func TestTLSWithoutALPNIsRefused(t *testing.T) {
	scfg, ccfg := tlsConfigs(t)
	scfg.NextProtos = []string{"http/1.1"}
	ccfg.NextProtos = nil
	_, _, cerr, serr := handshake(t, scfg, ccfg)
	for side, err := range map[string]error{"client": cerr, "server": serr} {
		if err == nil || !strings.Contains(err.Error(), `ALPN protocol "", not "h2"`) {
			t.Errorf("%s handshake without ALPN h2: %v, want the ALPN refusal", side, err)
		}
	}
}

// TestTLS12ProhibitedCipher: a TLS 1.2 connection on a cipher suite of the
// RFC 9113 Appendix A block list fails the handshake with
// INADEQUATE_SECURITY (§9.2.2), and the peer, even one that does not
// check, learns it from a GOAWAY.
func TestTLS12ProhibitedCipher(t *testing.T) {
	scfg, ccfg := tlsConfigs(t)
	// Bypass Configure's cipher filter to negotiate a CBC suite.
	scfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
	scfg.MaxVersion = tls.VersionTLS12
	ccfg.CipherSuites = scfg.CipherSuites

	_, _, cerr, serr := handshake(t, scfg, ccfg)
	for side, err := range map[string]error{"client": cerr, "server": serr} {
		var ce *frame.ConnError
		if !errors.As(err, &ce) || ce.Code != frame.ErrCodeInadequateSecurity || !strings.Contains(ce.Reason, "0xC009") && !strings.Contains(ce.Reason, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA") {
			t.Errorf("%s handshake: %v, want INADEQUATE_SECURITY naming the suite", side, err)
		}
	}

	// A client that runs crypto/tls itself and starts HTTP/2 unchecked.
	cn, sn := loopback(t)
	serrc := make(chan error, 1)
	go func() {
		_, err := h2tls.ServerHandshake(context.Background(), sn, scfg)
		sn.Close()
		serrc <- err
	}()
	tc := tls.Client(cn, ccfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	client, err := conn.Client(tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	<-client.Done()
	var ga *conn.GoAwayError
	if !errors.As(client.Err(), &ga) || ga.Code != frame.ErrCodeInadequateSecurity {
		t.Errorf("unchecking client ended with %v, want GOAWAY INADEQUATE_SECURITY", client.Err())
	}
	client.Close()
	if err := <-serrc; err == nil {
		t.Error("ServerHandshake succeeded on a prohibited cipher suite")
	}
}

func TestConfigure(t *testing.T) {
	in := &tls.Config{
		NextProtos:   []string{"http/1.1"},
		CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
		MinVersion:   tls.VersionTLS10,
		ServerName:   "keep.me",
	}
	out := h2tls.Configure(in)
	if !slices.Equal(out.NextProtos, []string{"h2", "http/1.1"}) || out.MinVersion != tls.VersionTLS12 ||
		!slices.Equal(out.CipherSuites, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}) ||
		out.ServerName != "keep.me" || out.Renegotiation != tls.RenegotiateNever {
		t.Errorf("Configure = ALPN %v, min %x, suites %v, name %q, renegotiation %v", out.NextProtos, out.MinVersion, out.CipherSuites, out.ServerName, out.Renegotiation)
	}
	if len(in.NextProtos) != 1 || in.MinVersion != tls.VersionTLS10 || len(in.CipherSuites) != 2 {
		t.Error("Configure changed its argument")
	}
	if nilOut := h2tls.Configure(nil); !slices.Equal(nilOut.NextProtos, []string{"h2"}) {
		t.Errorf("Configure(nil).NextProtos = %v", nilOut.NextProtos)
	}
}

// TestH2CToTLSPort: a cleartext client learns from the server's GOAWAY
// that the port requires TLS.
func TestH2CToTLSPort(t *testing.T) {
	scfg, _ := tlsConfigs(t)
	cn, sn := loopback(t)
	serr := make(chan error, 1)
	go func() {
		_, err := h2tls.ServerHandshake(context.Background(), sn, scfg)
		sn.Close()
		serr <- err
	}()
	client, err := conn.Client(cn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := <-serr; !errors.Is(err, h2tls.ErrRequired) {
		t.Errorf("ServerHandshake: %v, want ErrRequired", err)
	}
	_, err = client.OpenStream(context.Background(), request("/x"), nil, conn.EndStream)
	<-client.Done()
	var ga *conn.GoAwayError
	if !errors.As(client.Err(), &ga) || ga.Code != frame.ErrCodeInadequateSecurity || !strings.Contains(ga.Debug, "requires TLS") {
		t.Errorf("client ended with %v (OpenStream: %v), want GOAWAY INADEQUATE_SECURITY saying TLS is required", client.Err(), err)
	}
}

// TestTLSToH2CPort: a TLS client learns that the server speaks plaintext.
func TestTLSToH2CPort(t *testing.T) {
	_, ccfg := tlsConfigs(t)
	cn, sn := loopback(t)
	server, err := conn.Server(sn, nil, hashEcho)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	_, err = h2tls.ClientHandshake(context.Background(), cn, ccfg)
	cn.Close()
	if err == nil || !strings.Contains(err.Error(), "plaintext") {
		t.Errorf("ClientHandshake against h2c: %v, want it to say the server answered in plaintext", err)
	}
}

// TestTLSHandshakeErrorsNameTheCause: each common mistake gets an error
// that says what it is.
func TestTLSHandshakeErrorsNameTheCause(t *testing.T) {
	ca := devcert.MustAuthority("test CA")
	other := devcert.MustAuthority("other CA")
	good := ca.MustIssue(devcert.Leaf{Names: []string{"localhost"}, Server: true})
	expired := ca.MustIssue(devcert.Leaf{Names: []string{"localhost"}, Server: true,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	for _, tc := range []struct {
		name       string
		cert       tls.Certificate
		clientCfg  *tls.Config
		wantClient string
	}{
		{"unknown CA", good, &tls.Config{RootCAs: other.Pool(), ServerName: "localhost"}, "authority we do not trust"},
		{"name mismatch", good, &tls.Config{RootCAs: ca.Pool(), ServerName: "elsewhere.example"}, "not valid for the name"},
		{"expired", expired, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}, "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scfg := h2tls.Configure(&tls.Config{Certificates: []tls.Certificate{tc.cert}})
			_, _, cerr, serr := handshake(t, scfg, h2tls.Configure(tc.clientCfg))
			if cerr == nil || !strings.Contains(cerr.Error(), tc.wantClient) {
				t.Errorf("client: %v, want %q", cerr, tc.wantClient)
			}
			if serr == nil {
				t.Error("server: handshake succeeded")
			}
		})
	}
}

// writeCounter counts the writes on a net.Conn.
type writeCounter struct {
	net.Conn
	writes atomic.Int64
}

func (c *writeCounter) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// TestTLSWriteIsOneSyscall: a Write of many TLS records' worth goes out
// in one write on the raw connection, and arrives whole.
func TestTLSWriteIsOneSyscall(t *testing.T) {
	scfg, ccfg := tlsConfigs(t)
	cn, sn := loopback(t)
	counted := &writeCounter{Conn: cn}
	done := make(chan net.Conn, 1)
	go func() {
		tc, err := h2tls.ServerHandshake(context.Background(), sn, scfg)
		if err != nil {
			sn.Close()
			done <- nil
			return
		}
		done <- tc
	}()
	tc, err := h2tls.ClientHandshake(context.Background(), counted, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	server := <-done
	if server == nil {
		t.Fatal("server handshake failed")
	}
	defer server.Close()
	want := body(7, 100<<10) // seven records of at most 16 KiB
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, len(want))
		_, err := io.ReadFull(server, b)
		if err != nil {
			b = nil
		}
		got <- b
	}()
	before := counted.writes.Load()
	if n, err := tc.Write(want); err != nil || n != len(want) {
		t.Fatalf("Write: %d, %v", n, err)
	}
	// A Write this large returns once sealed, and is written behind it:
	// count once it has arrived.
	if b := <-got; !bytes.Equal(b, want) {
		t.Errorf("the server read %d bytes, not what was written", len(b))
	}
	if w := counted.writes.Load() - before; w != 1 {
		t.Errorf("%d writes on the raw connection for one Write of %d bytes, want 1", w, len(want))
	}
}

// TestTLSCloseAfterLargeWrites: Close right after Writes that return
// before their records are written (large ones) loses none of them: the
// peer reads every byte, then the end of the stream.
func TestTLSCloseAfterLargeWrites(t *testing.T) {
	scfg, ccfg := tlsConfigs(t)
	for i := range 20 {
		client, server, cerr, serr := handshake(t, scfg, ccfg)
		if cerr != nil || serr != nil {
			t.Fatalf("handshake: client %v, server %v", cerr, serr)
		}
		want := body(i, 1<<20)
		got := make(chan error, 1)
		go func() {
			b, err := io.ReadAll(client)
			if err == nil && !bytes.Equal(b, want) {
				err = fmt.Errorf("read %d bytes, not the %d written", len(b), len(want))
			}
			got <- err
		}()
		for p := want; len(p) > 0; p = p[64<<10:] {
			if _, err := server.Write(p[:64<<10]); err != nil {
				t.Fatal(err)
			}
		}
		if err := server.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		client.Close()
	}
}

// TestConfigureWrapsGetConfigForClient: a config chosen per client
// hello negotiates h2 too.
func TestConfigureWrapsGetConfigForClient(t *testing.T) {
	scfg, ccfg := tlsConfigs(t)
	inner := &tls.Config{Certificates: scfg.Certificates} // no ALPN of its own
	var calls atomic.Int32
	outer := h2tls.Configure(&tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		calls.Add(1)
		return inner, nil
	}})
	cn, sn, cerr, serr := handshake(t, outer, ccfg)
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	defer cn.Close()
	defer sn.Close()
	st := cn.(interface{ ConnectionState() tls.ConnectionState }).ConnectionState()
	if st.NegotiatedProtocol != "h2" || calls.Load() != 1 {
		t.Errorf("ALPN %q after %d GetConfigForClient calls; want h2 after 1", st.NegotiatedProtocol, calls.Load())
	}
}

// TestTLSAlertWhileWriting: the read side of a connection that is writing
// flat out sends a TLS alert (the peer sent a record that does not
// decrypt) through the write coalescer, under crypto/tls's output lock,
// while batches are sealed and written: nothing waits for anything else,
// both sides end with an error.
func TestTLSAlertWhileWriting(t *testing.T) {
	scfg, ccfg := tlsConfigs(t)
	for i := range 40 {
		cn, sn := loopback(t)
		accepted := make(chan net.Conn, 1)
		go func() {
			tc, err := h2tls.ServerHandshake(context.Background(), sn, scfg)
			if err != nil {
				sn.Close()
				tc = nil
			}
			accepted <- tc
		}()
		client := tls.Client(cn, ccfg)
		if err := client.Handshake(); err != nil {
			t.Fatal(err)
		}
		server := <-accepted
		if server == nil {
			t.Fatal("server handshake failed")
		}
		// The client reads everything as raw bytes from now on.
		drained := make(chan struct{})
		go func() {
			io.Copy(io.Discard, cn)
			close(drained)
		}()
		done := make(chan error, 2)
		go func() {
			chunk := make([]byte, 32<<10)
			for {
				if _, err := server.Write(chunk); err != nil {
					done <- nil
					return
				}
			}
		}()
		go func() {
			_, err := io.Copy(io.Discard, server)
			if err == nil {
				err = errors.New("read to EOF, want a decryption error")
			} else {
				err = nil
			}
			done <- err
		}()
		time.Sleep(time.Duration(i%4) * time.Millisecond)
		// An application-data record that cannot decrypt: the server's
		// reader answers with an alert and fails, which fails the writes.
		bad := append([]byte{23, 3, 3, 0, 64}, make([]byte, 64)...)
		if _, err := cn.Write(bad); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(20 * time.Second)
		for range 2 {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-timeout:
				t.Fatalf("connection %d: the server's reader and writer are stuck after the alert", i)
			}
		}
		server.Close()
		cn.Close()
		<-drained
	}
}
