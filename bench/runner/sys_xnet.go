//lint:file-ignore SA1019 x/net/http2's Transport and Server are the system measured here, by design (x/net/http2 over h2c is what a Go user would otherwise reach for)

package runner

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	"golang.org/x/net/http2"
)

func init() { Register(xnetSystem{}) }

// xnetSystem is golang.org/x/net/http2 over cleartext (h2c with prior
// knowledge) in the unary shape only: a POST whose body is one gRPC-style
// message (a 5-byte prefix and the payload), answered by one such message
// and a grpc-status trailer. It is HTTP/2 without any RPC library.
type xnetSystem struct{}

func (xnetSystem) Name() string          { return "xnet" }
func (xnetSystem) Supports(s Shape) bool { return s == ShapeUnary }

func (xnetSystem) Start() (Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &xnetServer{lis: lis, conns: map[net.Conn]struct{}{}}
	h2 := &http2.Server{MaxConcurrentStreams: benchStreams}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				c.Close()
				return
			}
			s.conns[c] = struct{}{}
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				h2.ServeConn(c, &http2.ServeConnOpts{Handler: http.HandlerFunc(xnetUnary)})
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
		}
	}()
	return s, nil
}

// xnetUnary echoes the one message of the request body.
func xnetUnary(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != MethodUnary {
		http.Error(w, "unknown method", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxStreamMsg+5))
	if err != nil || len(body) < 5 || int(binary.BigEndian.Uint32(body[1:5])) != len(body)-5 {
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Trailer", "Grpc-Status")
	w.WriteHeader(http.StatusOK)
	w.Write(body) //nolint:errcheck // the client sees a failed write as a broken response
	h.Set("Grpc-Status", "0")
}

type xnetServer struct {
	lis    net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool                  // guarded by mu
	conns  map[net.Conn]struct{} // guarded by mu
}

func (s *xnetServer) Addr() string { return s.lis.Addr().String() }
func (s *xnetServer) Close() error {
	s.mu.Lock()
	s.closed = true
	s.lis.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (xnetSystem) Dial(addr string, _ DialOptions) (Client, error) {
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		// Queue calls over the stream limit on the one connection instead
		// of opening another.
		StrictMaxConcurrentStreams: true,
	}
	c := &xnetClient{tr: tr, url: "http://" + addr + MethodUnary}
	var resp []byte
	if err := c.Unary(context.Background(), nil, &resp); err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	return c, nil
}

type xnetClient struct {
	tr  *http2.Transport
	url string
}

func (c *xnetClient) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}

func (c *xnetClient) Unary(ctx context.Context, req []byte, resp *[]byte) error {
	body := make([]byte, 5+len(req))
	binary.BigEndian.PutUint32(body[1:5], uint32(len(req)))
	copy(body[5:], req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/grpc")
	hr.Header.Set("Te", "trailers")
	res, err := c.tr.RoundTrip(hr)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b := (*resp)[:0]
	var prefix [5]byte
	if _, err := io.ReadFull(res.Body, prefix[:]); err != nil {
		return fmt.Errorf("xnet: response status %d: %w", res.StatusCode, err)
	}
	n := int(binary.BigEndian.Uint32(prefix[1:]))
	if n > maxStreamMsg {
		return fmt.Errorf("xnet: response message of %d bytes", n)
	}
	b = append(b, make([]byte, n)...)
	if _, err := io.ReadFull(res.Body, b); err != nil {
		return err
	}
	*resp = b
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return err
	}
	if st := res.Trailer.Get("Grpc-Status"); st != "0" {
		return fmt.Errorf("xnet: grpc-status %q", st)
	}
	return nil
}

func (c *xnetClient) ServerStream(context.Context, int, int, func(int)) error {
	return ErrUnsupported
}

func (c *xnetClient) PingPong(context.Context) (PingPonger, error) {
	return nil, errors.Join(ErrUnsupported, errors.New("xnet runs the unary shape only"))
}
