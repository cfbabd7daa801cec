package interop

// HAProxy (Debian's package) as a gRPC reverse proxy, HTTP/2 over cleartext
// on both sides (bind ... proto h2, server ... proto h2), with the same
// cases as nginx (nginx_test.go): our client and grpc-go's through it to
// our server, ours through it to grpc-go's. HAProxy runs in the foreground
// (-db) as a child of the test with a generated configuration.

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// startHAProxy runs HAProxy as an HTTP/2 proxy to upstream and returns the
// address it listens on.
func startHAProxy(t *testing.T, upstream string) string {
	t.Helper()
	haproxy := lookPeer(t, "haproxy")
	dir := t.TempDir()
	return startOnFreePort(t, func(addr string) *peerProcess {
		conf := fmt.Sprintf(`global
	maxconn 4096
	log stderr format raw local0 notice
defaults
	mode http
	log global
	timeout connect 5s
	timeout client 90s
	timeout server 90s
frontend grpc
	bind %s proto h2
	default_backend upstream
backend upstream
	server h2rpc %s proto h2
`, addr, upstream)
		file := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		p, _ := startPeer(t, dir, haproxy, []string{"-db", "-f", file}, nil)
		return p
	})
}

func TestHAProxyGRPCProxy(t *testing.T) {
	lookPeer(t, "haproxy")
	testGRPCProxy(t, "haproxy", startHAProxy)
}
