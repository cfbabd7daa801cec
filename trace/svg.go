package trace

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"slices"
	"strings"
	"time"
)

// Options adjust a drawing. The zero value (or nil) takes the defaults.
type Options struct {
	// Title heads the drawing; default the trace's label, or "HTTP/2 frames".
	Title string
	// PerRow is how many frames one row of the pipe holds before it wraps.
	// Default 36.
	PerRow int
	// Gap is the pause between two frames of a connection drawn as a break
	// in the pipe with its length. Default: 20 times the median pause, and
	// at least 5ms.
	Gap time.Duration
}

// Geometry of the drawing, in pixels.
const (
	colW      = 38  // one frame column
	blockW    = 32  // a frame block
	blockH    = 34  //
	gapW      = 44  // a drawn pause
	marginL   = 96  // the client end of the pipe and the lane labels
	marginR   = 70  // the server end
	rowH      = 236 // one row: pipe, tracks, meters
	headerH   = 84  // title, summary, legend
	sectionH  = 26  // a connection's heading
	meterH    = 30  // one credit meter lane
	fontStack = "ui-monospace,SFMono-Regular,Menlo,Consolas,monospace"
)

var palette = []string{
	"#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#76b7b2",
	"#edc948", "#ff9da7", "#9c755f", "#17becf", "#bcbd22", "#8c6d31",
}

const connColor = "#b8b8b8"

// abbrev is a frame type's short label in a block.
func abbrev(e *Event) string {
	s := map[string]string{
		"DATA": "D", "HEADERS": "H", "CONTINUATION": "C", "SETTINGS": "S", "PING": "P",
		"WINDOW_UPDATE": "WU", "RST_STREAM": "RST", "GOAWAY": "GA", "PRIORITY": "PRI", "PUSH_PROMISE": "PP",
	}[e.Type]
	if s == "" {
		s = "?"
	}
	if (e.Type == "SETTINGS" || e.Type == "PING") && hasFlag(e, "ACK") {
		s += "a"
	}
	if e.Stream != 0 && e.Type != "RST_STREAM" {
		s += fmt.Sprint(e.Stream)
	}
	return s
}

// layout is where each event of one connection is drawn.
type layout struct {
	events []*Event
	x      []int // column left edge, within the row
	row    []int
	gaps   []gapMark
	rows   int
}

type gapMark struct {
	x, row int
	d      time.Duration
}

func (o *Options) perRow() int {
	if o == nil || o.PerRow <= 0 {
		return 36
	}
	return o.PerRow
}

func gapFor(events []*Event, o *Options) time.Duration {
	if o != nil && o.Gap > 0 {
		return o.Gap
	}
	var ds []int64
	for i := 1; i < len(events); i++ {
		if d := events[i].T - events[i-1].T; d > 0 {
			ds = append(ds, d)
		}
	}
	g := 5 * time.Millisecond
	if len(ds) > 0 {
		slices.Sort(ds)
		g = max(g, 20*time.Duration(ds[len(ds)/2]))
	}
	return g
}

func layOut(events []*Event, o *Options) *layout {
	l := &layout{events: events}
	width := o.perRow() * colW
	gap := gapFor(events, o)
	x, row := 0, 0
	for i, e := range events {
		if i > 0 {
			if d := time.Duration(e.T - events[i-1].T); d >= gap {
				if x+gapW+colW > width {
					x, row = 0, row+1
				}
				l.gaps = append(l.gaps, gapMark{x: x, row: row, d: d})
				x += gapW
			}
		}
		if x+colW > width {
			x, row = 0, row+1
		}
		l.x = append(l.x, x)
		l.row = append(l.row, row)
		x += colW
	}
	l.rows = row + 1
	return l
}

// SVG draws t as a self-contained SVG sequence diagram: for each
// connection a pipe from the client (left) to the server (right), frames as
// blocks in time order coloured by stream, request frames (client to
// server) on the top track and responses on the bottom, half-close flags on
// END_STREAM, RST_STREAM and GOAWAY marked, long pauses drawn as breaks,
// and under the pipe the flow-control credit meters of both endpoints
// (connection credit as a grey bar, the frame's stream credit in its colour).
func SVG(w io.Writer, t *Trace, o *Options) error {
	bw := bufio.NewWriter(w)
	d := newDrawing(t, o)
	d.write(bw)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	return nil
}

type drawing struct {
	t       *Trace
	o       *Options
	conns   []int
	layouts []*layout
	colors  map[[2]int]string // (conn, stream) -> colour
	// labelEnd is where the last method label of each row (by its y)
	// ends.
	labelEnd map[int]int
	width    int
	height   int
}

func newDrawing(t *Trace, o *Options) *drawing {
	d := &drawing{t: t, o: o, conns: t.Conns(), colors: map[[2]int]string{}, labelEnd: map[int]int{}}
	byConn := map[int][]*Event{}
	for i := range t.Events {
		e := &t.Events[i]
		byConn[e.Conn] = append(byConn[e.Conn], e)
	}
	d.width = marginL + o.perRow()*colW + marginR
	d.height = headerH
	for _, c := range d.conns {
		l := layOut(byConn[c], o)
		d.layouts = append(d.layouts, l)
		d.height += sectionH + l.rows*rowH
		next := 0
		for _, e := range l.events {
			k := [2]int{c, int(e.Stream)}
			if _, ok := d.colors[k]; !ok && e.Stream != 0 && e.Type == "HEADERS" {
				d.colors[k] = palette[next%len(palette)]
				next++
			}
		}
	}
	return d
}

func (d *drawing) color(conn int, stream uint32) string {
	if stream == 0 {
		return connColor
	}
	if c, ok := d.colors[[2]int{conn, int(stream)}]; ok {
		return c
	}
	return "#999999"
}

func esc(s string) string { return html.EscapeString(s) }

func (d *drawing) title() string {
	if d.o != nil && d.o.Title != "" {
		return d.o.Title
	}
	if d.t.Meta.Label != "" {
		return d.t.Meta.Label
	}
	return "HTTP/2 frames"
}

// streamStats counts the streams of a connection and the most open at once.
func streamStats(events []*Event) (streams, peak int) {
	open := map[uint32][2]bool{}
	seen := map[uint32]bool{}
	for _, e := range events {
		if e.Stream == 0 {
			continue
		}
		if e.Type == "HEADERS" && !seen[e.Stream] {
			seen[e.Stream] = true
			open[e.Stream] = [2]bool{}
			streams++
		}
		st, ok := open[e.Stream]
		if !ok {
			continue
		}
		if e.Type == "RST_STREAM" {
			delete(open, e.Stream)
		} else if hasFlag(e, "END_STREAM") {
			st[index(e.From)] = true
			if st[0] && st[1] {
				delete(open, e.Stream)
			} else {
				open[e.Stream] = st
			}
		}
		peak = max(peak, len(open))
	}
	return streams, peak
}

func (d *drawing) write(w *bufio.Writer) {
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s" font-size="10">`+"\n",
		d.width, d.height, d.width, d.height, fontStack)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", d.width, d.height)
	fmt.Fprintf(w, `<text x="16" y="26" font-size="16" font-weight="bold">%s</text>`+"\n", esc(d.title()))
	frames := len(d.t.Events)
	fmt.Fprintf(w, `<text x="16" y="46" fill="#444">%d frames on %d TCP connection(s), recorded at the %s. Request frames (client → server) ride the top track, responses the bottom; ⚑ marks a half-close (END_STREAM).</text>`+"\n",
		frames, len(d.conns), esc(string(d.t.Meta.At)))
	// Legend.
	lx := 16
	for _, item := range []struct{ color, label string }{
		{connColor, "connection (stream 0)"}, {palette[0], "one colour per stream"},
		{"#d62728", "RST_STREAM"}, {"#222222", "GOAWAY"},
	} {
		fmt.Fprintf(w, `<rect x="%d" y="58" width="12" height="12" fill="%s"/><text x="%d" y="68">%s</text>`+"\n", lx, item.color, lx+16, esc(item.label))
		lx += 24 + 7*len(item.label)
	}
	fmt.Fprintf(w, `<text x="%d" y="68" fill="#444">H HEADERS · D DATA · C CONTINUATION · S SETTINGS · P PING · WU WINDOW_UPDATE · a = ACK · number = stream</text>`+"\n", lx)
	y := headerH
	for i, c := range d.conns {
		l := d.layouts[i]
		streams, peak := streamStats(l.events)
		fmt.Fprintf(w, `<text x="16" y="%d" font-size="12" font-weight="bold">connection #%d · %d frames · %d streams, at most %d in flight</text>`+"\n",
			y+16, c, len(l.events), streams, peak)
		y += sectionH
		d.writeConn(w, c, l, y)
		y += l.rows * rowH
	}
	fmt.Fprintln(w, `</svg>`)
}

// maxCredit returns the tops of the credit meters' scales: connection
// credit and stream credit.
func maxCredit(events []*Event) (conn, stream int64) {
	conn, stream = initialWindow, initialWindow
	for _, e := range events {
		conn = max(conn, e.Window.ClientConn, e.Window.ServerConn)
		if e.Window.ClientStream != nil {
			stream = max(stream, *e.Window.ClientStream)
		}
		if e.Window.ServerStream != nil {
			stream = max(stream, *e.Window.ServerStream)
		}
	}
	return conn, stream
}

func (d *drawing) writeConn(w *bufio.Writer, conn int, l *layout, top int) {
	rowW := d.o.perRow() * colW
	connScale, streamScale := maxCredit(l.events)
	for r := 0; r < l.rows; r++ {
		y := top + r*rowH
		// The pipe.
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" rx="14" fill="#f6f6f2" stroke="#888" stroke-width="1.5"/>`+"\n", marginL-8, y+20, rowW+16, 124)
		fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ccc" stroke-dasharray="4 4"/>`+"\n", marginL, y+82, marginL+rowW, y+82)
		fmt.Fprintf(w, `<text x="%d" y="%d" font-weight="bold">client</text><text x="%d" y="%d" fill="#666">requests →</text>`+"\n", 12, y+58, 12, y+70)
		fmt.Fprintf(w, `<text x="%d" y="%d" fill="#666">← responses</text>`+"\n", 12, y+110)
		fmt.Fprintf(w, `<text x="%d" y="%d" font-weight="bold">server</text>`+"\n", marginL+rowW+14, y+84)
		// The meters.
		for lane, label := range []string{"client credit", "server credit"} {
			ly := y + 152 + lane*(meterH+6)
			fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" fill="#fbfbfb" stroke="#ddd"/>`+"\n", marginL-8, ly, rowW+16, meterH)
			fmt.Fprintf(w, `<text x="12" y="%d" fill="#444">%s</text>`+"\n", ly+19, label)
		}
		if r == 0 {
			fmt.Fprintf(w, `<text x="%d" y="%d" fill="#888">meters: send credit left after each frame; grey: the connection's (full height %d octets), in colour: the frame's stream's (full height %d)</text>`+"\n", marginL, y+152+2*(meterH+6)+10, connScale, streamScale)
		}
	}
	for _, g := range l.gaps {
		x := marginL + g.x + gapW/2
		y := top + g.row*rowH
		fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#c00" stroke-width="2" stroke-dasharray="3 3"/>`+"\n", x, y+16, x, y+224)
		fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="middle" fill="#c00" font-weight="bold">+%s</text>`+"\n", x, y+14, esc(roundDur(g.d)))
	}
	for i, e := range l.events {
		x := marginL + l.x[i]
		y := top + l.row[i]*rowH
		if i == 0 || l.row[i] != l.row[i-1] {
			fmt.Fprintf(w, `<text x="12" y="%d" fill="#666">t=%s</text>`+"\n", y+14, esc(roundDur(time.Duration(e.T))))
		}
		d.writeBlock(w, conn, e, x, y)
		d.writeMeters(w, conn, e, x, y, connScale, streamScale)
	}
}

func roundDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

func (d *drawing) writeBlock(w *bufio.Writer, conn int, e *Event, x, y int) {
	by := y + 40 // request track
	if e.From == Server {
		by = y + 90
	}
	if e.Type == "ERROR" {
		fmt.Fprintf(w, `<g><title>%s</title><text x="%d" y="%d" fill="#c00" font-weight="bold">!</text></g>`+"\n", esc(e.Error), x+12, by+20)
		return
	}
	fill := d.color(conn, e.Stream)
	stroke, sw := "#555", 0.8
	switch e.Type {
	case "RST_STREAM":
		stroke, sw = "#d62728", 3
	case "GOAWAY":
		fill, stroke = "#222222", "#000"
		fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#222" stroke-width="3"/>`+"\n", x+blockW/2, y+20, x+blockW/2, y+144)
		ly := y + 30 // the label on the sender's side of the pipe
		if e.From == Server {
			ly = y + 140
		}
		fmt.Fprintf(w, `<text x="%d" y="%d" font-size="9" font-weight="bold">GOAWAY %s</text>`+"\n", x+blockW/2+4, ly, esc(e.Code))
	}
	fmt.Fprintf(w, `<g><title>%s</title>`, esc(tooltip(e)))
	if e.Type == "HEADERS" && e.From == Client {
		for _, f := range e.Fields {
			// The method's name, where it does not run into the previous one.
			if name := f.Value[strings.LastIndexByte(f.Value, '/')+1:]; f.Name == ":path" && x >= d.labelEnd[y] {
				fmt.Fprintf(w, `<text x="%d" y="%d" fill="%s" font-size="9" font-weight="bold">%s</text>`, x, by-11, fill, esc(name))
				d.labelEnd[y] = x + 6*len(name) + 4
			}
		}
	}
	fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" rx="3" fill="%s" stroke="%s" stroke-width="%.1f"/>`, x, by, blockW, blockH, fill, stroke, sw)
	if len(e.Msgs) > 0 { // the gRPC length prefix inside the DATA frame
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="5" height="%d" fill="#000" fill-opacity="0.35"/>`, x+2, by+2, blockH-4)
	}
	txt := "#fff"
	if e.Stream == 0 {
		txt = "#222"
	}
	if e.Type == "GOAWAY" {
		txt = "#fff"
	}
	fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="middle" fill="%s" font-weight="bold">%s</text>`, x+blockW/2, by+14, txt, esc(abbrev(e)))
	fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="middle" fill="%s" font-size="9">%d</text>`, x+blockW/2, by+27, txt, e.Len)
	// An arrowhead shows the direction.
	if e.From == Client {
		fmt.Fprintf(w, `<path d="M%d %d l5 4 l-5 4z" fill="#555"/>`, x+blockW, by+blockH/2-4)
	} else {
		fmt.Fprintf(w, `<path d="M%d %d l-5 4 l5 4z" fill="#555"/>`, x, by+blockH/2-4)
	}
	if e.Type == "RST_STREAM" {
		fmt.Fprintf(w, `<path d="M%d %d l6 6 m0 -6 l-6 6" stroke="#d62728" stroke-width="2"/>`, x+blockW-8, by+blockH-8)
	}
	if hasFlag(e, "END_STREAM") { // the half-close flag
		if e.From == Client {
			fmt.Fprintf(w, `<path d="M%d %d v-10 l7 2.5 l-7 2.5" stroke="#222" fill="#d62728"/>`, x+blockW-6, by)
		} else {
			fmt.Fprintf(w, `<path d="M%d %d v10 l7 -2.5 l-7 -2.5" stroke="#222" fill="#d62728"/>`, x+blockW-6, by+blockH)
		}
	}
	fmt.Fprintln(w, `</g>`)
}

func (d *drawing) writeMeters(w *bufio.Writer, conn int, e *Event, x, y int, connScale, streamScale int64) {
	bar := func(lane int, v int64, bx, bw int, color string) {
		scale := connScale
		if bw < blockW {
			scale = streamScale
		}
		ly := y + 152 + lane*(meterH+6)
		h := int(float64(meterH) * float64(max(v, 0)) / float64(scale))
		if v > 0 && h == 0 {
			h = 1
		}
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`, bx, ly+meterH-h, bw, h, color)
		if v <= 0 {
			fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="3" fill="#d62728"/>`, bx, ly+meterH-3, bw)
		}
	}
	bar(0, e.Window.ClientConn, x, blockW, "#cfcfcf")
	bar(1, e.Window.ServerConn, x, blockW, "#cfcfcf")
	c := d.color(conn, e.Stream)
	if e.Window.ClientStream != nil {
		bar(0, *e.Window.ClientStream, x+blockW/2-5, 10, c)
	}
	if e.Window.ServerStream != nil {
		bar(1, *e.Window.ServerStream, x+blockW/2-5, 10, c)
	}
	fmt.Fprintln(w)
}

// tooltip is an event's full description, shown on hover.
func tooltip(e *Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d t=%s %s → %s stream %d len %d", e.Seq, roundDur(time.Duration(e.T)), e.Type, e.From.other(), e.Stream, e.Len)
	if len(e.Flags) > 0 {
		fmt.Fprintf(&b, " [%s]", strings.Join(e.Flags, " "))
	}
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "\n%s: %s", f.Name, f.Value)
	}
	for _, s := range e.Settings {
		fmt.Fprintf(&b, "\n%s=%d", s.ID, s.Value)
	}
	for _, m := range e.Msgs {
		fmt.Fprintf(&b, "\ngRPC message of %d octets (5-octet prefix + body)", m)
	}
	if e.Increment != 0 {
		fmt.Fprintf(&b, "\nincrement %d", e.Increment)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, "\n%s", e.Code)
	}
	if e.Type == "GOAWAY" {
		fmt.Fprintf(&b, " last stream %d %s", e.LastStream, e.Debug)
	}
	fmt.Fprintf(&b, "\ncredit: client %d%s, server %d%s", e.Window.ClientConn, streamCredit(e.Window.ClientStream), e.Window.ServerConn, streamCredit(e.Window.ServerStream))
	if e.Error != "" {
		fmt.Fprintf(&b, "\nerror: %s", e.Error)
	}
	return b.String()
}

// HTML writes t as a self-contained HTML page: the SVG drawing and, under
// it, the text view.
func HTML(w io.Writer, t *Trace, o *Options) error {
	bw := bufio.NewWriter(w)
	d := newDrawing(t, o)
	fmt.Fprintf(bw, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title>\n", esc(d.title()))
	fmt.Fprint(bw, "<style>body{font-family:system-ui,sans-serif;margin:16px;color:#222}.scroll{overflow-x:auto}pre{font-size:12px;background:#f6f6f2;padding:8px}</style></head><body>\n")
	fmt.Fprintf(bw, "<h1>%s</h1>\n<p>Recorded at the %s, starting %s. Hover a frame for its fields.</p>\n<div class=\"scroll\">\n",
		esc(d.title()), esc(string(t.Meta.At)), esc(t.Meta.Start.Format(time.RFC3339)))
	d.write(bw)
	fmt.Fprint(bw, "</div>\n<details><summary>Frames as text</summary><pre>")
	var sb strings.Builder
	sw := bufio.NewWriter(&sb)
	multi := len(d.conns) > 1
	for i := range t.Events {
		writeTextEvent(sw, t.Meta.At, &t.Events[i], multi)
	}
	sw.Flush()
	fmt.Fprint(bw, esc(sb.String()))
	fmt.Fprint(bw, "</pre></details>\n</body></html>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	return nil
}
