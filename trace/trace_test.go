package trace_test

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
	"github.com/h2rpc/h2rpc/internal/leakcheck"
	"github.com/h2rpc/h2rpc/trace"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// grpcMsg is a gRPC length-prefixed message.
func grpcMsg(body string) []byte {
	b := []byte{0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(body)))
	return append(b, body...)
}

// unary returns the two directions of a unary gRPC call on stream 1,
// bytes as a client and a server would send them.
func unary(t testing.TB) (client, server [][]byte) {
	t.Helper()
	ce, se := hpack.NewEncoder(), hpack.NewEncoder()
	req := ce.AppendBlock(nil,
		hpack.Field{Name: ":method", Value: "POST"}, hpack.Field{Name: ":scheme", Value: "http"},
		hpack.Field{Name: ":path", Value: "/greet.Greeter/Greet"}, hpack.Field{Name: ":authority", Value: "x"},
		hpack.Field{Name: "content-type", Value: "application/grpc"},
		hpack.Field{Name: "authorization", Value: "Bearer secret"})
	var c0 []byte
	c0 = append(c0, frame.ClientPreface...)
	c0 = frame.AppendSettings(c0, frame.Setting{ID: frame.SettingInitialWindowSize, Val: 1 << 20})
	c1 := frame.AppendHeaders(nil, 1, false, true, req)
	msg := grpcMsg("Ada")
	c1 = frame.AppendData(c1, 1, false, msg[:3]) // the prefix split across frames
	c1 = frame.AppendData(c1, 1, true, msg[3:])
	s0 := frame.AppendSettings(nil, frame.Setting{ID: frame.SettingMaxConcurrentStreams, Val: 100})
	s0 = frame.AppendSettingsAck(s0)
	resp := se.AppendBlock(nil, hpack.Field{Name: ":status", Value: "200"}, hpack.Field{Name: "content-type", Value: "application/grpc"})
	s1 := frame.AppendHeaders(nil, 1, false, true, resp)
	s1 = frame.AppendData(s1, 1, false, grpcMsg("Hello Ada"))
	s1 = frame.AppendWindowUpdate(s1, 0, 8)
	tr := se.AppendBlock(nil, hpack.Field{Name: "grpc-status", Value: "0"})
	s1 = frame.AppendHeaders(s1, 1, true, true, tr)
	s1 = frame.AppendGoAway(s1, 1, frame.ErrCodeNo, []byte("bye"))
	return [][]byte{c0, c1}, [][]byte{s0, s1}
}

func record(t *testing.T, at trace.Endpoint, feed func(r *trace.Recorder)) *trace.Trace {
	t.Helper()
	var buf bytes.Buffer
	w, err := trace.NewWriter(&buf, at, "test")
	if err != nil {
		t.Fatal(err)
	}
	feed(w.Conn(at))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	tr, err := trace.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestRecordUnary(t *testing.T) {
	client, server := unary(t)
	// Feed byte by byte: frames split anywhere must decode the same.
	tr := record(t, trace.Proxy, func(r *trace.Recorder) {
		for _, b := range client[0] {
			r.Bytes(trace.Client, []byte{b})
		}
		r.Bytes(trace.Server, server[0])
		for _, b := range client[1] {
			r.Bytes(trace.Client, []byte{b})
		}
		r.Bytes(trace.Server, server[1])
	})
	var got []string
	for _, e := range tr.Events {
		got = append(got, string(e.From)+" "+e.Type+" "+strings.Join(e.Flags, ","))
	}
	want := []string{
		"client SETTINGS ", "server SETTINGS ", "server SETTINGS ACK",
		"client HEADERS END_HEADERS", "client DATA ", "client DATA END_STREAM",
		"server HEADERS END_HEADERS", "server DATA ", "server WINDOW_UPDATE ",
		"server HEADERS END_STREAM,END_HEADERS", "server GOAWAY ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i, e := range tr.Events {
		if e.Seq != i || e.Conn != 1 {
			t.Errorf("event %d: seq %d conn %d", i, e.Seq, e.Conn)
		}
		if i > 0 && e.T < tr.Events[i-1].T {
			t.Errorf("event %d: time goes back", i)
		}
	}
	h := tr.Events[3]
	fields := map[string]string{}
	for _, f := range h.Fields {
		fields[f.Name] = f.Value
	}
	if fields[":path"] != "/greet.Greeter/Greet" || fields["authorization"] != "[redacted]" {
		t.Errorf("request fields %v", h.Fields)
	}
	// The message prefix was split 3+2 across the two DATA frames: its
	// length shows on the frame where the prefix completes.
	if m := tr.Events[4].Msgs; m != nil {
		t.Errorf("first DATA msgs %v, want none", m)
	}
	if m := tr.Events[5].Msgs; len(m) != 1 || m[0] != 3 {
		t.Errorf("second DATA msgs %v, want [3]", m)
	}
	if m := tr.Events[7].Msgs; len(m) != 1 || m[0] != 9 {
		t.Errorf("response DATA msgs %v, want [9]", m)
	}
	// Credit: the client sent 8 octets on a 65535 window; the server's
	// WINDOW_UPDATE gave them back. The client's SETTINGS raised the
	// server's initial stream window to 1 MiB; the response took 14.
	wu := tr.Events[8].Window
	if wu.ClientConn != 65535 || wu.ServerConn != 65535-14 {
		t.Errorf("window after WINDOW_UPDATE: %+v", wu)
	}
	d := tr.Events[7].Window
	if d.ServerStream == nil || *d.ServerStream != 1<<20-14 || d.ClientStream == nil || *d.ClientStream != 65535-8 {
		t.Errorf("stream windows after response DATA: %+v", d)
	}
	if g := tr.Events[10]; g.Code != "NO_ERROR" || g.LastStream != 1 || g.Debug != "bye" {
		t.Errorf("GOAWAY %+v", g)
	}
	if s := tr.Events[1].Settings; len(s) != 1 || s[0].ID != "MAX_CONCURRENT_STREAMS" || s[0].Value != 100 {
		t.Errorf("server SETTINGS %+v", s)
	}
}

// TestEndpointHooks records the same call through TraceWrite and
// TraceRead, as a connection's hook would, and gets the same frames.
func TestEndpointHooks(t *testing.T) {
	client, server := unary(t)
	tr := record(t, trace.Client, func(r *trace.Recorder) {
		r.TraceWrite(client[0])
		for _, b := range server {
			fr := frame.NewReader(bytes.NewReader(b))
			for {
				f, err := fr.ReadFrame()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				r.TraceRead(f)
			}
		}
		r.TraceWrite(client[1])
	})
	if len(tr.Events) != 11 {
		t.Fatalf("%d events, want 11", len(tr.Events))
	}
	var text bytes.Buffer
	if err := trace.Text(&text, tr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"send SETTINGS frame <length=6, flags=0x00, stream_id=0>",
		"[SETTINGS_INITIAL_WINDOW_SIZE:1048576]",
		"recv SETTINGS frame <length=0, flags=0x01, stream_id=0>",
		"; END_STREAM | END_HEADERS",
		":path: /greet.Greeter/Greet",
		"authorization: [redacted]",
		"(grpc message, length=9)",
		"(last_stream_id=1, error_code=NO_ERROR, opaque_data(3)=[bye])",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text view lacks %q:\n%s", want, text.String())
		}
	}
}

// TestSVG checks the drawing is well-formed XML with one block per frame
// and the marks the events call for.
func TestSVG(t *testing.T) {
	client, server := unary(t)
	tr := record(t, trace.Proxy, func(r *trace.Recorder) {
		r.Bytes(trace.Client, client[0])
		r.Bytes(trace.Server, server[0])
		r.Bytes(trace.Client, client[1])
		r.Bytes(trace.Server, server[1])
	})
	tr.Events = append(tr.Events, trace.Event{Conn: 1, From: trace.Client, Type: "RST_STREAM", Stream: 3, Len: 4, Code: "CANCEL"})
	var svg bytes.Buffer
	if err := trace.SVG(&svg, tr, &trace.Options{Title: "unary <call>"}); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg.Bytes()))
	blocks, titles := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "g":
				blocks++
			case "title":
				titles++
			}
		}
	}
	if blocks != len(tr.Events) {
		t.Errorf("%d blocks for %d events", blocks, len(tr.Events))
	}
	s := svg.String()
	for _, want := range []string{"unary &lt;call&gt;", ">H1<", ">D1<", ">GA<", ">RST<", "stroke=\"#d62728\"", "client credit"} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	var page bytes.Buffer
	if err := trace.HTML(&page, tr, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(page.String(), "<!doctype html>") || !strings.Contains(page.String(), "<svg") || !strings.Contains(page.String(), "recv") && !strings.Contains(page.String(), "c-&gt;s") {
		t.Errorf("HTML page lacks its parts")
	}
}

// TestBadBytes feeds garbage: the recorder stops decoding with an ERROR
// event and never panics or grows without bound.
func TestBadBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		tr := record(t, trace.Proxy, func(r *trace.Recorder) {
			b := make([]byte, rng.IntN(200))
			for j := range b {
				b[j] = byte(rng.UintN(256))
			}
			if i%2 == 0 {
				b = append([]byte(frame.ClientPreface), b...)
			}
			r.Bytes(trace.Client, b)
			r.Bytes(trace.Server, b)
			r.Bytes(trace.Server, b)
		})
		for _, e := range tr.Events {
			if e.Type == "ERROR" && e.Error == "" {
				t.Fatal("ERROR event without a reason")
			}
		}
		var out bytes.Buffer
		if err := trace.SVG(&out, tr, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadErrors(t *testing.T) {
	for _, in := range []string{"", "{}\n", `{"h2rpc_trace":2}` + "\n", `{"h2rpc_trace":1}` + "\n{bad\n", strings.Repeat("x", trace.MaxLine+1)} {
		if _, err := trace.Read(strings.NewReader(in)); err == nil {
			t.Errorf("Read(%.20q) succeeded", in)
		}
	}
}

// TestEcho checks the live text form a Writer echoes.
func TestEcho(t *testing.T) {
	client, server := unary(t)
	var echo bytes.Buffer
	w, err := trace.NewWriter(io.Discard, trace.Proxy, "echo")
	if err != nil {
		t.Fatal(err)
	}
	w.Echo(&echo)
	r := w.Conn(trace.Proxy)
	r.Bytes(trace.Client, client[0])
	if !strings.Contains(echo.String(), "#1 c->s SETTINGS frame <length=6, flags=0x00, stream_id=0>") {
		t.Fatalf("echo after the client's SETTINGS:\n%s", echo.String())
	}
	r.Bytes(trace.Server, server[0])
	if !strings.Contains(echo.String(), "#1 s->c SETTINGS frame <length=0, flags=0x01, stream_id=0>") {
		t.Errorf("echo after the server's frames:\n%s", echo.String())
	}
}
