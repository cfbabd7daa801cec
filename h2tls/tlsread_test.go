package h2tls

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/internal/devcert"
)

// tlsPair returns both ends of a TLS connection over loopback TCP, as
// ServerHandshake and ClientHandshake make them. through, if not nil,
// stands between them: it gets the client's and the server's raw
// connections and relays between them. Both ends are closed when the test
// ends.
func tlsPair(t *testing.T, through func(client, server net.Conn)) (client, server *tlsConn) {
	t.Helper()
	ca := devcert.MustAuthority("test CA")
	cert := ca.MustIssue(devcert.Leaf{CommonName: "server", Names: []string{"localhost"}, Server: true})
	scfg := Configure(&tls.Config{Certificates: []tls.Certificate{cert}})
	ccfg := Configure(&tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			nc = nil
		}
		accepted <- nc
	}()
	cn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sn := <-accepted
	if sn == nil {
		t.Fatal("accept failed")
	}
	if through != nil {
		// The client talks to one end of a second pair, through relays
		// the other end's bytes to sn.
		ln2, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln2.Close()
		go func() {
			nc, err := ln2.Accept()
			if err != nil {
				nc = nil
			}
			accepted <- nc
		}()
		cn2, err := net.Dial("tcp", ln2.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		mid := <-accepted
		if mid == nil {
			t.Fatal("accept failed")
		}
		toServer := cn
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); through(mid, toServer) }()
		t.Cleanup(func() { mid.Close(); toServer.Close(); wg.Wait() })
		cn = cn2
	}

	ctx := context.Background()
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ServerHandshake(ctx, sn, scfg)
		done <- result{c, err}
	}()
	cc, cerr := ClientHandshake(ctx, cn, ccfg)
	sr := <-done
	if cerr != nil || sr.err != nil {
		cn.Close()
		sn.Close()
		t.Fatalf("handshake: client %v, server %v", cerr, sr.err)
	}
	client, server = cc.(*tlsConn), sr.c.(*tlsConn)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// pattern returns n bytes of a stream that starts at offset off.
func pattern(off, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		k := off + i
		b[i] = byte(k*7 + k>>9 + k>>17)
	}
	return b
}

// warmUp sends and reads 256 KiB, past crypto/tls's small first records
// (its dynamic record sizing), so that what follows goes in full-sized
// records.
func warmUp(t *testing.T, from, to *tlsConn) {
	t.Helper()
	const n = 256 << 10
	werr := make(chan error, 1)
	go func() { _, err := from.Write(make([]byte, n)); werr <- err }()
	if _, err := io.ReadFull(to, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
}

// state returns the read-ahead state of c: whether its goroutine runs,
// how many records are queued, how often it started.
func (c *tlsConn) state() (running bool, queued, starts int) {
	c.ra.mu.Lock()
	defer c.ra.mu.Unlock()
	return c.ra.running, c.ra.count, c.ra.starts
}

// waitStopped waits until c's read-ahead goroutine has stopped.
func waitStopped(t *testing.T, c *tlsConn) {
	t.Helper()
	for {
		if running, _, _ := c.state(); !running {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReadAheadKeepsTheStream: bursts of full-sized records start reading
// ahead and runs of small writes stop it; whatever the write sizes and
// the read buffers, the bytes arrive in order, none lost or repeated, and
// the queue never holds more than its bound.
func TestReadAheadKeepsTheStream(t *testing.T) {
	client, server := tlsPair(t, nil)
	warmUp(t, server, client)
	rng := rand.New(rand.NewPCG(1, 2))
	var sizes []int
	total := 0
	for range 60 {
		var n int
		switch rng.IntN(3) {
		case 0:
			n = maxPlaintext * (1 + rng.IntN(12)) // whole records
		case 1:
			n = 1 + rng.IntN(300_000) // a burst and a short record
		default:
			n = 1 + rng.IntN(200) // small
		}
		sizes = append(sizes, n)
		total += n
	}
	werr := make(chan error, 1)
	go func() {
		off := 0
		for _, n := range sizes {
			if _, err := server.Write(pattern(off, n)); err != nil {
				werr <- err
				return
			}
			off += n
		}
		werr <- nil
	}()
	off := 0
	buf := make([]byte, 100_000)
	for off < total {
		b := buf[:1+rng.IntN(len(buf))]
		if rng.IntN(4) == 0 {
			b = b[:1+rng.IntN(20)] // reads smaller than a frame header
		}
		n, err := client.Read(b)
		if err != nil {
			t.Fatalf("read at %d of %d: %v", off, total, err)
		}
		if want := pattern(off, n); string(b[:n]) != string(want) {
			t.Fatalf("read at %d: %d bytes, not those sent", off, n)
		}
		off += n
		if _, queued, _ := client.state(); queued > readAheadRecords {
			t.Fatalf("%d records queued, more than %d", queued, readAheadRecords)
		}
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if _, _, starts := client.state(); starts == 0 {
		t.Error("the client never read ahead")
	}
}

// TestReadAheadNotForSmallWrites: a conversation in small messages reads
// directly, never starting the goroutine.
func TestReadAheadNotForSmallWrites(t *testing.T) {
	client, server := tlsPair(t, nil)
	warmUp(t, server, client)
	for range readAheadUntil { // short records stop what the warm-up started
		if _, err := server.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(client, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}
	waitStopped(t, client)
	_, _, before := client.state()
	buf := make([]byte, 64<<10)
	for i := range 200 {
		msg := pattern(i, 1+i*50%4000)
		if _, err := server.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(client, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
		if string(buf[:len(msg)]) != string(msg) {
			t.Fatalf("message %d changed", i)
		}
	}
	if _, _, starts := client.state(); starts != before {
		t.Errorf("read ahead started %d times for small messages", starts-before)
	}
}

// TestReadAheadDeadlines: a read deadline in the past interrupts a Read
// that waits on the read-ahead goroutine; a deadline moved away before the
// next Read leaves no stale timeout behind; no byte is lost either way.
func TestReadAheadDeadlines(t *testing.T) {
	client, server := tlsPair(t, nil)
	warmUp(t, server, client)
	full := func(off int) {
		t.Helper()
		// Whole records: the goroutine keeps reading after them.
		if _, err := server.Write(pattern(off, 4*maxPlaintext)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 4*maxPlaintext)
		if _, err := io.ReadFull(client, got); err != nil {
			t.Fatal(err)
		}
		if string(got) != string(pattern(off, len(got))) {
			t.Fatal("bytes changed")
		}
	}
	off := 0
	for round := range 10 {
		full(off)
		off += 4 * maxPlaintext

		// A Read that waits is interrupted.
		rerr := make(chan error, 1)
		go func() {
			_, err := client.Read(make([]byte, 100))
			rerr <- err
		}()
		time.Sleep(time.Duration(round%3) * time.Millisecond)
		client.SetReadDeadline(time.Unix(1, 0))
		if err := <-rerr; !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("round %d: the interrupted Read returned %v", round, err)
		}
		client.SetReadDeadline(time.Time{})

		full(off)
		off += 4 * maxPlaintext

		// A deadline that passes while nobody reads, moved away before
		// the next Read, is no error of that Read's.
		client.SetReadDeadline(time.Unix(1, 0))
		waitStopped(t, client)
		client.SetReadDeadline(time.Time{})
		msg := pattern(off, 1000)
		if _, err := server.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(client, got); err != nil {
			t.Fatalf("round %d: a Read after the deadline was cleared: %v", round, err)
		}
		if string(got) != string(msg) {
			t.Fatal("bytes changed")
		}
		off += len(msg)
	}
}

// TestReadAheadErrorsInOrder: what was read ahead before the peer's
// close_notify, or before a record that fails to open, is all delivered,
// then the error.
func TestReadAheadErrorsInOrder(t *testing.T) {
	t.Run("close_notify", func(t *testing.T) {
		client, server := tlsPair(t, nil)
		warmUp(t, server, client)
		const n = 40*maxPlaintext + 123
		go func() {
			server.Write(pattern(0, n))
			server.Close()
		}()
		got, err := io.ReadAll(client)
		if err != nil {
			t.Fatalf("ReadAll: %v", err)
		}
		if len(got) != n || string(got) != string(pattern(0, n)) {
			t.Fatalf("%d bytes before EOF, not the %d sent", len(got), n)
		}
		if _, err := client.Read(make([]byte, 10)); err != io.EOF {
			t.Fatalf("a Read after EOF: %v", err)
		}
	})
	t.Run("bad record", func(t *testing.T) {
		// The relay passes the handshake and the warm-up, then flips a
		// byte in the middle of the next burst.
		const warm = 256 << 10
		const corruptAt = warm + 20*maxPlaintext + maxPlaintext/2
		var relayed int
		client, server := tlsPair(t, func(client, server net.Conn) {
			go io.Copy(server, client)
			buf := make([]byte, 32<<10)
			for {
				n, err := server.Read(buf)
				if relayed <= corruptAt+4096 && corruptAt+4096 < relayed+n {
					buf[corruptAt+4096-relayed] ^= 0x40
				}
				relayed += n
				if n > 0 {
					if _, err := client.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					client.Close()
					return
				}
			}
		})
		warmUp(t, server, client)
		const n = 40 * maxPlaintext
		go server.Write(pattern(0, n))
		got, err := io.ReadAll(client)
		if err == nil || !strings.Contains(err.Error(), "bad record MAC") {
			t.Fatalf("ReadAll after %d bytes: %v, want a bad record MAC", len(got), err)
		}
		if len(got) < 19*maxPlaintext || len(got) > 21*maxPlaintext || string(got) != string(pattern(0, len(got))) {
			t.Fatalf("%d bytes before the error, not those sent before the bad record", len(got))
		}
		if _, err2 := client.Read(make([]byte, 10)); err2 == nil {
			t.Fatal("a Read after a bad record succeeded")
		}
	})
}

// TestReadAheadClose: Close ends the read-ahead goroutine, whether it
// waits for a record or for room in a full queue, and drops the queue.
func TestReadAheadClose(t *testing.T) {
	for _, fill := range []bool{false, true} {
		client, server := tlsPair(t, nil)
		warmUp(t, server, client)
		if _, err := server.Write(pattern(0, 4*maxPlaintext)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(client, make([]byte, 4*maxPlaintext)); err != nil {
			t.Fatal(err)
		}
		if running, _, _ := client.state(); !running {
			t.Fatal("the client does not read ahead after whole records")
		}
		if fill {
			go server.Write(pattern(0, 2*readAheadRecords*maxPlaintext))
			for {
				if _, queued, _ := client.state(); queued == readAheadRecords {
					break
				}
				runtime.Gosched()
			}
		}
		client.Close()
		waitStopped(t, client)
		if _, queued, _ := client.state(); queued != 0 {
			t.Errorf("fill %v: %d records queued after Close", fill, queued)
		}
		if _, err := client.Read(make([]byte, 10)); err == nil {
			t.Errorf("fill %v: a Read after Close succeeded", fill)
		}
		server.Close()
	}
}
