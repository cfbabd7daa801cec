// x/net/http2 marks its Transport and Server deprecated in favour of
// net/http, but they are the HTTP/2 implementation this interop test is
// about (the h2rpc task asks for x/net's Transport and Server.ServeConn).
//
//lint:file-ignore SA1019 interop with x/net/http2's (deprecated) Transport and Server on purpose

package conn_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"golang.org/x/net/http2"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/hpack"
)

// Interop with Go's own HTTP/2 implementation, golang.org/x/net/http2.

// echoHTTP is the handler of TestXNetTransportToOurServer: it echoes POST
// bodies and sends a trailer with their length.
func echoHTTP(s *conn.Stream) {
	if err := s.WriteAll([]hpack.Field{f(":status", "200"), f("content-type", "application/octet-stream")}, nil, nil); err != nil {
		return
	}
	n, err := io.Copy(dataWriter{s}, s)
	if err != nil {
		return
	}
	s.WriteAll(nil, nil, []hpack.Field{f("x-length", fmt.Sprint(n))})
}

func TestXNetTransportToOurServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var servers sync.WaitGroup
	var mu sync.Mutex
	var conns []*conn.Conn
	servers.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c, err := conn.Server(nc, nil, echoHTTP)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	defer func() {
		ln.Close()
		servers.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	tr := &http2.Transport{
		AllowHTTP: true, // h2c with prior knowledge
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := "http://" + ln.Addr().String() + "/echo"
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			body := bytes.Repeat([]byte{byte(i)}, 1000*i+1)
			resp, err := client.Post(url, "application/octet-stream", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Error(err)
				return
			}
			if resp.StatusCode != 200 || !bytes.Equal(got, body) {
				t.Errorf("request %d: status %d, %d bytes back of %d", i, resp.StatusCode, len(got), len(body))
			}
			if tl := resp.Trailer.Get("X-Length"); tl != fmt.Sprint(len(body)) {
				t.Errorf("request %d: trailer x-length %q, want %d", i, tl, len(body))
			}
		})
	}
	wg.Wait()
}

func TestOurClientToXNetServer(t *testing.T) {
	cn, sn := loopback(t)
	srv := &http2.Server{}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.ServeConn(sn, &http2.ServeConnOpts{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Length")
			w.Header().Set("X-Path", r.URL.Path)
			n, _ := io.Copy(w, r.Body)
			w.Header().Set("X-Length", fmt.Sprint(n))
		})})
	}()
	client, err := conn.Client(cn, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			s, err := client.OpenStream(ctx, []hpack.Field{
				f(":method", "POST"), f(":scheme", "http"), f(":authority", "example"), f(":path", fmt.Sprintf("/p/%d", i)),
			}, nil, 0)

			if err != nil {
				t.Error(err)
				return
			}
			body := bytes.Repeat([]byte("x"), 700*i+1)
			go func() {
				s.WriteData(nil, body, true)
			}()
			h, err := s.ReadHeaders()
			if err != nil {
				t.Error(err)
				return
			}
			got, err := io.ReadAll(s)
			if err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(got, body) {
				t.Errorf("stream %d: %d bytes back of %d", i, len(got), len(body))
			}
			var path string
			for _, fld := range h {
				if fld.Name == "x-path" {
					path = fld.Value
				}
			}
			if path != fmt.Sprintf("/p/%d", i) {
				t.Errorf("stream %d: x-path %q", i, path)
			}
			tr := s.Trailers()
			if len(tr) != 1 || tr[0].Name != "x-length" || tr[0].Value != fmt.Sprint(len(body)) {
				t.Errorf("stream %d: trailers %v", i, tr)
			}
		})
	}
	wg.Wait()
	if err := client.Ping(ctx); err != nil {
		t.Fatalf("Ping to x/net: %v", err)
	}
	if err := client.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	<-served
	if err := client.Err(); !errors.Is(err, conn.ErrClosed) {
		t.Errorf("after Shutdown Err() = %v, want ErrClosed", err)
	}
}
