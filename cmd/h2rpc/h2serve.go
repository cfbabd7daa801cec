package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/h2tls"
	"github.com/h2rpc/h2rpc/hpack"
	"github.com/h2rpc/h2rpc/trace"
)

func init() {
	register("h2serve", "serve HTTP/2, h2c (prior knowledge) or TLS (ALPN h2): a target for h2spec, curl and load tools", runH2serve)
}

// defaultBody answers every request but POST and PUT, whose bodies are echoed.
const defaultBody = "hello from h2rpc h2serve\n"

// runH2serve is `h2rpc h2serve`: an HTTP/2 server over cleartext (h2c, prior
// knowledge: RFC 9113 §3.3) built directly on conn.Server, the target of the
// h2spec conformance test and of curl. It answers every request with
// :status 200; a POST or PUT body is echoed back as it arrives, followed by
// a trailer x-h2rpc-echo-bytes with its length; anything else gets a small
// fixed body. Once listening it prints the address (host:port) on a line of
// its own on stdout. SIGINT or SIGTERM starts a graceful shutdown: stop
// accepting, GOAWAY every connection, let open streams finish for up to
// -grace, then close. With -tls-cert and -tls-key it speaks TLS (ALPN h2)
// instead, requiring client certificates of -client-ca's authorities if
// given; each handshake runs on a goroutine of its own.
func runH2serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("h2serve", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: h2rpc h2serve [flags]")
		fmt.Fprintln(fs.Output(), "Serves HTTP/2 over cleartext (h2c, prior knowledge), or over TLS with -tls-cert and -tls-key")
		fmt.Fprintln(fs.Output(), "(mutual TLS with -client-ca): every request gets :status 200;")
		fmt.Fprintln(fs.Output(), "POST and PUT bodies are echoed. Prints the listening address on stdout.")
		fmt.Fprintln(fs.Output(), "SIGINT or SIGTERM shuts it down gracefully.")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:8080", "`host:port` to listen on (port 0 picks a free one)")
	body := fs.String("body", defaultBody, "response body for requests other than POST and PUT")
	grace := fs.Duration("grace", 10*time.Second, "how long a graceful shutdown lets open streams finish")
	verbose := fs.Bool("v", false, "log every connection's end and its reason on stderr")
	tf := addTLSFlags(fs)
	var cfg conn.Config
	fs.Var((*uint32Flag)(&cfg.MaxConcurrentStreams), "max-concurrent-streams", "SETTINGS_MAX_CONCURRENT_STREAMS to advertise: `n` streams the client may open at once (0: conn's default)")
	fs.Var((*uint32Flag)(&cfg.InitialWindowSize), "initial-window-size", "per-stream receive window to advertise, in `bytes` (0: conn's default)")
	fs.Var((*uint32Flag)(&cfg.ConnWindowSize), "conn-window-size", "connection receive window, in `bytes` (0: measured, from 256 KiB growing with the bandwidth-delay product up to 1 MiB)")
	fs.Var((*uint32Flag)(&cfg.MaxFrameSize), "max-frame-size", "SETTINGS_MAX_FRAME_SIZE to advertise, in `bytes` (0: conn's default)")
	fs.Var((*uint32Flag)(&cfg.MaxHeaderListSize), "max-header-list-size", "SETTINGS_MAX_HEADER_LIST_SIZE to advertise and enforce, in `bytes` (0: conn's default)")
	fs.Var((*uint32Flag)(&cfg.HeaderTableSize), "header-table-size", "SETTINGS_HEADER_TABLE_SIZE to advertise, in `bytes` (0: conn's default)")
	fs.DurationVar(&cfg.SettingsAckTimeout, "settings-ack-timeout", 0, "how long the peer has to acknowledge our SETTINGS (0: conn's default)")
	trf := addTraceFlag(fs, "every connection")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if err := tf.check(); err != nil {
		return usageError(stderr, "h2rpc h2serve: "+err.Error(), func(w io.Writer) { fs.SetOutput(w); fs.Usage() })
	}
	tlsCfg, reloader, err := tf.serverConfig()
	if err != nil {
		return err
	}
	if reloader != nil {
		defer reloader.Close()
		tlsCfg = h2tls.Configure(tlsCfg)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, ln.Addr().String())
	if err := trf.start(trace.Server, "h2rpc h2serve on "+ln.Addr().String()); err != nil {
		ln.Close()
		return err
	}
	s := &h2server{cfg: trf.config(&cfg), tls: tlsCfg, body: []byte(*body), conns: map[*conn.Conn]struct{}{}, handshaking: map[net.Conn]struct{}{}}
	if *verbose {
		s.log = stderr
	}
	err = s.serve(ctx, ln, *grace)
	if terr := trf.finish(); err == nil {
		err = terr
	}
	return err
}

// uint32Flag is a flag.Value for the uint32 fields of conn.Config.
type uint32Flag uint32

func (f *uint32Flag) String() string { return strconv.FormatUint(uint64(*f), 10) }

func (f *uint32Flag) Set(s string) error {
	v, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return errors.New("want a whole number from 0 to 4294967295")
	}
	*f = uint32Flag(v)
	return nil
}

// h2server serves the connections accepted from one listener.
type h2server struct {
	cfg  *conn.Config
	tls  *tls.Config // nil: h2c
	body []byte      // the fixed response body
	log  io.Writer   // nil: quiet

	mu    sync.Mutex
	conns map[*conn.Conn]struct{} // guarded by mu: the live connections
	// handshaking holds the connections whose TLS handshake runs;
	// closing is set once the server shuts down. Guarded by mu.
	handshaking map[net.Conn]struct{}
	closing     bool

	watchers sync.WaitGroup // one goroutine per live connection, waiting for its end
}

// serve accepts connections on ln until ctx is done, then shuts down: it
// closes ln, sends GOAWAY on every connection and waits up to grace for
// their streams to finish before closing them. It returns once every
// connection and goroutine it started has ended.
func (s *h2server) serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	acceptErr := make(chan error, 1)
	go func() { acceptErr <- s.acceptLoop(ln) }()

	var err error
	select {
	case <-ctx.Done():
		ln.Close()
		<-acceptErr
	case err = <-acceptErr: // the listener failed: shut down all the same
		ln.Close()
	}
	s.mu.Lock()
	s.closing = true
	for nc := range s.handshaking {
		nc.Close()
	}
	s.mu.Unlock()

	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range s.liveConns() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Shutdown(shutdownCtx); err != nil {
				c.Close()
			}
		}()
	}
	wg.Wait()
	for _, c := range s.liveConns() { // a Shutdown that returned early leaves none, but be sure
		c.Close()
	}
	s.watchers.Wait()
	return err
}

// acceptLoop accepts connections until ln is closed (nil) or fails for good.
func (s *h2server) acceptLoop(ln net.Listener) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: wait and retry, as
				// net/http does, rather than spin or give up.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if s.tls == nil {
			s.start(nc)
			continue
		}
		s.mu.Lock()
		s.handshaking[nc] = struct{}{}
		s.mu.Unlock()
		s.watchers.Add(1)
		go s.handshake(nc)
	}
}

// handshake runs the TLS handshake of nc, then serves it.
func (s *h2server) handshake(nc net.Conn) {
	defer s.watchers.Done()
	tc, err := h2tls.ServerHandshake(context.Background(), nc, s.tls)
	s.mu.Lock()
	delete(s.handshaking, nc)
	s.mu.Unlock()
	if err != nil {
		nc.Close()
		s.logf("%v: %v", nc.RemoteAddr(), err)
		return
	}
	s.start(tc)
}

// start serves nc, over h2c or after its TLS handshake.
func (s *h2server) start(nc net.Conn) {
	c, err := conn.Server(nc, s.cfg, s.handle)
	if err != nil {
		nc.Close()
		s.logf("%v: %v", nc.RemoteAddr(), err)
		return
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		c.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.watchers.Add(1)
	go s.watch(c, nc.RemoteAddr())
}

// isTemporary reports errors that Accept may return while the listener is
// still usable (EMFILE, ECONNABORTED, ...).
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// watch forgets c once it has ended.
func (s *h2server) watch(c *conn.Conn, remote net.Addr) {
	defer s.watchers.Done()
	<-c.Done()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.logf("%v: connection ended: %v", remote, c.Err())
}

func (s *h2server) liveConns() []*conn.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*conn.Conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}

func (s *h2server) logf(format string, args ...any) {
	if s.log != nil {
		fmt.Fprintf(s.log, "h2serve: "+format+"\n", args...)
	}
}

// echoBufs holds the copy buffers of echoing streams: memory is bounded by
// the streams in flight, not by body sizes.
var echoBufs = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// handle serves one request stream; conn calls it on the stream's own goroutine.
func (s *h2server) handle(st *conn.Stream) {
	switch method := fieldValue(st.RequestHeaders(), ":method"); method {
	case "POST", "PUT":
		s.echo(st)
	default:
		s.reply(st, method == "HEAD")
	}
}

// reply sends :status 200 and the fixed body (none for HEAD), then reads
// and discards whatever request body comes, so its flow-control credit is
// returned and the stream completes.
func (s *h2server) reply(st *conn.Stream, head bool) {
	fields := []hpack.Field{
		{Name: ":status", Value: "200"},
		{Name: "content-type", Value: "text/plain; charset=utf-8"},
		{Name: "content-length", Value: strconv.Itoa(len(s.body))},
	}
	headers, end := fields, []hpack.Field(nil)
	if head || len(s.body) == 0 {
		headers, end = nil, fields // HEADERS with END_STREAM
	}
	if err := st.WriteAll(headers, nil, end); err != nil {
		return
	}
	if !head && len(s.body) > 0 {
		if err := st.WriteData(nil, s.body, true); err != nil {
			return
		}
	}
	buf := echoBufs.Get().(*[32 << 10]byte)
	defer echoBufs.Put(buf)
	for {
		if _, err := st.Read(buf[:]); err != nil {
			return
		}
	}
}

// echo sends :status 200 at once and copies the request body into the
// response as it arrives, one buffer at a time, ending with a trailer that
// counts the bytes echoed. A reset or a dead connection ends it early.
func (s *h2server) echo(st *conn.Stream) {
	contentType := fieldValue(st.RequestHeaders(), "content-type")
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	fields := []hpack.Field{
		{Name: ":status", Value: "200"},
		{Name: "content-type", Value: contentType},
	}
	if err := st.WriteAll(fields, nil, nil); err != nil {
		return
	}
	buf := echoBufs.Get().(*[32 << 10]byte)
	defer echoBufs.Put(buf)
	var total int64
	for {
		n, err := st.Read(buf[:])
		if n > 0 {
			if werr := st.WriteData(nil, buf[:n], false); werr != nil {
				return
			}
			total += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			// Reset by the peer or the connection ended: nothing to answer.
			// Anything else we could not read, we cancel.
			var rerr *conn.ResetError
			if !errors.As(err, &rerr) {
				st.Reset(frame.ErrCodeCancel)
			}
			return
		}
	}
	trailers := []hpack.Field{{Name: "x-h2rpc-echo-bytes", Value: strconv.FormatInt(total, 10)}}
	_ = st.WriteAll(nil, nil, trailers) // a failure here means the stream is already gone
}

// fieldValue returns the value of the first field called name, or "".
func fieldValue(fields []hpack.Field, name string) string {
	for _, f := range fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}
