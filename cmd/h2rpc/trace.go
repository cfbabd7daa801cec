package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/h2rpc/h2rpc/trace"
)

func init() {
	register("trace", "record HTTP/2 frames through a proxy, or draw a recorded trace as SVG, HTML or text", runTrace)
}

// runTrace is `h2rpc trace`. With -listen and -upstream it is a recording
// proxy: every connection accepted on -listen is relayed, unchanged, to
// -upstream, and the frames both ways are written to -out as a JSON-lines
// trace until SIGINT or SIGTERM (it prints the listening address on stdout
// first); with -text it prints each frame on stdout as it passes, as
// nghttp -v does. With -in it draws a recorded trace: as an SVG or HTML page when
// -out ends in .svg or .html, as text (one line per frame, as nghttp -v
// prints) with -text or when there is no -out.
func runTrace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.Usage = func() {
		o := fs.Output()
		fmt.Fprintln(o, "usage: h2rpc trace [flags]")
		fmt.Fprintln(o, "  record: h2rpc trace -listen host:port -upstream host:port [-out trace.jsonl] [-text]")
		fmt.Fprintln(o, "  draw:   h2rpc trace -in trace.jsonl [-out picture.svg|page.html] [-text]")
		fmt.Fprintln(o, "Records the HTTP/2 frames between any h2c client and server through a proxy, or draws a")
		fmt.Fprintln(o, "recorded trace (from this proxy, or from --trace on serve, h2serve and demo) as a sequence")
		fmt.Fprintln(o, "diagram or as text. The trace format is described in docs/observability.md.")
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "", "proxy: `host:port` to accept h2c connections on (port 0 picks a free one)")
	upstream := fs.String("upstream", "", "proxy: `host:port` of the server to relay them to")
	in := fs.String("in", "", "draw: the recorded trace `file` (JSON lines)")
	out := fs.String("out", "", "proxy: the trace `file` to write (default trace.jsonl); draw: the .svg or .html file to write")
	text := fs.Bool("text", false, "draw: as text, one entry per frame, on stdout (or -out); proxy: print each frame as it passes (then -out is written only if given)")
	title := fs.String("title", "", "draw: the drawing's title (default: the trace's label)")
	perRow := fs.Int("per-row", 0, "draw: frames per row of the pipe (0: 36)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	usage := func(w io.Writer) { fs.SetOutput(w); fs.Usage() }
	switch {
	case *listen != "" || *upstream != "":
		if *listen == "" || *upstream == "" || *in != "" {
			return usageError(stderr, "h2rpc trace: the proxy needs both -listen and -upstream, and no -in", usage)
		}
		if *out == "" && !*text {
			*out = "trace.jsonl"
		}
		return traceProxy(ctx, *listen, *upstream, *out, *text, stdout)
	case *in != "":
		return drawTrace(*in, *out, *text, &trace.Options{Title: *title, PerRow: *perRow}, stdout)
	}
	return usageError(stderr, "h2rpc trace: give -listen and -upstream to record, or -in to draw", usage)
}

// traceProxy relays listen to upstream, recording to the file out, until
// ctx ends.
func traceProxy(ctx context.Context, listen, upstream, out string, text bool, stdout io.Writer) error {
	var sink io.Writer = io.Discard
	var f *os.File
	if out != "" {
		var err error
		if f, err = os.Create(out); err != nil {
			return err
		}
		defer f.Close()
		sink = f
	}
	w, err := trace.NewWriter(sink, trace.Proxy, "h2rpc trace -listen "+listen+" -upstream "+upstream)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, ln.Addr().String())
	if text {
		w.Echo(stdout)
	}
	var d net.Dialer
	dial := func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", upstream) }
	err = trace.Relay(ctx, ln, dial, w)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// drawTrace reads the trace in and draws it to out (stdout if empty).
func drawTrace(in, out string, text bool, o *trace.Options, stdout io.Writer) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	t, err := trace.Read(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return writeDrawing(t, out, text, o, stdout)
}

// writeDrawing draws t to the file out, choosing the form by its
// extension, or as text to stdout when out is empty or text is set.
func writeDrawing(t *trace.Trace, out string, text bool, o *trace.Options, stdout io.Writer) error {
	ext := strings.ToLower(filepath.Ext(out))
	if !text && out != "" && ext != ".svg" && ext != ".html" && ext != ".htm" {
		return errors.New("-out must end in .svg or .html (or give -text)")
	}
	w := stdout
	var f *os.File
	if out != "" {
		var err error
		if f, err = os.Create(out); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	var err error
	switch {
	case text || out == "":
		err = trace.Text(w, t)
	case ext == ".svg":
		err = trace.SVG(w, t, o)
	default:
		err = trace.HTML(w, t, o)
	}
	if err != nil {
		return err
	}
	if f != nil {
		return f.Close()
	}
	return nil
}
