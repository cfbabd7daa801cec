// Package h2test is a scripted HTTP/2 peer for tests: it plays the other end
// of a connection under test frame by frame, over an in-memory net.Pipe.
//
// A test writes frames (WriteFrames, WriteHeaders, WriteData, ...) and
// states what it expects next (WantFrame, WantHeaders, WantData, WantIdle,
// WantClosed). The peer reads on a goroutine of its own into a queue, so the
// connection under test never blocks on its writes unless the test calls
// StopReading.
//
// Run tests inside testing/synctest.Test: the waits then use the bubble's
// fake clock, which only advances when every goroutine is blocked, so
// "nothing arrives" (WantIdle) and "something arrives" are decided without
// real time and without flakiness. Outside a bubble the waits are real
// (Timeout, IdleWait).
package h2test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	xhpack "golang.org/x/net/http2/hpack"

	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

// Peer is the scripted end of a connection.
type Peer struct {
	t testing.TB
	// Conn is the peer's end of the pipe.
	Conn net.Conn
	// Timeout bounds how long a Want* method waits for a frame (default 10s;
	// fake time inside a synctest bubble).
	Timeout time.Duration
	// IdleWait is how long WantIdle watches for frames (default 100ms).
	IdleWait time.Duration
	// Enc encodes the header blocks the peer sends; Dec decodes those it
	// receives (no HTTP rule checks: the peer sees what was sent).
	Enc *hpack.Encoder
	Dec *xhpack.Decoder

	readerDone chan struct{}
	mu         sync.Mutex
	queue      []frame.Frame // frames read and not yet taken; guarded by mu
	readErr    error         // why reading stopped; guarded by mu
	notify     chan struct{} // capacity 1: the queue or readErr changed
	gate       chan struct{} // holds a token while reading is allowed
	closeOnce  sync.Once
}

// NewPipe returns the two ends of an in-memory connection: conn for the
// endpoint under test and a Peer for the script. The Peer is closed when the
// test ends.
func NewPipe(t testing.TB) (conn net.Conn, p *Peer) {
	a, b := net.Pipe()
	return a, New(t, b)
}

// New returns a Peer that speaks over nc, reading on a goroutine of its own
// until nc is closed.
func New(t testing.TB, nc net.Conn) *Peer {
	p := &Peer{
		t:          t,
		Conn:       nc,
		Timeout:    10 * time.Second,
		IdleWait:   100 * time.Millisecond,
		Enc:        hpack.NewEncoder(),
		Dec:        xhpack.NewDecoder(4096, nil),
		readerDone: make(chan struct{}),
		notify:     make(chan struct{}, 1),
		gate:       make(chan struct{}, 1),
	}
	p.gate <- struct{}{}
	go p.readLoop()
	t.Cleanup(p.Close)
	return p
}

// Close closes the peer's end and waits for its reader to stop.
func (p *Peer) Close() {
	p.closeOnce.Do(func() {
		p.Conn.Close()
		p.ResumeReading()
		<-p.readerDone
	})
}

func (p *Peer) readLoop() {
	defer close(p.readerDone)
	fr := frame.NewReader(p.Conn)
	fr.SetMaxFrameSize(frame.MaxAllowedFrameSize)
	for {
		<-p.gate // paused by StopReading
		// Put the token back without blocking: Close's ResumeReading may
		// have put one meanwhile, and must not leave us stuck here.
		select {
		case p.gate <- struct{}{}:
		default:
		}
		f, err := fr.ReadFrame()
		var se *frame.StreamError
		if err != nil && !errors.As(err, &se) {
			p.mu.Lock()
			p.readErr = err
			p.mu.Unlock()
			p.signal()
			return
		}
		p.mu.Lock()
		p.queue = append(p.queue, Clone(f))
		p.mu.Unlock()
		p.signal()
	}
}

func (p *Peer) signal() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// StopReading makes the peer stop reading from the connection after the
// frame it is reading now: the endpoint under test then blocks in Write once
// the pipe is full (net.Pipe has no buffer), like a peer that never reads.
func (p *Peer) StopReading() { <-p.gate }

// ResumeReading undoes StopReading.
func (p *Peer) ResumeReading() {
	select {
	case p.gate <- struct{}{}:
	default:
	}
}

// WriteRaw writes b as is.
func (p *Peer) WriteRaw(b []byte) {
	p.t.Helper()
	if _, err := p.Conn.Write(b); err != nil {
		p.t.Fatalf("h2test: write: %v", err)
	}
}

// TryWriteRaw writes b and returns the error, for writes that may race
// with the endpoint closing the connection.
func (p *Peer) TryWriteRaw(b []byte) error {
	_, err := p.Conn.Write(b)
	return err
}

// WriteFrames encodes frames with their AppendTo methods (no validation: a
// script can break every rule) and writes them in one Write.
func (p *Peer) WriteFrames(frames ...frame.Frame) {
	p.t.Helper()
	var b []byte
	for _, f := range frames {
		b = f.AppendTo(b)
	}
	p.WriteRaw(b)
}

// WritePreface writes the client connection preface.
func (p *Peer) WritePreface() { p.t.Helper(); p.WriteRaw([]byte(frame.ClientPreface)) }

// WriteSettings writes a SETTINGS frame.
func (p *Peer) WriteSettings(settings ...frame.Setting) {
	p.t.Helper()
	p.WriteRaw(frame.AppendSettings(nil, settings...))
}

// WriteSettingsAck writes a SETTINGS acknowledgement.
func (p *Peer) WriteSettingsAck() { p.t.Helper(); p.WriteRaw(frame.AppendSettingsAck(nil)) }

// EncodeHeaders encodes one header block with the peer's encoder.
func (p *Peer) EncodeHeaders(fields ...hpack.Field) []byte {
	return p.Enc.AppendBlock(nil, fields...)
}

// WriteHeaders writes fields as one HEADERS frame (END_HEADERS set).
func (p *Peer) WriteHeaders(streamID uint32, endStream bool, fields ...hpack.Field) {
	p.t.Helper()
	p.WriteRaw(frame.AppendHeaders(nil, streamID, endStream, true, p.EncodeHeaders(fields...)))
}

// WriteData writes one DATA frame.
func (p *Peer) WriteData(streamID uint32, endStream bool, data []byte) {
	p.t.Helper()
	p.WriteRaw(frame.AppendData(nil, streamID, endStream, data))
}

// next waits for the next frame; it returns nil and the read error once
// reading has stopped and the queue is empty, or nil, nil after Timeout.
func (p *Peer) next(wait time.Duration) (frame.Frame, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		p.mu.Lock()
		if len(p.queue) > 0 {
			f := p.queue[0]
			p.queue[0] = nil
			p.queue = p.queue[1:]
			p.mu.Unlock()
			return f, nil
		}
		err := p.readErr
		p.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-p.notify:
		case <-timer.C:
			return nil, nil
		}
	}
}

// ReadFrame returns the next frame, failing the test if none arrives within
// Timeout or the connection closed.
func (p *Peer) ReadFrame() frame.Frame {
	p.t.Helper()
	f, err := p.next(p.Timeout)
	if err != nil {
		p.t.Fatalf("h2test: want a frame, connection closed: %v", err)
	}
	if f == nil {
		p.t.Fatalf("h2test: want a frame, none after %v", p.Timeout)
	}
	return f
}

// Normalize returns f as a Reader would return it: encoded and parsed
// again, so Length and the parsed forms of every field are filled in.
func Normalize(f frame.Frame) frame.Frame {
	b := f.AppendTo(nil)
	fr := frame.NewReader(bytes.NewReader(b))
	fr.SetMaxFrameSize(frame.MaxAllowedFrameSize)
	g, err := fr.ReadFrame()
	if g == nil {
		panic(fmt.Sprintf("h2test: cannot normalize %T: %v", f, err))
	}
	return Clone(g)
}

// WantFrame reads the next frame and fails the test, naming reason, if it
// differs from want (compared after Normalize).
func (p *Peer) WantFrame(reason string, want frame.Frame) {
	p.t.Helper()
	got := p.ReadFrame()
	if d := Diff(Normalize(want), got); d != "" {
		p.t.Fatalf("%s: unexpected frame:\n%s", reason, d)
	}
}

// WantType reads the next frame and fails the test unless it has type t.
func (p *Peer) WantType(reason string, t frame.Type) frame.Frame {
	p.t.Helper()
	f := p.ReadFrame()
	if f.FrameHeader().Type != t {
		p.t.Fatalf("%s: got %v frame (%+v), want %v", reason, f.FrameHeader().Type, f, t)
	}
	return f
}

// ReadHeaders reads a HEADERS frame and its CONTINUATION frames and
// decodes the block.
func (p *Peer) ReadHeaders(reason string) (h frame.Header, fields []hpack.Field) {
	p.t.Helper()
	f := p.WantType(reason, frame.TypeHeaders).(*frame.HeadersFrame)
	block := append([]byte(nil), f.BlockFragment...)
	ended := f.HeadersEnded()
	for !ended {
		c := p.WantType(reason+" (CONTINUATION)", frame.TypeContinuation).(*frame.ContinuationFrame)
		block = append(block, c.BlockFragment...)
		ended = c.HeadersEnded()
	}
	fields, err := p.Dec.DecodeFull(block)
	if err != nil {
		p.t.Fatalf("%s: decoding the header block: %v", reason, err)
	}
	return f.Header, fields
}

// WantHeaders reads a header block and fails the test unless it is on
// streamID, has END_STREAM as endStream says, and holds want.
func (p *Peer) WantHeaders(reason string, streamID uint32, endStream bool, want []hpack.Field) {
	p.t.Helper()
	h, got := p.ReadHeaders(reason)
	if h.StreamID != streamID || h.Flags.Has(frame.FlagEndStream) != endStream {
		p.t.Fatalf("%s: HEADERS on stream %d END_STREAM=%v, want stream %d END_STREAM=%v",
			reason, h.StreamID, h.Flags.Has(frame.FlagEndStream), streamID, endStream)
	}
	if d := Diff(want, got); d != "" {
		p.t.Fatalf("%s: header fields:\n%s", reason, d)
	}
}

// WantData reads a DATA frame and fails the test unless it matches.
func (p *Peer) WantData(reason string, streamID uint32, endStream bool, data []byte) {
	p.t.Helper()
	p.WantFrame(reason, &frame.DataFrame{
		Header: frame.Header{Type: frame.TypeData, StreamID: streamID, Flags: flagIf(endStream, frame.FlagEndStream)},
		Data:   data,
	})
}

// WantRST reads a RST_STREAM frame and fails the test unless it matches.
func (p *Peer) WantRST(reason string, streamID uint32, code frame.ErrCode) {
	p.t.Helper()
	p.WantFrame(reason, &frame.RSTStreamFrame{
		Header: frame.Header{Type: frame.TypeRSTStream, StreamID: streamID},
		Code:   code,
	})
}

// WantGoAway reads frames until a GOAWAY (failing on the way if the
// connection closes first) and fails the test unless its code is code. It
// returns the frame.
func (p *Peer) WantGoAway(reason string, code frame.ErrCode) *frame.GoAwayFrame {
	p.t.Helper()
	for {
		f := p.ReadFrame()
		if g, ok := f.(*frame.GoAwayFrame); ok {
			if g.Code != code {
				p.t.Fatalf("%s: GOAWAY %v (%q), want %v", reason, g.Code, g.DebugData, code)
			}
			return g
		}
	}
}

// WantIdle fails the test if a frame arrives within IdleWait.
func (p *Peer) WantIdle(reason string) {
	p.t.Helper()
	f, err := p.next(p.IdleWait)
	if f != nil {
		p.t.Fatalf("%s: want no frame, got %v %+v", reason, f.FrameHeader().Type, f)
	}
	if err != nil {
		p.t.Fatalf("%s: want no frame, connection closed: %v", reason, err)
	}
}

// WantClosed fails the test unless the endpoint closes the connection
// within Timeout with no further frame.
func (p *Peer) WantClosed(reason string) {
	p.t.Helper()
	f, err := p.next(p.Timeout)
	if f != nil {
		p.t.Fatalf("%s: want the connection closed, got %v %+v", reason, f.FrameHeader().Type, f)
	}
	if err == nil {
		p.t.Fatalf("%s: want the connection closed, still open after %v", reason, p.Timeout)
	}
	if err != io.EOF && !errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, net.ErrClosed) {
		p.t.Logf("%s: connection ended with %v", reason, err)
	}
}

// Drain discards the frames received so far and returns them.
func (p *Peer) Drain() []frame.Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.queue
	p.queue = nil
	return q
}

// ClientHandshake plays a client's side of the connection preface against
// a server under test: it sends the preface and SETTINGS, expects the
// server's SETTINGS (returned), acknowledges it and expects the server's
// ACK. A WINDOW_UPDATE on stream 0 on the way is returned too (0 if none).
func (p *Peer) ClientHandshake(settings ...frame.Setting) (server *frame.SettingsFrame, connWindowIncrement uint32) {
	p.t.Helper()
	p.WritePreface()
	p.WriteSettings(settings...)
	return p.finishHandshake("client handshake")
}

// ServerHandshake plays a server's side against a client under test (use a
// Peer from NewClientPipe, which consumes the client preface): it sends
// SETTINGS, expects the client's SETTINGS (returned), acknowledges it and
// expects the client's ACK.
func (p *Peer) ServerHandshake(settings ...frame.Setting) (client *frame.SettingsFrame, connWindowIncrement uint32) {
	p.t.Helper()
	p.WriteSettings(settings...)
	return p.finishHandshake("server handshake")
}

func (p *Peer) finishHandshake(reason string) (*frame.SettingsFrame, uint32) {
	p.t.Helper()
	var settings *frame.SettingsFrame
	var inc uint32
	acked := false
	for settings == nil || !acked {
		switch f := p.ReadFrame().(type) {
		case *frame.SettingsFrame:
			if f.IsAck() {
				acked = true
				continue
			}
			if settings != nil {
				p.t.Fatalf("%s: second SETTINGS before the ACK", reason)
			}
			settings = f
			p.WriteSettingsAck()
		case *frame.WindowUpdateFrame:
			if f.StreamID != 0 {
				p.t.Fatalf("%s: WINDOW_UPDATE on stream %d", reason, f.StreamID)
			}
			inc += f.Increment
		default:
			p.t.Fatalf("%s: unexpected %v frame %+v", reason, f.FrameHeader().Type, f)
		}
	}
	return settings, inc
}

// NewClientPipe is NewPipe for testing a client: the peer plays the server
// and first consumes the 24-byte client preface the client writes ahead of
// its frames.
func NewClientPipe(t testing.TB) (conn net.Conn, p *Peer) {
	a, b := net.Pipe()
	pr := &prefaceReader{Conn: b}
	return a, New(t, pr)
}

// prefaceReader checks and strips the client preface from the start of
// the stream, reporting a mismatch as a read error.
type prefaceReader struct {
	net.Conn
	seen int
}

func (r *prefaceReader) Read(b []byte) (int, error) {
	for r.seen < len(frame.ClientPreface) {
		buf := make([]byte, len(frame.ClientPreface)-r.seen)
		n, err := r.Conn.Read(buf)
		if string(buf[:n]) != frame.ClientPreface[r.seen:r.seen+n] {
			return 0, fmt.Errorf("h2test: bad client preface %q", buf[:n])
		}
		r.seen += n
		if err != nil {
			return 0, err
		}
	}
	return r.Conn.Read(b)
}

func flagIf(cond bool, f frame.Flags) frame.Flags {
	if cond {
		return f
	}
	return 0
}
