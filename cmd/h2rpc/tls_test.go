package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/h2tls"
)

// makeCerts runs h2rpc certs into a temporary directory.
func makeCerts(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	var stdout, stderr bytes.Buffer
	if status := run(context.Background(), []string{"certs", "-dir", dir, "-valid", "1h"}, &stdout, &stderr); status != 0 {
		t.Fatalf("h2rpc certs: status %d\n%s", status, stderr.String())
	}
	for _, f := range []string{"ca.pem", "server.pem", "server.key", "client.pem", "client.key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	if !strings.Contains(stdout.String(), "h2rpc serve -tls-cert "+filepath.Join(dir, "server.pem")) {
		t.Errorf("certs printed no serve command:\n%s", stdout.String())
	}
	return dir
}

// TestServeMutualTLS: the two commands certs prints work: the demo client
// with the client certificate is served and its identity logged, one
// without a certificate is refused.
func TestServeMutualTLS(t *testing.T) {
	dir := makeCerts(t)
	f := func(name string) string { return filepath.Join(dir, name) }
	addr, logLines, stop, wait := serveInProcess(t, "-delay", "1ms", "-tls-cert", f("server.pem"), "-tls-key", f("server.key"), "-client-ca", f("ca.pem"))
	var stdout, stderr bytes.Buffer
	if status := run(context.Background(), []string{"demo", "-addr", addr, "-delay", "1ms", "-ca", f("ca.pem"), "-cert", f("client.pem"), "-key", f("client.key")}, &stdout, &stderr); status != 0 {
		t.Fatalf("demo over mutual TLS: status %d\n%s", status, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if status := run(context.Background(), []string{"demo", "-addr", addr, "-ca", f("ca.pem")}, &stdout, &stderr); status != 1 || !strings.Contains(stderr.String(), "requires a client certificate") {
		t.Errorf("demo without a client certificate: status %d, stderr %q", status, stderr.String())
	}
	stop()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Join(logLines(), "\n"); !strings.Contains(lines, "from spiffe://h2rpc.local/client") {
		t.Errorf("serve's lines do not name the client's identity:\n%s", lines)
	}
}

func TestTLSFlagUsageErrors(t *testing.T) {
	for _, cmdline := range []string{
		"serve -tls-cert x.pem",
		"serve -client-ca ca.pem",
		"h2serve -tls-key x.key",
		"demo -ca ca.pem",
		"demo -addr 127.0.0.1:1 -ca ca.pem -cert c.pem",
		"certs -valid 0s",
	} {
		var stdout, stderr bytes.Buffer
		if status := run(context.Background(), strings.Fields(cmdline), &stdout, &stderr); status != 2 {
			t.Errorf("h2rpc %s: status %d, want 2\n%s", cmdline, status, stderr.String())
		}
	}
}

// TestH2serveTLS: h2serve speaks TLS with ALPN h2 to a conn client.
func TestH2serveTLS(t *testing.T) {
	dir := makeCerts(t)
	addr, _, _ := h2serveInProcess(t, "-tls-cert", filepath.Join(dir, "server.pem"), "-tls-key", filepath.Join(dir, "server.key"))
	pool, err := loadPool(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := h2tls.ClientHandshake(ctx, nc, h2tls.Configure(&tls.Config{RootCAs: pool, ServerName: "localhost"}))
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	c, err := conn.Client(tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.OpenStream(ctx, request("GET", "/"), nil, conn.EndStream)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := st.ReadHeaders()
	if err != nil || fieldValue(hdr, ":status") != "200" {
		t.Fatalf("response headers %v, %v", hdr, err)
	}
}
