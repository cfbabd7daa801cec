package h2tls

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/internal/devcert"
	"github.com/h2rpc/h2rpc/rpc"
)

// writePair writes a key pair over certFile and keyFile, each by a rename,
// one after the other: a watcher may see the new certificate with the old
// key in between.
func writePair(t *testing.T, certFile, keyFile string, certPEM, keyPEM []byte) {
	t.Helper()
	for name, b := range map[string][]byte{certFile: certPEM, keyFile: keyPEM} {
		tmp := name + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, name); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCertificateRotation: a server swaps its certificate, through a
// KeyPairReloader watching its files, while calls run; new connections get
// the new certificate and no call fails.
func TestCertificateRotation(t *testing.T) {
	ca := devcert.MustAuthority("test CA")
	issue := func(name string) (certPEM, keyPEM []byte) {
		_, c, k, err := ca.Issue(devcert.Leaf{CommonName: name, Names: []string{"127.0.0.1"}, URIs: []string{spiffe(name)}})
		if err != nil {
			t.Fatal(err)
		}
		return c, k
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	c1, k1 := issue("server-v1")
	writePair(t, certFile, keyFile, c1, k1)
	r, err := NewKeyPairReloader(certFile, keyFile, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	e := newEnv(t, &echoServer{unary: echoBack},
		[]rpc.ServerOption{Server(&tls.Config{GetCertificate: r.GetCertificate})},
		Client(&tls.Config{RootCAs: ca.Pool()}))
	var first rpc.Peer
	if _, err := callEcho(e.cc, context.Background(), "x", rpc.CallPeer(&first)); err != nil {
		t.Fatal(err)
	}
	if first.Identity != spiffe("server-v1") {
		t.Fatalf("first connection's server is %q", first.Identity)
	}

	// Calls on the connection made before the swap run throughout.
	ctx, stop := context.WithCancel(context.Background())
	var calls, failures atomic.Int32
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := callEcho(e.cc, context.Background(), "during"); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				calls.Add(1)
			}
		}()
	}

	c2, k2 := issue("server-v2")
	writePair(t, certFile, keyFile, c2, k2)
	// New connections get the new certificate once the watcher saw it.
	deadline := time.Now().Add(20 * time.Second)
	var dials int
	for {
		cc, err := rpc.Dial(e.lis.Addr().String(), Client(&tls.Config{RootCAs: ca.Pool()}))
		if err != nil {
			t.Fatal(err)
		}
		var p rpc.Peer
		_, err = callEcho(cc, context.Background(), "new", rpc.CallPeer(&p))
		cc.Close()
		dials++
		if err != nil {
			t.Fatalf("a new connection's call failed: %v", err)
		}
		if p.Identity == spiffe("server-v2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d new connections in 20s, the server still presents %q", dials, p.Identity)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d calls failed during the rotation; first: %v", n, calls.Load(), firstErr.Load())
	}
	if calls.Load() == 0 {
		t.Error("no call ran during the rotation")
	}
	if r.Err() != nil {
		t.Errorf("reloader's last error: %v", r.Err())
	}
	// The connection made before keeps its certificate.
	var still rpc.Peer
	if _, err := callEcho(e.cc, context.Background(), "after", rpc.CallPeer(&still)); err != nil || still.Identity != spiffe("server-v1") {
		t.Errorf("old connection after the swap: %q, %v", still.Identity, err)
	}
	t.Logf("%d calls during the rotation, %d new connections until the new certificate", calls.Load(), dials)
}

// TestKeyPairReloaderKeepsTheOldPairOnBadFiles: a pair that does not load
// leaves the one in use, and says why.
func TestKeyPairReloaderKeepsTheOldPairOnBadFiles(t *testing.T) {
	ca := devcert.MustAuthority("test CA")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	_, c1, k1, err := ca.Issue(devcert.Leaf{CommonName: "one"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, k2, err := ca.Issue(devcert.Leaf{CommonName: "two"})
	if err != nil {
		t.Fatal(err)
	}
	writePair(t, certFile, keyFile, c1, k1)
	r, err := NewKeyPairReloader(certFile, keyFile, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	before := r.Certificate()
	writePair(t, certFile, keyFile, c1, k2) // a key that does not match
	if err := r.Reload(); err == nil {
		t.Fatal("Reload of a mismatched pair succeeded")
	}
	if r.Certificate() != before || r.Err() == nil {
		t.Error("a failed reload replaced the pair, or forgot its error")
	}
	if _, err := NewKeyPairReloader(filepath.Join(dir, "missing"), keyFile, 0); err == nil {
		t.Error("NewKeyPairReloader of a missing file succeeded")
	}
	if r.Close() != nil || r.Close() == nil {
		t.Error("Close: want nil, then an error")
	}
}
