package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/h2rpc/h2rpc/internal/devcert"
)

func init() {
	register("certs", "make a throwaway CA, server and client certificate to try TLS and mutual TLS locally", runCerts)
}

// runCerts is `h2rpc certs`: it writes a throwaway certificate authority
// (ca.pem), a server certificate for -hosts (server.pem, server.key) and a
// client certificate named by the SPIFFE ID -client-id (client.pem,
// client.key) into -dir, then prints the commands that use them. The keys
// are written unprotected, readable by the owner only: they are for trying
// things on one machine, not for anything that matters.
func runCerts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: h2rpc certs [flags]")
		fmt.Fprintln(fs.Output(), "Writes a throwaway CA (ca.pem), a server certificate (server.pem, server.key) and a client")
		fmt.Fprintln(fs.Output(), "certificate (client.pem, client.key) into -dir, for trying TLS and mutual TLS locally.")
		fmt.Fprintln(fs.Output(), "Not for production: the keys are unprotected files.")
		fs.PrintDefaults()
	}
	dir := fs.String("dir", "h2rpc-certs", "`directory` to write the files to (made if missing)")
	hosts := fs.String("hosts", "localhost,127.0.0.1,::1", "comma-separated DNS `names` and IP addresses the server certificate is valid for")
	serverID := fs.String("server-id", "spiffe://h2rpc.local/server", "SPIFFE `ID` in the server certificate's URI SAN")
	clientID := fs.String("client-id", "spiffe://h2rpc.local/client", "SPIFFE `ID` in the client certificate's URI SAN: the identity a handler sees")
	valid := fs.Duration("valid", 7*24*time.Hour, "how long the certificates are valid")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if *valid <= 0 {
		return usageError(stderr, "h2rpc certs: -valid must be positive", func(w io.Writer) { fs.SetOutput(w); fs.Usage() })
	}
	var names []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			names = append(names, h)
		}
	}
	ca, err := devcert.NewAuthority("h2rpc throwaway CA", *valid)
	if err != nil {
		return err
	}
	notAfter := time.Now().Add(*valid)
	_, serverPEM, serverKey, err := ca.Issue(devcert.Leaf{CommonName: "h2rpc server", Names: names, URIs: []string{*serverID}, Server: true, NotAfter: notAfter})
	if err != nil {
		return err
	}
	_, clientPEM, clientKey, err := ca.Issue(devcert.Leaf{CommonName: "h2rpc client", URIs: []string{*clientID}, Client: true, NotAfter: notAfter})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{
		{"ca.pem", ca.CertPEM}, {"server.pem", serverPEM}, {"server.key", serverKey},
		{"client.pem", clientPEM}, {"client.key", clientKey},
	} {
		if err := os.WriteFile(filepath.Join(*dir, f.name), f.b, 0o600); err != nil {
			return err
		}
	}
	d := *dir
	fmt.Fprintf(stdout, "wrote %s/{ca.pem,server.pem,server.key,client.pem,client.key}, valid for %v\n", d, *valid)
	fmt.Fprintln(stdout, "mutual TLS:")
	fmt.Fprintf(stdout, "  h2rpc serve -tls-cert %s -tls-key %s -client-ca %s\n", filepath.Join(d, "server.pem"), filepath.Join(d, "server.key"), filepath.Join(d, "ca.pem"))
	fmt.Fprintf(stdout, "  h2rpc demo -addr 127.0.0.1:50051 -ca %s -cert %s -key %s\n", filepath.Join(d, "ca.pem"), filepath.Join(d, "client.pem"), filepath.Join(d, "client.key"))
	return nil
}
