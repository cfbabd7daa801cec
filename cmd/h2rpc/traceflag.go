package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/trace"
)

// traceFile is the --trace flag of serve, h2serve and demo: a file to
// record every connection's frames to, as JSON lines, or, when its name
// ends in .svg or .html, drawn once the command ends.
type traceFile struct {
	path  string
	title string
	f     *os.File      // the JSON-lines file, when not drawing
	buf   *bytes.Buffer // the trace being recorded, when drawing
	w     *trace.Writer
}

func addTraceFlag(fs *flag.FlagSet, what string) *traceFile {
	t := &traceFile{}
	fs.StringVar(&t.path, "trace", "", "record the frames of "+what+" to `file`: JSON lines, or drawn when it ends in .svg or .html (see h2rpc trace)")
	return t
}

func (t *traceFile) drawing() bool {
	ext := strings.ToLower(filepath.Ext(t.path))
	return ext == ".svg" || ext == ".html" || ext == ".htm"
}

// start opens the trace, recorded at at; without --trace it does nothing.
func (t *traceFile) start(at trace.Endpoint, label string) error {
	if t.path == "" {
		return nil
	}
	t.title = label
	var out io.Writer
	if t.drawing() {
		t.buf = &bytes.Buffer{}
		out = t.buf
	} else {
		f, err := os.Create(t.path)
		if err != nil {
			return err
		}
		t.f, out = f, f
	}
	w, err := trace.NewWriter(out, at, label)
	if err != nil {
		if t.f != nil {
			t.f.Close()
		}
		return err
	}
	t.w = w
	return nil
}

// config returns cfg (a new Config if nil) set to trace every connection,
// or cfg itself without --trace.
func (t *traceFile) config(cfg *conn.Config) *conn.Config {
	if t.w == nil {
		return cfg
	}
	if cfg == nil {
		cfg = &conn.Config{}
	}
	w := t.w
	cfg.Trace = func(ci conn.ConnInfo) conn.Tracer { return w.Conn(trace.EndpointOf(ci.Client)) }
	return cfg
}

// finish writes out the trace: flushes the file, or draws the picture.
func (t *traceFile) finish() error {
	if t.w == nil {
		return nil
	}
	err := t.w.Flush()
	if t.f != nil {
		if cerr := t.f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	if err != nil {
		return err
	}
	tr, err := trace.Read(t.buf)
	if err != nil {
		return err
	}
	if len(tr.Events) == 0 {
		return errors.New("trace: no frames were recorded")
	}
	return writeDrawing(tr, t.path, false, &trace.Options{Title: t.title}, nil)
}
