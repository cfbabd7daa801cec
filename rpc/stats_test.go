package rpc

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// statsRecorder is a StatsHandler that writes each event as a line.
type statsRecorder struct {
	mu    sync.Mutex
	lines []string
	conns []string
	ends  chan struct{} // a token per CallEnd
}

func newStatsRecorder() *statsRecorder { return &statsRecorder{ends: make(chan struct{}, 100)} }

type tagKey struct{}

func (r *statsRecorder) TagCall(ctx context.Context, info *CallInfo) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	if info.Client {
		// What a tracer does: propagate a context in the request metadata.
		ctx = AppendToOutgoingContext(ctx, "x-tag", "t-1")
	} else {
		r.lines = append(r.lines, "tag "+info.FullMethod+" x-tag="+strings.Join(info.Metadata.Get("x-tag"), ","))
	}
	return context.WithValue(ctx, tagKey{}, info.FullMethod)
}

func (r *statsRecorder) HandleCall(ctx context.Context, ev *CallEvent) {
	if ctx.Value(tagKey{}) != ev.FullMethod {
		panic("HandleCall without TagCall's context")
	}
	line := ev.Kind.String()
	switch ev.Kind {
	case InPayload, OutPayload:
		line += fmt.Sprintf(" %d/%d", ev.Length, ev.WireLength)
		if ev.Compressed {
			line += " gzip"
		}
	case InHeader, OutHeader, InTrailer, OutTrailer:
		if v := ev.Metadata.Get("x-md"); len(v) > 0 {
			line += " x-md=" + v[0]
		}
	case CallEnd:
		line += " " + ev.Status.Code.String()
		if ev.Duration <= 0 {
			line += " no-duration"
		}
	}
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	if ev.Kind == CallEnd {
		r.ends <- struct{}{}
	}
}

func (r *statsRecorder) HandleConn(ev *ConnEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conns = append(r.conns, fmt.Sprintf("begin=%v client=%v", ev.Begin, ev.Client))
}

// take returns the lines of a call so far, once it ended.
func (r *statsRecorder) take() string {
	<-r.ends // the server may report the end after the client saw it
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.Join(r.lines, "\n")
	r.lines = nil
	return s
}

func TestStatsUnary(t *testing.T) {
	cr, sr := newStatsRecorder(), newStatsRecorder()
	impl := &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		if ctx.Value(tagKey{}) != "/test.Echo/Unary" {
			return nil, Errorf(Internal, "the handler does not run under TagCall's context")
		}
		SetHeader(ctx, Pairs("x-md", "h"))
		SetTrailer(ctx, Pairs("x-md", "t"))
		return append(req, '!'), nil
	}}
	e := newEnv(t, impl, []ServerOption{ServerStats(sr)}, WithStats(cr))
	var reply []byte
	if err := e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("hello"), &reply); err != nil {
		t.Fatal(err)
	}
	wantClient := "begin\nout-header\nout-payload 5/10\nin-header x-md=h\nin-payload 6/11\nin-trailer x-md=t\nend OK"
	if got := cr.take(); got != wantClient {
		t.Errorf("client events:\n%s\nwant:\n%s", got, wantClient)
	}
	wantServer := "tag /test.Echo/Unary x-tag=t-1\nbegin\nin-header\nin-payload 5/10\nout-header x-md=h\nout-payload 6/11\nout-trailer x-md=t\nend OK"
	if got := sr.take(); got != wantServer {
		t.Errorf("server events:\n%s\nwant:\n%s", got, wantServer)
	}

	// A failing call ends with its status on both sides; gzip shows in
	// the payload sizes.
	impl.unary = func(ctx context.Context, req []byte) ([]byte, error) { return nil, Errorf(NotFound, "no") }
	err := e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte(strings.Repeat("z", 1000)), &reply, UseCompressor("gzip"))
	wantCode(t, err, NotFound)
	got := cr.take()
	if !strings.Contains(got, "out-payload 1000/") || !strings.Contains(got, " gzip\n") || !strings.HasSuffix(got, "end NotFound") {
		t.Errorf("client events of a failed gzip call:\n%s", got)
	}
	if got := sr.take(); !strings.Contains(got, "in-payload 1000/") || !strings.HasSuffix(got, "out-trailer\nend NotFound") {
		t.Errorf("server events of a failed call:\n%s", got)
	}
	e.cc.Close()
	e.srv.Stop()
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if len(cr.conns) < 1 || cr.conns[0] != "begin=true client=true" {
		t.Errorf("client conn events %v", cr.conns)
	}
}

func TestStatsStreaming(t *testing.T) {
	cr, sr := newStatsRecorder(), newStatsRecorder()
	impl := &echoServer{stream: func(ss ServerStream) error {
		for {
			var m []byte
			if err := ss.RecvMsg(&m); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			if err := ss.SendMsg(m); err != nil {
				return err
			}
		}
	}}
	e := newEnv(t, impl, []ServerOption{ServerStats(sr)}, WithStats(cr))
	cs, err := e.cc.NewStream(context.Background(), bidiDesc, "/test.Echo/Bidi")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"a", "bb", "ccc"} {
		if err := cs.SendMsg([]byte(m)); err != nil {
			t.Fatal(err)
		}
		var r []byte
		if err := cs.RecvMsg(&r); err != nil {
			t.Fatal(err)
		}
	}
	cs.CloseSend()
	var r []byte
	if err := cs.RecvMsg(&r); err != io.EOF {
		t.Fatal(err)
	}
	want := "begin\nout-header\nout-payload 1/6\nin-header\nin-payload 1/6\nout-payload 2/7\nin-payload 2/7\nout-payload 3/8\nin-payload 3/8\nin-trailer\nend OK"
	if got := cr.take(); got != want {
		t.Errorf("client events:\n%s\nwant:\n%s", got, want)
	}
	got := sr.take()
	if strings.Count(got, "in-payload") != 3 || strings.Count(got, "out-payload") != 3 || !strings.HasSuffix(got, "end OK") {
		t.Errorf("server events:\n%s", got)
	}
}
