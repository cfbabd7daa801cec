package main

// The scenarios drawn in docs/observability.md, run for real. Each test
// checks what its picture is meant to show; with -pictures DIR it also
// writes the picture:
//
//	go test ./cmd/h2rpc -run TestPicture -pictures ../../docs/img

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/examples/messenger"
	"github.com/h2rpc/h2rpc/examples/messenger/pb"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
	"github.com/h2rpc/h2rpc/rpc"
	"github.com/h2rpc/h2rpc/trace"
)

var picturesDir = flag.String("pictures", "", "write the trace pictures of docs/observability.md (SVG) to this `directory`")

// recording records connections to memory.
type recording struct {
	buf bytes.Buffer
	w   *trace.Writer
}

func newRecording(t *testing.T, at trace.Endpoint, label string) *recording {
	t.Helper()
	r := &recording{}
	w, err := trace.NewWriter(&r.buf, at, label)
	if err != nil {
		t.Fatal(err)
	}
	r.w = w
	return r
}

// config returns cfg set to record every connection.
func (r *recording) config(cfg *conn.Config) *conn.Config {
	if cfg == nil {
		cfg = &conn.Config{}
	}
	cfg.Trace = func(ci conn.ConnInfo) conn.Tracer { return r.w.Conn(trace.EndpointOf(ci.Client)) }
	return cfg
}

// finish reads the trace back and, with -pictures, draws it to name.svg.
func (r *recording) finish(t *testing.T, name string, o *trace.Options) *trace.Trace {
	t.Helper()
	if err := r.w.Flush(); err != nil {
		t.Fatal(err)
	}
	tr, err := trace.Read(&r.buf)
	if err != nil {
		t.Fatal(err)
	}
	if *picturesDir != "" {
		f, err := os.Create(filepath.Join(*picturesDir, name+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		if err := trace.SVG(f, tr, o); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

func count(tr *trace.Trace, keep func(e *trace.Event) bool) int {
	n := 0
	for i := range tr.Events {
		if keep(&tr.Events[i]) {
			n++
		}
	}
	return n
}

// serveMessenger serves the Learning Messenger until the test ends.
func serveMessenger(t *testing.T, delay time.Duration, opts ...rpc.ServerOption) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(opts...)
	messenger.RegisterLearningMessengerServer(srv, &messenger.Server{Delay: delay})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return ln.Addr().String()
}

// TestPictureCallShapes: the four call shapes, as h2rpc demo --trace
// draws them.
func TestPictureCallShapes(t *testing.T) {
	rec := newRecording(t, trace.Client, "The four call shapes on one connection")
	addr := serveMessenger(t, 5*time.Millisecond)
	if err := runDemoClient(context.Background(), addr, io.Discard, 5*time.Millisecond, rpc.WithInsecure(), rpc.WithConnConfig(rec.config(nil))); err != nil {
		t.Fatal(err)
	}
	tr := rec.finish(t, "trace-call-shapes", nil)
	// Unary: one DATA each way; server streaming: one up, four down;
	// client streaming: four up, one down; bidirectional: three each way.
	wantData := map[uint32][2]int{1: {1, 1}, 3: {1, 4}, 5: {4, 1}, 7: {3, 3}}
	for id, want := range wantData {
		up := count(tr, func(e *trace.Event) bool {
			return e.Stream == id && e.Type == "DATA" && e.From == trace.Client && len(e.Msgs) > 0
		})
		down := count(tr, func(e *trace.Event) bool {
			return e.Stream == id && e.Type == "DATA" && e.From == trace.Server && len(e.Msgs) > 0
		})
		if up != want[0] || down != want[1] {
			t.Errorf("stream %d: %d request and %d response messages, want %v", id, up, down, want)
		}
	}
}

// TestPictureMultiplexed: 100 unary calls at once share one connection.
// The server answers none of them until all 100 have arrived, so that all
// are in flight at once however the machine schedules them.
func TestPictureMultiplexed(t *testing.T) {
	rec := newRecording(t, trace.Client, "100 unary calls multiplexed on one TCP connection")
	var arrived sync.WaitGroup
	arrived.Add(101) // the warm-up call and the 100
	allIn := make(chan struct{})
	go func() {
		arrived.Wait()
		close(allIn)
	}()
	var calls atomic.Int32
	barrier := func(ctx context.Context, req any, info *rpc.UnaryServerInfo, handler rpc.UnaryHandler) (any, error) {
		arrived.Done()
		if calls.Add(1) > 1 { // the warm-up call goes through alone
			select {
			case <-allIn:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return handler(ctx, req)
	}
	addr := serveMessenger(t, 0, rpc.ChainUnaryInterceptor(barrier))
	cc, err := rpc.Dial(addr, rpc.WithInsecure(), rpc.WithConnConfig(rec.config(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	stub := messenger.NewLearningMessengerClient(cc)
	if _, err := stub.GetLearningStatus(context.Background(), &pb.StatusRequest{UserId: "warm-up"}); err != nil {
		t.Fatal(err) // one call first, so the 100 find the connection up
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := stub.GetLearningStatus(context.Background(), &pb.StatusRequest{UserId: fmt.Sprint("user-", i)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	cc.Close()
	tr := rec.finish(t, "trace-multiplexed", &trace.Options{PerRow: 60})
	if n := len(tr.Conns()); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
	open, peak := map[uint32]bool{}, 0
	for _, e := range tr.Events {
		switch {
		case e.Type == "HEADERS" && e.From == trace.Client:
			open[e.Stream] = true
		case e.From == trace.Server && slices.Contains(e.Flags, "END_STREAM"):
			delete(open, e.Stream)
		}
		peak = max(peak, len(open))
	}
	if peak != 100 {
		t.Errorf("at most %d calls in flight, want 100", peak)
	}
	if n := count(tr, func(e *trace.Event) bool { return e.Type == "HEADERS" && e.From == trace.Client }); n != 101 {
		t.Errorf("%d requests, want 101", n)
	}
}

// TestPictureSlowReader: a reader that takes its time stalls the writer
// through flow control: the server's credit drains to zero and each
// WINDOW_UPDATE lets a little more through.
func TestPictureSlowReader(t *testing.T) {
	rec := newRecording(t, trace.Server, "A slow reader stalls the writer through flow control")
	const size = 256 << 10
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan *conn.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			served <- nil
			return
		}
		c, err := conn.Server(nc, rec.config(nil), func(s *conn.Stream) {
			if s.WriteAll(status200(), nil, nil) == nil {
				s.WriteData(nil, make([]byte, size), true)
			}
		})
		if err != nil {
			nc.Close()
		}
		served <- c
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// The client's windows are the smallest RFC 9113 allows: 64 KiB.
	cli, err := conn.Client(nc, &conn.Config{InitialWindowSize: 65535, ConnWindowSize: 65535})
	if err != nil {
		t.Fatal(err)
	}
	srv := <-served
	if srv == nil {
		t.Fatal("no server connection")
	}
	defer srv.Close()
	st, err := cli.OpenStream(context.Background(), request("GET", "/big"), nil, conn.EndStream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadHeaders(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8<<10)
	total := 0
	for {
		time.Sleep(10 * time.Millisecond) // the slow reader
		n, err := st.Read(buf)
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	cli.Close()
	<-cli.Done()
	<-srv.Done()
	tr := rec.finish(t, "trace-slow-reader", nil)
	if total != size {
		t.Fatalf("read %d octets, want %d", total, size)
	}
	// The writer ran out of credit, and WINDOW_UPDATEs let it go on.
	stalls := count(tr, func(e *trace.Event) bool {
		return e.Type == "DATA" && e.From == trace.Server && (e.Window.ServerConn <= 0 || e.Window.ServerStream != nil && *e.Window.ServerStream <= 0)
	})
	updates := count(tr, func(e *trace.Event) bool { return e.Type == "WINDOW_UPDATE" && e.From == trace.Client })
	if stalls < 2 || updates < 4 {
		t.Errorf("the server's credit ran out %d times, the client sent %d WINDOW_UPDATEs: want the writer stalled repeatedly", stalls, updates)
	}
}

func status200() []hpack.Field { return []hpack.Field{{Name: ":status", Value: "200"}} }

// TestPictureRapidReset: a client opens streams and resets them at once
// (CVE-2023-44487); past Config.MaxPeerResets per ResetInterval the server
// ends the connection with GOAWAY ENHANCE_YOUR_CALM. The limit is set low
// here so that the picture stays small.
func TestPictureRapidReset(t *testing.T) {
	rec := newRecording(t, trace.Server, "A Rapid Reset attack, cut off")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := rec.config(&conn.Config{MaxPeerResets: 20, ResetInterval: time.Minute})
	served := make(chan *conn.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			served <- nil
			return
		}
		c, err := conn.Server(nc, cfg, func(s *conn.Stream) { <-s.Context().Done() })
		if err != nil {
			nc.Close()
		}
		served <- c
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	enc := hpack.NewEncoder()
	b := append([]byte(frame.ClientPreface), frame.AppendSettings(nil)...)
	b = frame.AppendSettingsAck(b)
	for i := range 40 {
		id := uint32(2*i + 1)
		block := enc.AppendBlock(nil, request("POST", "/victim.Service/Expensive")...)
		b = frame.AppendHeaders(b, id, false, true, block)
		b = frame.AppendRSTStream(b, id, frame.ErrCodeCancel)
	}
	go nc.Write(b) // the server may stop reading; the read below sees the end
	fr := frame.NewReader(nc)
	var goAway *frame.GoAwayFrame
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			break
		}
		if g, ok := f.(*frame.GoAwayFrame); ok {
			g2 := *g
			goAway = &g2
		}
	}
	srv := <-served
	if srv == nil {
		t.Fatal("no server connection")
	}
	<-srv.Done()
	tr := rec.finish(t, "trace-rapid-reset", nil)
	if goAway == nil || goAway.Code != frame.ErrCodeEnhanceYourCalm {
		t.Fatalf("GOAWAY %+v, want ENHANCE_YOUR_CALM", goAway)
	}
	resets := count(tr, func(e *trace.Event) bool { return e.Type == "RST_STREAM" && e.From == trace.Client })
	if resets < 20 || resets >= 40 {
		t.Errorf("the server read %d resets before it cut the connection, want 20..39", resets)
	}
	var ce *frame.ConnError
	if !errors.As(srv.Err(), &ce) || ce.Code != frame.ErrCodeEnhanceYourCalm {
		t.Errorf("server Err %v", srv.Err())
	}
}

// holdingConn delivers nothing it receives for hold once the connection
// is older than after: what a lost TCP segment does to the receiver, which
// gets no byte past the hole until the retransmission arrives.
type holdingConn struct {
	net.Conn
	after, hold time.Duration
	start       time.Time
	once        sync.Once
	held        chan time.Time // when the hold ended
}

func (c *holdingConn) Read(p []byte) (int, error) {
	if time.Since(c.start) >= c.after {
		c.once.Do(func() {
			time.Sleep(c.hold)
			c.held <- time.Now()
		})
	}
	return c.Conn.Read(p)
}

// tickDesc is a server-streaming service: Tick sends a message every
// 10ms, 30 of them.
var tickDesc = rpc.ServiceDesc{
	ServiceName: "hol.Ticker",
	Streams: []rpc.StreamDesc{{StreamName: "Tick", ServerStreams: true, Handler: func(_ any, ss rpc.ServerStream) error {
		var req []byte
		if err := ss.RecvMsg(&req); err != nil {
			return err
		}
		for i := range 30 {
			if err := ss.SendMsg([]byte{byte(i)}); err != nil {
				return err
			}
			time.Sleep(10 * time.Millisecond)
		}
		return nil
	}}},
}

// TestPictureHeadOfLineBlocking: one segment lost on a connection that
// carries eight streams stalls all eight for the retransmission timeout
// (200ms, Linux's minimum), though seven of them lost nothing: TCP delivers
// bytes in order, so the bytes behind the hole wait whoever they belong
// to.
func TestPictureHeadOfLineBlocking(t *testing.T) {
	const rto = 200 * time.Millisecond
	rec := newRecording(t, trace.Client, "One lost TCP segment stalls every stream (head-of-line blocking)")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer()
	srv.RegisterService(&tickDesc, struct{}{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Stop()
		<-served
	}()
	held := make(chan time.Time, 1)
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return &holdingConn{Conn: nc, after: 120 * time.Millisecond, hold: rto, start: time.Now(), held: held}, nil
	}
	cc, err := rpc.Dial(ln.Addr().String(), rpc.WithInsecure(), rpc.WithDialer(dial), rpc.WithConnConfig(rec.config(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	const streams = 8
	arrivals := make([][]time.Time, streams)
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs, err := cc.NewStream(context.Background(), &tickDesc.Streams[0], "/hol.Ticker/Tick")
			if err != nil {
				errs <- err
				return
			}
			if err := cs.SendMsg([]byte("go")); err != nil {
				errs <- err
				return
			}
			cs.CloseSend()
			for {
				var m []byte
				err := cs.RecvMsg(&m)
				if err == io.EOF {
					return
				}
				if err != nil {
					errs <- err
					return
				}
				arrivals[i] = append(arrivals[i], time.Now())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	cc.Close()
	var end time.Time
	select {
	case end = <-held:
	default:
		t.Fatal("the connection was never held")
	}
	tr := rec.finish(t, "trace-head-of-line", &trace.Options{Gap: 50 * time.Millisecond})
	// Every stream's longest wait between two messages covers the hold,
	// and ends when it does.
	var gaps []time.Duration
	for i, a := range arrivals {
		var longest time.Duration
		var at time.Time
		for j := 1; j < len(a); j++ {
			if d := a[j].Sub(a[j-1]); d > longest {
				longest, at = d, a[j]
			}
		}
		gaps = append(gaps, longest)
		if longest < rto*9/10 || at.Before(end) {
			t.Errorf("stream %d: longest gap %v ending %v after the hold ended; want every stream stalled for the hold", i, longest, at.Sub(end))
		}
	}
	slices.Sort(gaps)
	t.Logf("hold %v: the %d streams' longest gaps between messages: %v .. %v", rto, streams, gaps[0], gaps[len(gaps)-1])
	if n := len(tr.Conns()); n != 1 {
		t.Errorf("%d connections", n)
	}
}
