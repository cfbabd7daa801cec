package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// logRecords is a slog.Handler keeping every record, for tests.
type logRecords struct {
	mu      sync.Mutex
	records []slog.Record // guarded by mu
	changed chan struct{} // capacity 1: a record was added
}

func newLogRecords() *logRecords { return &logRecords{changed: make(chan struct{}, 1)} }

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecords) WithGroup(string) slog.Handler            { return l }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r.Clone())
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return nil
}

// text renders a record as "LEVEL msg k=v k=v".
func text(r slog.Record) string {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	return b.String()
}

// find returns the first record at level whose text contains every one of
// want.
func (l *logRecords) find(level slog.Level, want ...string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.records {
		if r.Level != level {
			continue
		}
		s := text(r)
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(s, w)
		}
		if ok {
			return s, true
		}
	}
	return "", false
}

// wait waits up to a generous bound for a record like find's; the bound
// only limits a failing test.
func (l *logRecords) wait(t *testing.T, level slog.Level, want ...string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if s, ok := l.find(level, want...); ok {
			return s
		}
		select {
		case <-l.changed:
		case <-deadline:
			l.mu.Lock()
			var all []string
			for _, r := range l.records {
				all = append(all, text(r))
			}
			l.mu.Unlock()
			t.Fatalf("no %v record with %q; records:\n%s", level, want, strings.Join(all, "\n"))
			return ""
		}
	}
}

func (l *logRecords) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var all []string
	for _, r := range l.records {
		all = append(all, text(r))
	}
	return all
}

func TestServerLogsHandlerPanicWithStack(t *testing.T) {
	logs := newLogRecords()
	e := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		panic(fmt.Errorf("cannot go on with %q", req))
	}}, []ServerOption{ServerLogger(slog.New(logs))})
	var reply []byte
	st := wantCode(t, e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply), Unknown)
	if !strings.Contains(st.Message, `cannot go on with "x"`) {
		t.Errorf("status message %q does not say what panicked", st.Message)
	}
	logs.wait(t, slog.LevelError, "handler panicked", "method=/test.Echo/Unary", `cannot go on with "x"`, "stack=", "TestServerLogsHandlerPanicWithStack")
	// The server lives on, and so does the connection.
	st = wantCode(t, e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply), Unknown)
	if !strings.Contains(st.Message, `cannot go on with "x"`) {
		t.Errorf("second call: status message %q", st.Message)
	}
}

// failingCodec fails to unmarshal everything.
type failingCodec struct{ jsonCodec }

func (failingCodec) Name() string                       { return "proto" }
func (failingCodec) Unmarshal(data []byte, v any) error { return errFailingCodec }

var errFailingCodec = &Status{Code: DataLoss, Message: "failingCodec cannot decode"}

func TestServerLogsCodecFailures(t *testing.T) {
	logs := newLogRecords()
	e := newEnv(t, &echoServer{
		unary: func(ctx context.Context, req []byte) ([]byte, error) { return req, nil },
		stream: func(ss ServerStream) error {
			return ss.SendMsg(struct{ Name string }{"not a message DefaultCodec knows"})
		},
	}, []ServerOption{ServerLogger(slog.New(logs))})

	// A response DefaultCodec cannot marshal: the client sees INTERNAL, the
	// server's log says what to do.
	var reply []byte
	wantCode(t, e.cc.Invoke(context.Background(), "/test.Echo/ServerStream", []byte("x"), &reply), Internal)
	logs.wait(t, slog.LevelError, "method=/test.Echo/ServerStream", "DefaultCodec cannot marshal struct { Name string }", "ServerCodec")

	// A request the server's codec cannot unmarshal.
	logs2 := newLogRecords()
	srv := NewServer(ServerCodec(failingCodec{}), ServerLogger(slog.New(logs2)))
	srv.RegisterService(&echoDesc, &echoServer{unary: echoBack})
	cc := serveOn(t, srv)
	wantCode(t, cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply), Internal)
	logs2.wait(t, slog.LevelError, "method=/test.Echo/Unary", "failed to unmarshal the request", "failingCodec cannot decode")

	// A content-subtype without a codec is read with the proto one, and
	// the server says so.
	if err := e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply, CallCodec(rawCodec{})); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, slog.LevelWarn, `content-subtype=raw`, "method=/test.Echo/Unary")
}

// DefaultCodec's errors name what it takes and how to plug in a codec.
func TestDefaultCodecErrorsNameTheFix(t *testing.T) {
	_, err := DefaultCodec.Marshal(struct{}{})
	for _, want := range []string{"struct {}", "[]byte", "wire.Message", "encoding.BinaryMarshaler", "CallCodec", "WithCodec", "ServerCodec"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Marshal error %q does not mention %q", err, want)
		}
	}
	err = DefaultCodec.Unmarshal(nil, new(int))
	for _, want := range []string{"*int", "*[]byte", "wire.Message", "encoding.BinaryUnmarshaler", "CallCodec", "WithCodec", "ServerCodec"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Unmarshal error %q does not mention %q", err, want)
		}
	}
	// The client's error for a request it cannot marshal carries it.
	e := newEnv(t, &echoServer{unary: echoBack}, nil)
	var reply []byte
	st := wantCode(t, e.cc.Invoke(context.Background(), "/test.Echo/Unary", 42, &reply), Internal)
	if !strings.Contains(st.Message, "CallCodec") {
		t.Errorf("client error %q does not name the fix", st.Message)
	}
}

// A connection that breaks HTTP/2 is logged with its cause.
func TestServerLogsConnectionErrors(t *testing.T) {
	logs := newLogRecords()
	e := newEnv(t, &echoServer{unary: echoBack}, []ServerOption{ServerLogger(slog.New(logs))})
	nc, err := net.Dial("tcp", e.lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// An HTTP/1.1 request where the HTTP/2 preface belongs.
	if _, err := nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, slog.LevelWarn, "connection failed", "remote="+nc.LocalAddr().String(), "PROTOCOL_ERROR")

	// A client that goes away cleanly is a Debug line.
	var reply []byte
	if err := e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("x"), &reply); err != nil {
		t.Fatal(err)
	}
	e.cc.Close()
	logs.wait(t, slog.LevelDebug, "connection ended")
	for _, s := range logs.all() {
		if strings.HasPrefix(s, "ERROR") {
			t.Errorf("unexpected error record: %s", s)
		}
	}
}
