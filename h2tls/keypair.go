package h2tls

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// KeyPairReloader holds a certificate and key loaded from two PEM files
// and loads them again when they change, so that a server (GetCertificate)
// or a client (GetClientCertificate) rotates its certificate without a
// restart: connections made after a reload get the new pair, connections
// already made keep theirs. A reload replaces the pair atomically, and
// only with a pair that loads and matches: while the files are half
// written, the old pair stays in use.
type KeyPairReloader struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]

	mu      sync.Mutex
	loaded  [2][]byte // guarded by mu: the files' contents as last loaded
	lastErr error     // guarded by mu: the last reload's failure, nil after a success

	stop chan struct{} // closed by Close
	done chan struct{} // closed when the watcher ends; nil without one
	once sync.Once
}

// NewKeyPairReloader loads the pair from certFile and keyFile, and fails if
// it cannot. With every > 0 it also starts a goroutine that reads the
// files every so often and reloads them when their contents changed; Close
// ends it. With every 0, only Reload reloads.
func NewKeyPairReloader(certFile, keyFile string, every time.Duration) (*KeyPairReloader, error) {
	r := &KeyPairReloader{certFile: certFile, keyFile: keyFile, stop: make(chan struct{})}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	if every > 0 {
		r.done = make(chan struct{})
		go r.watch(every)
	}
	return r, nil
}

// Reload loads the files now. On failure the pair in use stays, and the
// error is returned (and kept for Err).
func (r *KeyPairReloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	files, err := r.read()
	if err == nil {
		var cert tls.Certificate
		cert, err = tls.X509KeyPair(files[0], files[1])
		if err == nil {
			r.cur.Store(&cert)
			r.loaded = files
		}
	}
	r.lastErr = err
	return err
}

// Err returns why the last reload failed, or nil if it succeeded.
func (r *KeyPairReloader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// maxKeyPairFile bounds what is read of a certificate or key file: a
// chain of a few certificates is a few KiB.
const maxKeyPairFile = 1 << 20

// read reads both files.
func (r *KeyPairReloader) read() ([2][]byte, error) {
	var files [2][]byte
	for i, name := range []string{r.certFile, r.keyFile} {
		f, err := os.Open(name)
		if err != nil {
			return files, err
		}
		b, err := io.ReadAll(io.LimitReader(f, maxKeyPairFile+1))
		f.Close()
		if err == nil && len(b) > maxKeyPairFile {
			err = fmt.Errorf("%s: larger than %d bytes", name, maxKeyPairFile)
		}
		if err != nil {
			return files, err
		}
		files[i] = b
	}
	return files, nil
}

// changed reports whether the files differ from the pair last loaded.
// Contents, not modification times, are compared: a file rewritten within
// the clock's granularity is noticed too.
func (r *KeyPairReloader) changed() bool {
	files, err := r.read()
	if err != nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return !bytes.Equal(files[0], r.loaded[0]) || !bytes.Equal(files[1], r.loaded[1])
}

func (r *KeyPairReloader) watch(every time.Duration) {
	defer close(r.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			if r.changed() {
				// A failure (a pair half written) is retried next tick:
				// the stamps are not taken until a load succeeds.
				r.Reload()
			}
		}
	}
}

// Certificate returns the pair in use.
func (r *KeyPairReloader) Certificate() *tls.Certificate { return r.cur.Load() }

// GetCertificate is for tls.Config.GetCertificate, on a server.
func (r *KeyPairReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// GetClientCertificate is for tls.Config.GetClientCertificate, on a
// client of mutual TLS.
func (r *KeyPairReloader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// errReloaderClosed is returned by a second Close.
var errReloaderClosed = errors.New("rpc: KeyPairReloader already closed")

// Close stops the watcher, if any, and waits for it to end. The pair in use
// stays usable.
func (r *KeyPairReloader) Close() error {
	err := errReloaderClosed
	r.once.Do(func() {
		close(r.stop)
		if r.done != nil {
			<-r.done
		}
		err = nil
	})
	return err
}
