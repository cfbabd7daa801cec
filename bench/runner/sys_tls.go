package runner

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/h2rpc/h2rpc/h2tls"
	"github.com/h2rpc/h2rpc/internal/devcert"
)

// The TLS systems are h2rpc and grpc-go over TLS 1.3 with the same
// throwaway authority and server certificate (ECDSA P-256), each compared
// with the other (baselineOf): the TLS row of the report.
func init() {
	Register(h2rpcTLSSystem{})
	Register(grpcTLSSystem{})
}

// tlsServerName is the name the bench server certificate is for.
const tlsServerName = "bench.h2rpc.test"

// tlsEnv carries the PEM of the authority and the server's pair to a child
// process (the conns scenario), so that both processes trust the same one.
const tlsEnv = "H2BENCH_TLS_PEM"

type tlsPEM struct{ CA, Cert, Key []byte }

var (
	tlsOnce    sync.Once
	tlsServer  tls.Certificate
	tlsRoots   *x509.CertPool
	tlsInitErr error
)

// benchTLS returns the server certificate and the roots that trust it,
// made once per process, or taken from the parent's environment.
func benchTLS() (tls.Certificate, *x509.CertPool, error) {
	tlsOnce.Do(func() {
		var p tlsPEM
		if enc, ok := os.LookupEnv(tlsEnv); ok {
			b, err := base64.StdEncoding.DecodeString(enc)
			if err == nil {
				err = json.Unmarshal(b, &p)
			}
			if err != nil {
				tlsInitErr = fmt.Errorf("%s: %w", tlsEnv, err)
				return
			}
		} else {
			ca, err := devcert.NewAuthority("h2rpc bench CA", 48*time.Hour)
			if err != nil {
				tlsInitErr = err
				return
			}
			_, cert, key, err := ca.Issue(devcert.Leaf{CommonName: tlsServerName, Names: []string{tlsServerName}, Server: true})
			if err != nil {
				tlsInitErr = err
				return
			}
			p = tlsPEM{CA: ca.CertPEM, Cert: cert, Key: key}
			b, _ := json.Marshal(p)
			os.Setenv(tlsEnv, base64.StdEncoding.EncodeToString(b)) // for the children
		}
		tlsServer, tlsInitErr = tls.X509KeyPair(p.Cert, p.Key)
		tlsRoots = x509.NewCertPool()
		tlsRoots.AppendCertsFromPEM(p.CA)
	})
	return tlsServer, tlsRoots, tlsInitErr
}

func tlsServerConfig() (*tls.Config, error) {
	cert, _, err := benchTLS()
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
}

func tlsClientConfig() (*tls.Config, error) {
	_, roots, err := benchTLS()
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: roots, ServerName: tlsServerName}, nil
}

// h2rpcTLSSystem is h2rpcSystem over TLS.
type h2rpcTLSSystem struct{}

func (h2rpcTLSSystem) Name() string        { return "h2rpc-tls" }
func (h2rpcTLSSystem) Supports(Shape) bool { return true }

func (h2rpcTLSSystem) Start() (Server, error) {
	cfg, err := tlsServerConfig()
	if err != nil {
		return nil, err
	}
	return startH2RPC(h2tls.Server(cfg))
}

func (h2rpcTLSSystem) Dial(addr string, _ DialOptions) (Client, error) {
	cfg, err := tlsClientConfig()
	if err != nil {
		return nil, err
	}
	return dialH2RPC(addr, h2tls.Client(cfg))
}

// grpcTLSSystem is grpcSystem over TLS.
type grpcTLSSystem struct{}

func (grpcTLSSystem) Name() string        { return "grpc-tls" }
func (grpcTLSSystem) Supports(Shape) bool { return true }

func (grpcTLSSystem) Start() (Server, error) {
	cfg, err := tlsServerConfig()
	if err != nil {
		return nil, err
	}
	return startGRPC(grpc.Creds(credentials.NewTLS(cfg)))
}

func (grpcTLSSystem) Dial(addr string, _ DialOptions) (Client, error) {
	cfg, err := tlsClientConfig()
	if err != nil {
		return nil, err
	}
	return dialGRPC(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
}
