package conn_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
)

// headerTracer records the headers of the frames a connection writes and
// reads, one line each.
type headerTracer struct {
	mu          sync.Mutex
	wrote, read []string
	preface     bool
}

func line(h frame.Header) string {
	return fmt.Sprintf("%v stream=%d len=%d flags=%#x", h.Type, h.StreamID, h.Length, uint8(h.Flags))
}

func (tr *headerTracer) TraceWrite(b []byte) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if rest, ok := bytes.CutPrefix(b, []byte(frame.ClientPreface)); ok {
		tr.preface = true
		b = rest
	}
	fr := frame.NewReader(bytes.NewReader(b))
	fr.SetMaxFrameSize(frame.MaxAllowedFrameSize)
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return
		}
		if err != nil {
			tr.wrote = append(tr.wrote, "unparsable batch: "+err.Error())
			return
		}
		tr.wrote = append(tr.wrote, line(f.FrameHeader()))
	}
}

func (tr *headerTracer) TraceRead(f frame.Frame) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.read = append(tr.read, line(f.FrameHeader()))
}

// TestTracerSeesEveryFrame compares what a client connection's Tracer
// reports with the frames the scripted server peer read and wrote.
func TestTracerSeesEveryFrame(t *testing.T) {
	tr := &headerTracer{}
	var info conn.ConnInfo
	cfg := &conn.Config{Trace: func(ci conn.ConnInfo) conn.Tracer { info = ci; return tr }}
	c, p := startClient(t, cfg)
	var peerSaw, peerSent []string
	// The handshake's frames, which startClient's peer consumed, are
	// counted from the tracer itself; from here on both sides are compared.
	tr.mu.Lock()
	handshakeWrites, handshakeReads := len(tr.wrote), len(tr.read)
	tr.mu.Unlock()

	st, err := c.OpenStream(context.Background(), request("/x"), []byte("hello"), conn.EndStream)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		peerSaw = append(peerSaw, line(p.ReadFrame().FrameHeader()))
	}
	p.WriteHeaders(st.ID(), false, status200...)
	p.WriteData(st.ID(), false, []byte("hi"))
	p.WriteHeaders(st.ID(), true, trailerOK...)
	if _, err := st.ReadHeaders(); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(st); err != nil || string(b) != "hi" {
		t.Fatalf("body %q, %v", b, err)
	}
	c.Close()
	<-c.Done()
	// The peer's reader may still be queueing the last frame it read (the
	// GOAWAY): Close waits for it to end before the queue is taken.
	p.Close()
	for _, f := range p.Drain() {
		peerSaw = append(peerSaw, line(f.FrameHeader()))
	}
	// What the peer wrote after the handshake, as its reader parsed it.
	peerSent = []string{
		fmt.Sprintf("HEADERS stream=%d", st.ID()), fmt.Sprintf("DATA stream=%d len=2", st.ID()), fmt.Sprintf("HEADERS stream=%d", st.ID()),
	}

	tr.mu.Lock()
	defer tr.mu.Unlock()
	if !info.Client || info.Remote == nil {
		t.Errorf("ConnInfo %+v", info)
	}
	if !tr.preface || handshakeWrites < 1 || !strings.HasPrefix(tr.wrote[0], "SETTINGS stream=0") {
		t.Errorf("the first batch: preface %v, frames %q", tr.preface, tr.wrote)
	}
	if got, want := strings.Join(tr.wrote[handshakeWrites:], "\n"), strings.Join(peerSaw, "\n"); got != want {
		t.Errorf("TraceWrite saw:\n%s\nthe peer read:\n%s", got, want)
	}
	read := tr.read[handshakeReads:]
	var readNoAck []string
	for _, l := range read {
		if !strings.HasPrefix(l, "SETTINGS") && !strings.HasPrefix(l, "WINDOW_UPDATE") {
			readNoAck = append(readNoAck, l)
		}
	}
	if len(readNoAck) != len(peerSent) {
		t.Fatalf("TraceRead saw %q, the peer sent %q", read, peerSent)
	}
	for i, want := range peerSent {
		if !strings.HasPrefix(readNoAck[i], want) {
			t.Errorf("TraceRead frame %d: %q, want %q", i, readNoAck[i], want)
		}
	}
}
