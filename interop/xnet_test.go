// x/net/http2's Transport and Server are deprecated in favour of net/http's
// own HTTP/2, but they are still the reference implementation we test against.
//
//lint:file-ignore SA1019 x/net/http2's Transport and Server are the interop peers by design
package interop

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

// The interop tests against Go's own HTTP/2 (golang.org/x/net/http2) run
// both directions over loopback TCP: x/net's Transport against conn.Server,
// and conn.Client against x/net's Server. Each echoes request bodies,
// checks status, headers, body bytes and trailers, moves a body far larger
// than every flow-control window both ways, and resets streams from each
// side.

const (
	concurrentClients   = 32
	requestsPerClient   = 8
	largeBodySize       = 8 << 20 // 32× x/net's and conn's default stream windows
	resetCodeFromServer = frame.ErrCodeEnhanceYourCalm
)

// ---------------------------------------------------------------------------
// x/net/http2 Transport → conn.Server

// connEchoServer serves conn.Server on a loopback listener with
// echoHandler. It returns the address; cleanup closes the listener and
// every connection and waits for them.
func connEchoServer(t *testing.T, h conn.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []*conn.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c, err := conn.Server(nc, nil, h)
			if err != nil {
				t.Errorf("conn.Server: %v", err)
				nc.Close()
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
			<-c.Done()
		}
	})
	return ln.Addr().String()
}

// h2cTransport is x/net's HTTP/2 client speaking cleartext with prior
// knowledge: AllowHTTP permits http:// URLs and DialTLSContext dials plain TCP.
func h2cTransport(t *testing.T) *http2.Transport {
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// serverEvents reports what connHandler's streams saw, for the reset tests.
type serverEvents struct {
	cancelled chan error // /wait: what a Write returned after the client reset the stream
}

// connHandler is the conn.Handler the x/net client talks to:
//
//	/echo   :status 200, the request body back as it arrives, trailers
//	        x-echo-bytes and x-echo-sha256; x-echo-test echoes x-test
//	/reset  :status 200, "partial", then RST_STREAM ENHANCE_YOUR_CALM
//	/wait   :status 200, then waits for the client to reset the stream
//	other   :status 404 with a short body
func connHandler(ev *serverEvents) conn.Handler {
	return func(st *conn.Stream) {
		req := st.RequestHeaders()
		switch fieldValue(req, ":path") {
		case "/echo":
			if err := st.WriteAll([]hpack.Field{
				{Name: ":status", Value: "200"},
				{Name: "content-type", Value: "application/octet-stream"},
				{Name: "x-echo-test", Value: fieldValue(req, "x-test")},
			}, nil, nil); err != nil {
				return
			}
			h := sha256.New()
			buf := make([]byte, 16<<10)
			var n int64
			for {
				k, err := st.Read(buf)
				if k > 0 {
					h.Write(buf[:k])
					n += int64(k)
					if err := st.WriteData(nil, buf[:k], false); err != nil {
						return
					}
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					return
				}
			}
			_ = st.WriteAll(nil, nil, []hpack.Field{
				{Name: "x-echo-bytes", Value: strconv.FormatInt(n, 10)},
				{Name: "x-echo-sha256", Value: hex.EncodeToString(h.Sum(nil))},
			})

		case "/reset":
			if st.WriteAll([]hpack.Field{{Name: ":status", Value: "200"}}, nil, nil) != nil {
				return
			}
			if err := st.WriteData(nil, []byte("partial"), false); err != nil {
				return
			}
			st.Reset(resetCodeFromServer)
		case "/wait":
			if st.WriteAll([]hpack.Field{{Name: ":status", Value: "200"}}, nil, nil) != nil {
				return
			}
			// The stream's context ends when the client resets it; a
			// write after that reports the reset.
			<-st.Context().Done()
			err := st.WriteData(nil, []byte("too late"), false)
			ev.cancelled <- err
		default:
			if st.WriteAll([]hpack.Field{{Name: ":status", Value: "404"}}, nil, nil) != nil {
				return
			}
			_ = st.WriteData(nil, []byte("no such path\n"), true)
		}
	}
}

// postEcho sends body to /echo through tr and checks everything that comes back.
func postEcho(ctx context.Context, tr *http2.Transport, addr string, body []byte, sum, tag string) error {
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/echo", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Test", tag)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("round trip: %w", err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	switch {
	case resp.StatusCode != 200:
		return fmt.Errorf("status %d, want 200", resp.StatusCode)
	case resp.ProtoMajor != 2:
		return fmt.Errorf("protocol %s, want HTTP/2", resp.Proto)
	case resp.Header.Get("Content-Type") != "application/octet-stream":
		return fmt.Errorf("content-type %q", resp.Header.Get("Content-Type"))
	case resp.Header.Get("X-Echo-Test") != tag:
		return fmt.Errorf("x-echo-test %q, want %q", resp.Header.Get("X-Echo-Test"), tag)
	case !bytes.Equal(got, body):
		return fmt.Errorf("echoed %d bytes (sha256 %s), sent %d (sha256 %s)", len(got), sha256Hex(got), len(body), sum)
	case resp.Trailer.Get("X-Echo-Bytes") != strconv.Itoa(len(body)):
		return fmt.Errorf("trailer x-echo-bytes %q, want %d (trailers %v)", resp.Trailer.Get("X-Echo-Bytes"), len(body), resp.Trailer)
	case resp.Trailer.Get("X-Echo-Sha256") != sum:
		return fmt.Errorf("trailer x-echo-sha256 %q, want %s", resp.Trailer.Get("X-Echo-Sha256"), sum)
	}
	return nil
}

func TestXNetClientConcurrentEcho(t *testing.T) {
	checkNoLeaks(t)
	addr := connEchoServer(t, connHandler(nil))
	tr := h2cTransport(t)
	ctx := context.Background()

	var wg sync.WaitGroup
	errs := make(chan error, concurrentClients*requestsPerClient)
	for g := range concurrentClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range requestsPerClient {
				n := 1 + (g*requestsPerClient+i)*997%(64<<10) // 1 B .. 64 KiB, all different
				body := make([]byte, n)
				if _, err := rand.Read(body); err != nil {
					errs <- err
					return
				}
				if err := postEcho(ctx, tr, addr, body, sha256Hex(body), fmt.Sprintf("g%d-r%d", g, i)); err != nil {
					errs <- fmt.Errorf("client %d request %d (%d bytes): %w", g, i, n, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestXNetClientGetAndNotFound(t *testing.T) {
	checkNoLeaks(t)
	addr := connEchoServer(t, connHandler(nil))
	tr := h2cTransport(t)
	req, _ := http.NewRequest("GET", "http://"+addr+"/nowhere", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 404 || string(body) != "no such path\n" || len(resp.Trailer) != 0 {
		t.Errorf("got %d %q trailers %v; want 404 %q and no trailers", resp.StatusCode, body, resp.Trailer, "no such path\n")
	}
}

func TestXNetClientLargeBody(t *testing.T) {
	checkNoLeaks(t)
	addr := connEchoServer(t, connHandler(nil))
	tr := h2cTransport(t)
	body, sum := randomBody(t, largeBodySize)
	if err := postEcho(context.Background(), tr, addr, body, sum, "large"); err != nil {
		t.Fatal(err)
	}
}

func TestXNetClientServerReset(t *testing.T) {
	checkNoLeaks(t)
	addr := connEchoServer(t, connHandler(nil))
	tr := h2cTransport(t)
	req, _ := http.NewRequest("GET", "http://"+addr+"/reset", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		// The reset may overtake the response headers; it must still be ours.
		checkXNetReset(t, err)
		return
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	if err == nil {
		t.Fatal("the body ended cleanly; want the server's RST_STREAM")
	}
	checkXNetReset(t, err)
}

func checkXNetReset(t *testing.T, err error) {
	t.Helper()
	var se http2.StreamError
	if !errors.As(err, &se) || se.Code != http2.ErrCode(resetCodeFromServer) {
		t.Fatalf("got %v (%T); want an http2.StreamError with code %v", err, err, resetCodeFromServer)
	}
}

func TestXNetClientCancel(t *testing.T) {
	checkNoLeaks(t)
	ev := &serverEvents{cancelled: make(chan error, 1)}
	addr := connEchoServer(t, connHandler(ev))
	tr := h2cTransport(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/wait", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cancel() // the response is not complete: x/net sends RST_STREAM CANCEL
	select {
	case err := <-ev.cancelled:
		var re *conn.ResetError
		if !errors.As(err, &re) || re.Code != frame.ErrCodeCancel || !re.Remote {
			t.Fatalf("handler's Write after the reset: %v; want a remote *conn.ResetError with CANCEL", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the handler never saw the client's reset")
	}
}

// ---------------------------------------------------------------------------
// conn.Client → x/net/http2 Server

// xnetEvents reports what xnetHandler saw, for the cancellation test.
type xnetEvents struct {
	cancelled chan error // /wait: the request context's error once the client reset
}

// xnetHandler is the http.Handler our client talks to: the same paths as
// connHandler. /echo streams the body back (flushing each chunk) and adds
// trailers x-echo-bytes, x-echo-sha256 and x-echo-client-trailer (the
// client's request trailer x-client-trailer); /reset panics with
// http.ErrAbortHandler after "partial", which x/net turns into RST_STREAM
// INTERNAL_ERROR.
func xnetHandler(ev *xnetEvents) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			w.Header().Set("Trailer", "X-Echo-Bytes, X-Echo-Sha256, X-Echo-Client-Trailer")
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("X-Echo-Test", r.Header.Get("X-Test"))
			w.WriteHeader(200)
			h := sha256.New()
			buf := make([]byte, 16<<10)
			var n int64
			for {
				k, err := r.Body.Read(buf)
				if k > 0 {
					h.Write(buf[:k])
					n += int64(k)
					if _, err := w.Write(buf[:k]); err != nil {
						return
					}
					w.(http.Flusher).Flush()
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					return
				}
			}
			w.Header().Set("X-Echo-Bytes", strconv.FormatInt(n, 10))
			w.Header().Set("X-Echo-Sha256", hex.EncodeToString(h.Sum(nil)))
			w.Header().Set("X-Echo-Client-Trailer", r.Trailer.Get("X-Client-Trailer"))
		case "/reset":
			w.WriteHeader(200)
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case "/wait":
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			ev.cancelled <- r.Context().Err()
		default:
			http.NotFound(w, r)
		}
	})
}

// xnetServerConn starts x/net's HTTP/2 server on one loopback TCP
// connection and returns our client connection to it. Cleanup closes both
// and waits for the server to finish.
func xnetServerConn(t *testing.T, h http.Handler) (*conn.Conn, string) {
	t.Helper()
	return xnetServerConnWith(t, &http2.Server{}, &http.Server{}, h)
}

// xnetServerConnWith is xnetServerConn with the x/net server and its base
// http.Server given.
func xnetServerConnWith(t *testing.T, srv *http2.Server, base *http.Server, h http.Handler) (*conn.Conn, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- nc
	}()
	cnc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	snc, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.ServeConn(snc, &http2.ServeConnOpts{Handler: h, BaseConfig: base})
	}()
	c, err := conn.Client(cnc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		<-c.Done()
		snc.Close()
		<-served
	})
	return c, ln.Addr().String()
}

func requestFields(method, authority, path string, extra ...hpack.Field) []hpack.Field {
	return append([]hpack.Field{
		{Name: ":method", Value: method},
		{Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: authority},
		{Name: ":path", Value: path},
	}, extra...)
}

// connEcho sends body to /echo on c, with a request trailer, writing and
// reading at once (the server streams), and checks the whole response.
func connEcho(ctx context.Context, c *conn.Conn, authority string, body []byte, sum, tag string) error {
	st, err := c.OpenStream(ctx, requestFields("POST", authority, "/echo",
		hpack.Field{Name: "content-type", Value: "application/octet-stream"},
		hpack.Field{Name: "x-test", Value: tag},
		hpack.Field{Name: "trailer", Value: "x-client-trailer"},
	), nil, 0)

	if err != nil {
		return fmt.Errorf("OpenStream: %w", err)
	}
	writeErr := make(chan error, 1)
	go func() {
		// Write in uneven pieces to cross frame and window boundaries.
		rest := body
		for len(rest) > 0 {
			k := min(len(rest), 40000)
			if err := st.WriteData(nil, rest[:k], false); err != nil {
				writeErr <- err
				return
			}
			rest = rest[k:]
		}
		writeErr <- st.WriteAll(nil, nil, []hpack.Field{{Name: "x-client-trailer", Value: tag + "-trailer"}})
	}()
	err = checkConnEchoResponse(st, body, sum, tag)
	if werr := <-writeErr; werr != nil && err == nil {
		err = fmt.Errorf("writing the request: %w", werr)
	}
	return err
}

func checkConnEchoResponse(st *conn.Stream, body []byte, sum, tag string) error {
	hdr, err := st.ReadHeaders()
	if err != nil {
		return fmt.Errorf("ReadHeaders: %w", err)
	}
	if got := fieldValue(hdr, ":status"); got != "200" {
		return fmt.Errorf(":status %q, want 200 (headers %v)", got, hdr)
	}
	if got := fieldValue(hdr, "content-type"); got != "application/octet-stream" {
		return fmt.Errorf("content-type %q", got)
	}
	if got := fieldValue(hdr, "x-echo-test"); got != tag {
		return fmt.Errorf("x-echo-test %q, want %q", got, tag)
	}
	got, err := io.ReadAll(st)
	if err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	if !bytes.Equal(got, body) {
		return fmt.Errorf("echoed %d bytes (sha256 %s), sent %d (sha256 %s)", len(got), sha256Hex(got), len(body), sum)
	}
	tr := st.Trailers()
	if v := fieldValue(tr, "x-echo-bytes"); v != strconv.Itoa(len(body)) {
		return fmt.Errorf("trailer x-echo-bytes %q, want %d (trailers %v)", v, len(body), tr)
	}
	if v := fieldValue(tr, "x-echo-sha256"); v != sum {
		return fmt.Errorf("trailer x-echo-sha256 %q, want %s", v, sum)
	}
	if v := fieldValue(tr, "x-echo-client-trailer"); v != tag+"-trailer" {
		return fmt.Errorf("trailer x-echo-client-trailer %q, want %q: the server did not get our request trailer", v, tag+"-trailer")
	}
	return nil
}

func TestConnClientConcurrentEcho(t *testing.T) {
	checkNoLeaks(t)
	c, authority := xnetServerConn(t, xnetHandler(nil))
	var wg sync.WaitGroup
	errs := make(chan error, concurrentClients*requestsPerClient)
	for g := range concurrentClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range requestsPerClient {
				n := 1 + (g*requestsPerClient+i)*997%(64<<10)
				body := make([]byte, n)
				if _, err := rand.Read(body); err != nil {
					errs <- err
					return
				}
				if err := connEcho(context.Background(), c, authority, body, sha256Hex(body), fmt.Sprintf("g%d-r%d", g, i)); err != nil {
					errs <- fmt.Errorf("client %d request %d (%d bytes): %w", g, i, n, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestConnClientGetAndNotFound(t *testing.T) {
	checkNoLeaks(t)
	c, authority := xnetServerConn(t, xnetHandler(nil))
	st, err := c.OpenStream(context.Background(), requestFields("GET", authority, "/nowhere"), nil, conn.EndStream)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := st.ReadHeaders()
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(st)
	if err != nil {
		t.Fatal(err)
	}
	if fieldValue(hdr, ":status") != "404" || !strings.Contains(string(body), "404 page not found") {
		t.Errorf("got %v %q; want :status 404 and net/http's not-found body", hdr, body)
	}
	if st.TrailersOnly() || st.Trailers() != nil {
		t.Errorf("TrailersOnly %v, Trailers %v; want a plain response without trailers", st.TrailersOnly(), st.Trailers())
	}
}

func TestConnClientLargeBody(t *testing.T) {
	checkNoLeaks(t)
	c, authority := xnetServerConn(t, xnetHandler(nil))
	body, sum := randomBody(t, largeBodySize)
	if err := connEcho(context.Background(), c, authority, body, sum, "large"); err != nil {
		t.Fatal(err)
	}
}

func TestConnClientServerReset(t *testing.T) {
	checkNoLeaks(t)
	c, authority := xnetServerConn(t, xnetHandler(nil))
	st, err := c.OpenStream(context.Background(), requestFields("GET", authority, "/reset"), nil, conn.EndStream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadHeaders(); err != nil {
		checkConnReset(t, err, frame.ErrCodeInternal)
		return
	}
	_, err = io.ReadAll(st)
	checkConnReset(t, err, frame.ErrCodeInternal)
	// The connection survives a stream reset.
	body, sum := randomBody(t, 1000)
	if err := connEcho(context.Background(), c, authority, body, sum, "after-reset"); err != nil {
		t.Fatalf("echo after the reset: %v", err)
	}
}

func checkConnReset(t *testing.T, err error, code frame.ErrCode) {
	t.Helper()
	var re *conn.ResetError
	if !errors.As(err, &re) || re.Code != code || !re.Remote {
		t.Fatalf("got %v; want a remote *conn.ResetError with %v", err, code)
	}
}

func TestConnClientCancel(t *testing.T) {
	checkNoLeaks(t)
	ev := &xnetEvents{cancelled: make(chan error, 1)}
	c, authority := xnetServerConn(t, xnetHandler(ev))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := c.OpenStream(ctx, requestFields("POST", authority, "/wait"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := st.ReadHeaders()
	if err != nil || fieldValue(hdr, ":status") != "200" {
		t.Fatalf("ReadHeaders: %v %v", hdr, err)
	}
	cancel() // conn sends RST_STREAM CANCEL
	select {
	case err := <-ev.cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("x/net handler's context ended with %v; want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("x/net's handler never saw our reset")
	}
	var re *conn.ResetError
	if _, err := st.Read(make([]byte, 1)); !errors.As(err, &re) || re.Remote || re.Code != frame.ErrCodeCancel {
		t.Fatalf("Read after cancel: %v; want a local *conn.ResetError with CANCEL", err)
	}
	if !c.Available() {
		t.Fatal("the connection stopped taking streams after one was cancelled")
	}
}

// TestXNetClientGracefulShutdown shuts a conn.Server connection down while
// x/net's client has a request in flight: the request must complete, and
// the client's next request must succeed on a new connection.
func TestXNetClientGracefulShutdown(t *testing.T) {
	checkNoLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan *conn.Conn, 2)
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for range 2 {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c, err := conn.Server(nc, nil, connHandler(nil))
			if err != nil {
				nc.Close()
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-acceptDone
		close(conns)
		for c := range conns {
			c.Close()
			<-c.Done()
		}
	})
	addr := ln.Addr().String()
	tr := h2cTransport(t)

	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("POST", "http://"+addr+"/echo", pr)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := <-conns
	if _, err := io.WriteString(pw, "before"); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("before"))
	if _, err := io.ReadFull(resp.Body, got); err != nil || string(got) != "before" {
		t.Fatalf("echo before the shutdown: %q, %v", got, err)
	}

	shutdown := make(chan error, 1)
	go func() { shutdown <- first.Shutdown(context.Background()) }()
	// Wait (bounded) until the server is draining, so its GOAWAY precedes
	// the rest of the echo and x/net has read it before the next request.
	deadline := time.Now().Add(time.Minute)
	for first.Available() {
		if time.Now().After(deadline) {
			t.Fatal("the connection still takes streams a minute after Shutdown began")
		}
		time.Sleep(time.Millisecond)
	}
	// The stream in flight finishes after the GOAWAY.
	if _, err := io.WriteString(pw, " after"); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != " after" {
		t.Fatalf("echo during the shutdown: %q, %v", rest, err)
	}
	if resp.Trailer.Get("X-Echo-Bytes") != "12" {
		t.Errorf("trailers %v; want x-echo-bytes 12", resp.Trailer)
	}
	select {
	case err := <-shutdown:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Shutdown did not return once the last stream finished")
	}
	<-first.Done()

	// x/net saw the GOAWAY (or the close) and dials anew.
	body, sum := randomBody(t, 100)
	if err := postEcho(context.Background(), tr, addr, body, sum, "next"); err != nil {
		t.Fatalf("request after the shutdown: %v", err)
	}
}

// TestConnClientGoAway shuts x/net's server down gracefully while our
// client has a stream in flight: the client must stop taking new streams
// (OpenStream fails with ErrNotAvailable) and the stream must complete.
func TestConnClientGoAway(t *testing.T) {
	checkNoLeaks(t)
	base, srv := &http.Server{}, &http2.Server{}
	if err := http2.ConfigureServer(base, srv); err != nil {
		t.Fatal(err)
	}
	c, authority := xnetServerConnWith(t, srv, base, xnetHandler(nil))
	ctx := context.Background()
	st, err := c.OpenStream(ctx, requestFields("POST", authority, "/echo"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteData(nil, []byte("before"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadHeaders(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("before"))
	if _, err := io.ReadFull(st, got); err != nil || string(got) != "before" {
		t.Fatalf("echo before the GOAWAY: %q, %v", got, err)
	}

	// http.Server.Shutdown runs x/net's graceful shutdown: GOAWAY, then
	// wait for the open streams. It returns at once (ServeConn's connections
	// are not the http.Server's to wait for).
	if err := base.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for c.Available() {
		if time.Now().After(deadline) {
			t.Fatal("no GOAWAY seen a minute after x/net's shutdown began")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := c.OpenStream(ctx, requestFields("GET", authority, "/"), nil, conn.EndStream); !errors.Is(err, conn.ErrNotAvailable) {
		t.Errorf("OpenStream after GOAWAY: %v; want ErrNotAvailable", err)
	}
	if err := st.WriteData(nil, []byte(" after"), true); err != nil {
		t.Fatalf("finishing the stream after GOAWAY: %v", err)
	}
	rest, err := io.ReadAll(st)
	if err != nil || string(rest) != " after" {
		t.Fatalf("echo after the GOAWAY: %q, %v", rest, err)
	}
	if v := fieldValue(st.Trailers(), "x-echo-bytes"); v != "12" {
		t.Errorf("trailers %v; want x-echo-bytes 12", st.Trailers())
	}
	select {
	case <-c.Done():
	case <-time.After(time.Minute):
		t.Fatal("the connection did not end after its last stream")
	}
}
