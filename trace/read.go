package trace

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Limits on what Read accepts, so a bad file cannot take unbounded memory.
const (
	MaxLine   = 4 << 20 // octets in one JSON line
	MaxEvents = 1 << 20 // events in one trace
)

// Trace is a recorded trace: its Meta line and its events in order.
type Trace struct {
	Meta   Meta
	Events []Event
}

// Read parses a trace written by a Writer. It accepts traces of schema
// version Schema and ignores fields it does not know.
func Read(r io.Reader) (*Trace, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	t := &Trace{}
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		if line == 1 {
			if err := json.Unmarshal(b, &t.Meta); err != nil {
				return nil, fmt.Errorf("trace: line 1 (meta): %w", err)
			}
			if t.Meta.Schema != Schema {
				return nil, fmt.Errorf("trace: line 1: schema version %d, want %d (is this an h2rpc trace?)", t.Meta.Schema, Schema)
			}
			continue
		}
		if len(t.Events) == MaxEvents {
			return nil, fmt.Errorf("trace: more than %d events", MaxEvents)
		}
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("trace: line %d: %w", line, err)
		}
		t.Events = append(t.Events, e)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("trace: line %d longer than %d octets: %w", line+1, MaxLine, err)
		}
		return nil, fmt.Errorf("trace: %w", err)
	}
	if line == 0 {
		return nil, errors.New("trace: empty input")
	}
	return t, nil
}

// Conns returns the connection numbers that occur in t, in order.
func (t *Trace) Conns() []int {
	seen := map[int]bool{}
	var conns []int
	for _, e := range t.Events {
		if !seen[e.Conn] {
			seen[e.Conn] = true
			conns = append(conns, e.Conn)
		}
	}
	return conns
}
