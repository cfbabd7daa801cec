package interop

// gRPC interoperability over TLS, both ways, every standard case: grpc-go's
// interop client (--use_tls --use_test_ca --server_host_override) against
// our TestService on rpc.Server with h2tls.Server, and our client (h2tls.Client)
// against grpc-go's interop server (--use_tls --tls_cert_file). Both sides
// use the same throwaway authority and a server certificate for a name
// that is not the address dialled, so that the name override is what makes
// verification pass.

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/h2rpc/h2rpc/examples/authz"
	"github.com/h2rpc/h2rpc/examples/messenger"
	"github.com/h2rpc/h2rpc/h2tls"
	"github.com/h2rpc/h2rpc/internal/devcert"
	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/rpc"
)

// tlsServerName is the only name the interop server certificate names.
const tlsServerName = "foo.test.h2rpc"

// interopPKI is a throwaway authority and a server certificate, in memory
// and as PEM files in a temporary directory.
type interopPKI struct {
	ca                        *devcert.Authority
	cert                      tls.Certificate
	caFile, certFile, keyFile string
}

func newInteropPKI(t *testing.T) *interopPKI {
	t.Helper()
	ca, err := devcert.NewAuthority("h2rpc interop CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, certPEM, keyPEM, err := ca.Issue(devcert.Leaf{CommonName: tlsServerName, Names: []string{tlsServerName}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := &interopPKI{ca: ca, cert: cert,
		caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "server.pem"), keyFile: filepath.Join(dir, "server.key")}
	for name, b := range map[string][]byte{p.caFile: ca.CertPEM, p.certFile: certPEM, p.keyFile: keyPEM} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// clientFlags are the TLS flags of both interop clients.
func (p *interopPKI) clientFlags() []string {
	return []string{"--use_tls=true", "--use_test_ca=true", "--ca_file=" + p.caFile, "--server_host_override=" + tlsServerName}
}

func TestGRPCInteropTLS(t *testing.T) {
	checkNoLeaks(t)
	p := newInteropPKI(t)
	bins := t.TempDir()
	grpcClient := goBuild(t, bins, "grpc-go-interop-client", "google.golang.org/grpc/interop/client")
	grpcServer := goBuild(t, bins, "grpc-go-interop-server", "google.golang.org/grpc/interop/server")
	ourClient := goBuild(t, bins, "h2rpc-interop-client", "./cmd/client")
	ourServer := goBuild(t, bins, "h2rpc-interop-server", "./cmd/server")

	newTally := tallies(t)

	t.Run("ClientGRPCGo_ServerH2RPC", func(t *testing.T) {
		ty := newTally("over TLS, grpc-go client -> h2rpc server")
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := rpc.NewServer(rpc.ServerCodec(testservice.Codec), h2tls.Server(&tls.Config{Certificates: []tls.Certificate{p.cert}}))
		testservice.Register(s, &testservice.Server{})
		served := make(chan error, 1)
		go func() { served <- s.Serve(lis) }()
		defer func() {
			s.Stop()
			<-served
		}()
		host, port, _ := net.SplitHostPort(lis.Addr().String())
		for _, name := range standardCases {
			ty.run(t, name, func(t *testing.T) {
				runProcess(t, grpcClient, append([]string{"--server_host=" + host, "--server_port=" + port, "--test_case=" + name}, p.clientFlags()...)...)
			})
		}
		host, port, _ = net.SplitHostPort(startOurServerBinary(t, ourServer, "--use_tls=true", "--tls_cert_file="+p.certFile, "--tls_key_file="+p.keyFile))
		for _, name := range []string{"large_unary", "ping_pong"} {
			ty.run(t, "cmd/server/"+name, func(t *testing.T) {
				runProcess(t, grpcClient, append([]string{"--server_host=" + host, "--server_port=" + port, "--test_case=" + name}, p.clientFlags()...)...)
			})
		}
	})

	t.Run("ClientH2RPC_ServerGRPCGo", func(t *testing.T) {
		ty := newTally("over TLS, h2rpc client -> grpc-go server")
		addr := startProcessServer(t, grpcServer, "--use_tls=true", "--tls_cert_file="+p.certFile, "--tls_key_file="+p.keyFile)
		dial := func() (*rpc.ClientConn, error) {
			return testservice.Dial(addr, h2tls.Client(&tls.Config{RootCAs: p.ca.Pool(), ServerName: tlsServerName}))
		}
		cc, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		cfg := soakLenient(testservice.Config{Dial: dial})
		for _, name := range standardCases {
			ty.run(t, name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
				defer cancel()
				if err := testservice.RunCase(ctx, cc, name, cfg); err != nil {
					t.Error(err)
				}
			})
		}
		host, port, _ := net.SplitHostPort(addr)
		for _, name := range []string{"large_unary", "ping_pong"} {
			ty.run(t, "cmd/client/"+name, func(t *testing.T) {
				out := runProcess(t, ourClient, append([]string{"--server_host=" + host, "--server_port=" + port, "--test_case=" + name}, p.clientFlags()...)...)
				if !strings.Contains(out, "PASS "+name) {
					t.Errorf("output %q lacks PASS %s", out, name)
				}
			})
		}
	})
}

// startH2serveTLS runs `h2rpc h2serve` over TLS with p's server
// certificate.
func startH2serveTLS(t *testing.T, p *interopPKI, args ...string) string {
	t.Helper()
	return startH2serve(t, append([]string{"--tls-cert", p.certFile, "--tls-key", p.keyFile}, args...)...)
}

// TestH2specTLS runs every h2spec case in TLS mode (-t, and -k since the
// certificate is a throwaway authority's) against `h2rpc h2serve` with
// -tls-cert and -tls-key, and fails on any failed case.
func TestH2specTLS(t *testing.T) {
	p := newInteropPKI(t)
	addr := startH2serveTLS(t, p)
	run := runH2spec(t, addr, "-t", "-k")
	t.Logf("h2spec -t -k against %s: %s (%v)", addr, run.report.summary(), run.elapsed.Round(time.Millisecond))
	for _, f := range run.report.failures() {
		t.Errorf("h2spec -t %s", f)
	}
	if t.Failed() {
		t.Logf("h2spec's own account of the failures:\n%s", run.failureText)
	}
	if run.report.total() == 0 {
		t.Fatalf("h2spec ran no case:\n%s", run.output)
	}
}

// TestCurlTLS: curl --http2 over TLS negotiates h2 by ALPN, verifies the
// server against the authority by the certificate's name, and gets an
// answer, for a GET and an echoed POST.
func TestCurlTLS(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not on PATH: the curl interop test runs only when curl is present")
	}
	p := newInteropPKI(t)
	addr := startH2serveTLS(t, p, "--body", "curl over TLS\n")
	_, port, _ := net.SplitHostPort(addr)
	base := "https://" + tlsServerName + ":" + port
	tlsArgs := []string{"--http2", "--cacert", p.caFile, "--resolve", tlsServerName + ":" + port + ":127.0.0.1", "--write-out", curlReport}
	out := curl(t, append(tlsArgs, base+"/hello")...)
	body, report := splitCurlOutput(t, out)
	if string(body) != "curl over TLS\n" || report != "--curl-report-- http_version=2 status=200" {
		t.Errorf("GET: body %q, report %q; want the body over HTTP/2 with status 200", body, report)
	}
	out = curl(t, append(tlsArgs, "--data-binary", "echo me", base+"/echo")...)
	body, report = splitCurlOutput(t, out)
	if string(body) != "echo me" || report != "--curl-report-- http_version=2 status=200" {
		t.Errorf("POST: body %q, report %q", body, report)
	}
}

// TestAuthzGRPCGoClient: grpc-go clients presenting their own certificates
// to examples/authz's policy on an h2rpc server over mutual TLS: the
// intern may ask for the status but not stream learnings, the researcher
// may do both, and handlers see the identities from the URI SANs.
func TestAuthzGRPCGoClient(t *testing.T) {
	checkNoLeaks(t)
	p := newInteropPKI(t)
	const (
		researcher = "spiffe://example.org/researcher"
		intern     = "spiffe://example.org/intern"
	)
	policy := authz.Policy{
		researcher: {"/messenger.LearningMessenger/*"},
		intern:     {"/messenger.LearningMessenger/GetLearningStatus"},
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(append(policy.ServerOptions(), h2tls.Server(&tls.Config{
		Certificates: []tls.Certificate{p.cert},
		ClientCAs:    p.ca.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}))...)
	messenger.RegisterLearningMessengerServer(srv, &messenger.Server{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() {
		srv.Stop()
		<-served
	}()

	call := func(id string) (unary, stream codes.Code) {
		cert := p.ca.MustIssue(devcert.Leaf{URIs: []string{id}, Client: true})
		creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: p.ca.Pool(), ServerName: tlsServerName})
		cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(creds), grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var reply []byte
		err = cc.Invoke(ctx, "/messenger.LearningMessenger/GetLearningStatus", protoFields(1, "u"), &reply)
		unary = status.Code(err)
		s, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/messenger.LearningMessenger/StreamLearnings")
		if err != nil {
			return unary, status.Code(err)
		}
		if err := s.SendMsg(protoFields(1, "t")); err != nil {
			return unary, status.Code(err)
		}
		s.CloseSend()
		for {
			var m []byte
			if err := s.RecvMsg(&m); err == io.EOF {
				return unary, codes.OK
			} else if err != nil {
				return unary, status.Code(err)
			}
		}
	}
	for _, tc := range []struct {
		id            string
		unary, stream codes.Code
	}{
		{researcher, codes.OK, codes.OK},
		{intern, codes.OK, codes.PermissionDenied},
	} {
		u, s := call(tc.id)
		if u != tc.unary || s != tc.stream {
			t.Errorf("%s: GetLearningStatus %v, StreamLearnings %v; want %v, %v", tc.id, u, s, tc.unary, tc.stream)
		}
	}
}
