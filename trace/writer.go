package trace

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Writer writes a trace as JSON lines: the Meta line, then one Event per
// line. Events come from the Recorders it hands out, one per connection;
// it is safe for concurrent use and numbers the events in the order it
// writes them.
type Writer struct {
	mu    sync.Mutex
	bw    *bufio.Writer // guarded by mu
	enc   *json.Encoder // guarded by mu; writes to bw
	start time.Time     // with its monotonic reading
	seq   int           // guarded by mu
	conns int           // guarded by mu
	err   error         // guarded by mu: the first write error
	at    Endpoint      // where the trace is recorded
	echo  *bufio.Writer // guarded by mu: the text form of each event goes here too; nil: none
}

// NewWriter writes the Meta line of a trace recorded at at to w and
// returns a Writer for its events. Call Flush when done (and from time to
// time: events are buffered).
func NewWriter(w io.Writer, at Endpoint, label string) (*Writer, error) {
	tw := &Writer{bw: bufio.NewWriterSize(w, 64<<10), start: time.Now(), at: at}
	tw.enc = json.NewEncoder(tw.bw)
	m := Meta{Schema: Schema, At: at, Start: tw.start.UTC(), Label: label}
	if err := tw.enc.Encode(m); err != nil {
		return nil, fmt.Errorf("trace: writing the meta line: %w", err)
	}
	return tw, nil
}

// Conn returns a Recorder for a new connection seen at at (Client or
// Server for an endpoint, Proxy for a proxy).
func (w *Writer) Conn(at Endpoint) *Recorder {
	w.mu.Lock()
	w.conns++
	n := w.conns
	w.mu.Unlock()
	return newRecorder(w, n, at)
}

// emit stamps e with its sequence number and time and writes it.
func (w *Writer) emit(e *Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e.Seq = w.seq
	w.seq++
	e.T = int64(time.Since(w.start))
	if w.err == nil {
		w.err = w.enc.Encode(e)
	}
	if w.echo != nil {
		writeTextEvent(w.echo, w.at, e, true)
		w.echo.Flush() // as it happens: errors are the JSON side's to report
	}
}

// Echo makes w also write each event, as it is recorded, to out in the
// text form (see Text), each line prefixed with its connection number.
func (w *Writer) Echo(out io.Writer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.echo = bufio.NewWriter(out)
}

// Flush writes buffered events and reports the first error met writing.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	if w.err != nil {
		return fmt.Errorf("trace: %w", w.err)
	}
	return nil
}
