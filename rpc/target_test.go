package rpc

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in   string
		want target
	}{
		{"localhost:50051", target{network: "tcp", address: "localhost:50051", authority: "localhost:50051"}},
		{"example.com", target{network: "tcp", address: "example.com:443", authority: "example.com"}},
		{":8080", target{network: "tcp", address: "localhost:8080", authority: "localhost:8080"}},
		{"127.0.0.1:80", target{network: "tcp", address: "127.0.0.1:80", authority: "127.0.0.1:80"}},
		{"[::1]:50051", target{network: "tcp", address: "[::1]:50051", authority: "[::1]:50051"}},
		{"[::1]", target{network: "tcp", address: "[::1]:443", authority: "[::1]"}},
		{"::1", target{network: "tcp", address: "[::1]:443", authority: "[::1]"}},
		{"dns:///example.com:8080", target{network: "tcp", address: "example.com:8080", authority: "example.com:8080"}},
		{"dns:///example.com", target{network: "tcp", address: "example.com:443", authority: "example.com"}},
		{"dns:example.com:8080", target{network: "tcp", address: "example.com:8080", authority: "example.com:8080"}},
		{"dns:///[::1]:443", target{network: "tcp", address: "[::1]:443", authority: "[::1]:443"}},
		{"dns://8.8.8.8/example.com:8080", target{network: "tcp", address: "example.com:8080", authority: "example.com:8080", dnsServer: "8.8.8.8:53"}},
		{"dns://[::1]:5353/example.com", target{network: "tcp", address: "example.com:443", authority: "example.com", dnsServer: "[::1]:5353"}},
		{"unix:sock/x.sock", target{network: "unix", address: "sock/x.sock", authority: "localhost"}},
		{"unix:/tmp/x.sock", target{network: "unix", address: "/tmp/x.sock", authority: "localhost"}},
		{"unix:///tmp/x.sock", target{network: "unix", address: "/tmp/x.sock", authority: "localhost"}},
		{"passthrough:///10.0.0.1:90", target{network: "tcp", address: "10.0.0.1:90", authority: "10.0.0.1:90"}},
		{"passthrough:///bufnet", target{network: "tcp", address: "bufnet", authority: "bufnet"}},
		{"passthrough:10.0.0.1:90", target{network: "tcp", address: "10.0.0.1:90", authority: "10.0.0.1:90"}},
	}
	if runtime.GOOS == "linux" {
		tests = append(tests, struct {
			in   string
			want target
		}{"unix-abstract:h2rpc-test", target{network: "unix", address: "@h2rpc-test", authority: "localhost"}})
	}
	for _, tt := range tests {
		got, err := parseTarget(tt.in)
		if err != nil {
			t.Errorf("parseTarget(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("parseTarget(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		// A WithDialer dialer gets TCP addresses as is and Unix sockets
		// in their target form, which names the network.
		custom := customAddr(Address{Addr: got.address, Network: got.network})
		if wantCustom := got.address; got.network == "unix" && !strings.HasPrefix(custom, "unix") || got.network == "tcp" && custom != wantCustom {
			t.Errorf("parseTarget(%q): custom dialer address %q", tt.in, custom)
		}
	}
}

func TestDialRejectsBadTargets(t *testing.T) {
	for _, in := range []string{
		"",
		"localhost:",                  // a colon and no port
		"http://localhost:80",         // unknown scheme
		"xds:///service",              // unknown scheme
		"dns://localhost:50051",       // no endpoint after the authority
		"dns:///",                     // no host
		"unix://host/tmp/x.sock",      // unix takes no authority
		"unix:",                       // no path
		"unix-abstract:",              // no name
		"passthrough:///",             // no address
		"passthrough:///localhost",    // TCP needs a port without a dialer of the application's
		"dns://8.8.8.8:/example.com",  // a DNS server with an empty port
		"a b:80",                      // not a host name
		"[::1:80",                     // unbalanced bracket
		"dns:///example.com:80:90",    // too many colons
		"passthrough://x/10.0.0.1:80", // passthrough takes no authority
	} {
		cc, err := Dial(in, WithInsecure())
		if err == nil {
			cc.Close()
			t.Errorf("Dial(%q, WithInsecure()) succeeded", in)
			continue
		}
		st := wantCode(t, err, InvalidArgument)
		if !strings.Contains(st.Message, "invalid target") {
			t.Errorf("Dial(%q, WithInsecure()): %q does not say the target is invalid", in, st.Message)
		}
	}
	// A dialer of the application's may take addresses TCP would not.
	cc, err := Dial("passthrough:///bufnet", WithInsecure(), WithDialer(func(context.Context, string) (net.Conn, error) { return nil, net.ErrClosed }))
	if err != nil {
		t.Fatalf("passthrough with a custom dialer: %v", err)
	}
	cc.Close()
}

// shortTempDir returns a temporary directory with a short path: a Unix
// socket path must fit in about 100 bytes, which t.TempDir's may not.
func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "h2rpc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Calls reach a server listening on a Unix socket through each form of unix
// target; Serve takes any net.Listener.
func TestDialUnixSocket(t *testing.T) {
	dir := shortTempDir(t)
	path := filepath.Join(dir, "s.sock")
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv, served := startServer(t, lis, &echoServer{unary: echoBack})
	defer func() {
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"unix:" + path, "unix://" + path, "unix:" + rel} {
		cc, err := Dial(target, WithInsecure())
		if err != nil {
			t.Fatalf("Dial(%q, WithInsecure()): %v", target, err)
		}
		var reply []byte
		err = cc.Invoke(context.Background(), "/test.Echo/Unary", []byte(target), &reply)
		cc.Close()
		if err != nil || string(reply) != target {
			t.Errorf("%s: %q, %v", target, reply, err)
		}
	}
}

func TestDialUnixAbstractSocket(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("abstract sockets are Linux-only")
	}
	name := "h2rpc-test-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + filepath.Base(shortTempDir(t))
	lis, err := net.Listen("unix", "@"+name)
	if err != nil {
		t.Fatal(err)
	}
	srv, served := startServer(t, lis, &echoServer{unary: echoBack})
	defer func() {
		srv.Stop()
		<-served
	}()
	cc, err := Dial("unix-abstract:"+name, WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var reply []byte
	if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("abstract"), &reply); err != nil || string(reply) != "abstract" {
		t.Fatalf("%q, %v", reply, err)
	}
}

// The :authority of a call follows the target: "localhost" for a Unix
// socket, host:port as written for TCP, WithAuthority over both.
func TestTargetAuthority(t *testing.T) {
	dir := shortTempDir(t)
	path := filepath.Join(dir, "a.sock")
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	authorities := make(chan string, 1)
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		nc, err := lis.Accept()
		if err != nil {
			return
		}
		c, err := conn.Server(nc, nil, func(st *conn.Stream) {
			for _, f := range st.RequestHeaders() {
				if f.Name == ":authority" {
					authorities <- f.Value
				}
			}
			st.Reset(frame.ErrCodeInternal)
		})
		if err != nil {
			return
		}
		<-c.Done()
	}()
	cc, err := Dial("unix://"+path, WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	var reply []byte
	_ = cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply) // fails: the handler resets it
	cc.Close()
	<-accepted
	if got := <-authorities; got != "localhost" {
		t.Errorf(":authority %q over a Unix socket, want localhost", got)
	}
}

// fakeDNS answers every A query on a loopback UDP port with 127.0.0.1 and
// every other query with no records, counting the A queries.
func fakeDNS(t *testing.T) (addr string, aQueries *atomic.Int32) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	aQueries = new(atomic.Int32)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			// Header (12 bytes), then the question: labels up to a zero
			// byte, QTYPE, QCLASS.
			end := 12
			for end < n && q[end] != 0 {
				end += 1 + int(q[end])
			}
			end += 5
			if end > n {
				continue
			}
			qtype := binary.BigEndian.Uint16(q[end-4:])
			resp := append([]byte(nil), q[:end]...)
			binary.BigEndian.PutUint16(resp[2:], 0x8180) // a response, recursion available, NOERROR
			binary.BigEndian.PutUint16(resp[4:], 1)      // one question
			binary.BigEndian.PutUint16(resp[8:], 0)      // no authority records
			binary.BigEndian.PutUint16(resp[10:], 0)     // no additional records
			if qtype == 1 {
				aQueries.Add(1)
				binary.BigEndian.PutUint16(resp[6:], 1)
				// The name (a pointer to the question's), A, IN, TTL 60,
				// four bytes: 127.0.0.1.
				resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1)
			} else {
				binary.BigEndian.PutUint16(resp[6:], 0)
			}
			pc.WriteTo(resp, from)
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return pc.LocalAddr().String(), aQueries
}

// A dns://server/ target resolves its host with the DNS server it names.
func TestDialDNSServer(t *testing.T) {
	dnsAddr, aQueries := fakeDNS(t)
	e := newEnv(t, &echoServer{unary: echoBack}, nil)
	_, port, _ := net.SplitHostPort(e.lis.Addr().String())
	cc, err := Dial("dns://"+dnsAddr+"/h2rpc-fake-dns.test:"+port, WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var reply []byte
	if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("resolved"), &reply); err != nil || string(reply) != "resolved" {
		t.Fatalf("%q, %v", reply, err)
	}
	if aQueries.Load() == 0 {
		t.Fatal("the DNS server named in the target was not asked")
	}
}
