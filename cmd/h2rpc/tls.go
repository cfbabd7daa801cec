package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/h2rpc/h2rpc/h2tls"
)

// tlsFlags are the server TLS flags of serve and h2serve.
type tlsFlags struct {
	cert, key, clientCA string
}

// reloadEvery is how often a server looks at its certificate files.
const reloadEvery = 2 * time.Second

func addTLSFlags(fs *flag.FlagSet) *tlsFlags {
	f := &tlsFlags{}
	fs.StringVar(&f.cert, "tls-cert", "", "PEM `file` of the server certificate (chain): serve TLS instead of h2c; reloaded when it changes")
	fs.StringVar(&f.key, "tls-key", "", "PEM `file` of the private key of -tls-cert")
	fs.StringVar(&f.clientCA, "client-ca", "", "PEM `file` of the CAs a client certificate must chain to: require one (mutual TLS)")
	return f
}

// check reports a combination of flags that cannot work.
func (f *tlsFlags) check() error {
	switch {
	case (f.cert == "") != (f.key == ""):
		return errors.New("-tls-cert and -tls-key go together")
	case f.clientCA != "" && f.cert == "":
		return errors.New("-client-ca needs -tls-cert and -tls-key")
	}
	return nil
}

// serverConfig returns the server's TLS configuration, nil for h2c, and
// the reloader to Close when the server is done (nil for h2c).
func (f *tlsFlags) serverConfig() (*tls.Config, *h2tls.KeyPairReloader, error) {
	if f.cert == "" {
		return nil, nil, nil
	}
	r, err := h2tls.NewKeyPairReloader(f.cert, f.key, reloadEvery)
	if err != nil {
		return nil, nil, fmt.Errorf("loading -tls-cert and -tls-key: %w", err)
	}
	cfg := &tls.Config{GetCertificate: r.GetCertificate}
	if f.clientCA != "" {
		pool, err := loadPool(f.clientCA)
		if err != nil {
			r.Close()
			return nil, nil, fmt.Errorf("-client-ca: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, r, nil
}

// describe says how the server speaks, for its first lines.
func (f *tlsFlags) describe() string {
	switch {
	case f.clientCA != "":
		return "mutual TLS"
	case f.cert != "":
		return "TLS"
	}
	return "plaintext HTTP/2 (h2c)"
}

// loadPool reads the PEM certificates of file into a pool.
func loadPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}
