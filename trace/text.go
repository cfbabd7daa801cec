package trace

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// flagBits maps flag names back to their bits, per frame type family.
var flagBits = map[string]uint8{
	"END_STREAM": 0x1, "ACK": 0x1, "END_HEADERS": 0x4, "PADDED": 0x8, "PRIORITY": 0x20,
}

// Text writes t one frame per line, in the style of nghttp -v: the time in
// seconds, the direction seen from where the trace was recorded ("send",
// "recv"; at a proxy "c->s", "s->c"), the frame header, then indented
// lines with the flags and the decoded payload.
func Text(w io.Writer, t *Trace) error {
	bw := bufio.NewWriter(w)
	multi := len(t.Conns()) > 1
	for i := range t.Events {
		writeTextEvent(bw, t.Meta.At, &t.Events[i], multi)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	return nil
}

func dirWord(at Endpoint, from Endpoint) string {
	switch {
	case at != Client && at != Server:
		if from == Client {
			return "c->s"
		}
		return "s->c"
	case from == at:
		return "send"
	}
	return "recv"
}

func writeTextEvent(w *bufio.Writer, at Endpoint, e *Event, multi bool) {
	const indent = "          "
	conn := ""
	if multi {
		conn = fmt.Sprintf("#%d ", e.Conn)
	}
	secs := float64(e.T) / 1e9
	if e.Type == "ERROR" {
		fmt.Fprintf(w, "[%10.6f] %s%s stopped decoding: %s\n", secs, conn, dirWord(at, e.From), e.Error)
		return
	}
	var flags uint8
	for _, f := range e.Flags {
		if b, ok := flagBits[f]; ok {
			flags |= b
		} else {
			var v uint8
			fmt.Sscanf(f, "0x%x", &v)
			flags |= v
		}
	}
	fmt.Fprintf(w, "[%10.6f] %s%s %s frame <length=%d, flags=0x%02x, stream_id=%d>\n",
		secs, conn, dirWord(at, e.From), e.Type, e.Len, flags, e.Stream)
	if len(e.Flags) > 0 {
		fmt.Fprintf(w, "%s; %s\n", indent, strings.Join(e.Flags, " | "))
	}
	switch e.Type {
	case "SETTINGS":
		if len(e.Settings) > 0 || !hasFlag(e, "ACK") {
			fmt.Fprintf(w, "%s(niv=%d)\n", indent, len(e.Settings))
		}
		for _, s := range e.Settings {
			fmt.Fprintf(w, "%s[SETTINGS_%s:%d]\n", indent, s.ID, s.Value)
		}
	case "WINDOW_UPDATE":
		fmt.Fprintf(w, "%s(window_size_increment=%d)\n", indent, e.Increment)
	case "RST_STREAM":
		fmt.Fprintf(w, "%s(error_code=%s)\n", indent, e.Code)
	case "GOAWAY":
		fmt.Fprintf(w, "%s(last_stream_id=%d, error_code=%s, opaque_data(%d)=[%s])\n", indent, e.LastStream, e.Code, len(e.Debug), e.Debug)
	case "PING":
		fmt.Fprintf(w, "%s(opaque_data=%s)\n", indent, e.Ping)
	case "DATA":
		for _, m := range e.Msgs {
			fmt.Fprintf(w, "%s(grpc message, length=%d)\n", indent, m)
		}
	}
	for _, f := range e.Fields {
		fmt.Fprintf(w, "%s%s: %s\n", indent, f.Name, f.Value)
	}
	if e.Type == "DATA" || e.Type == "WINDOW_UPDATE" {
		fmt.Fprintf(w, "%s(credit: client conn=%d%s, server conn=%d%s)\n", indent,
			e.Window.ClientConn, streamCredit(e.Window.ClientStream), e.Window.ServerConn, streamCredit(e.Window.ServerStream))
	}
	if e.Error != "" {
		fmt.Fprintf(w, "%s(error: %s)\n", indent, e.Error)
	}
}

func streamCredit(v *int64) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf(" stream=%d", *v)
}

func hasFlag(e *Event, name string) bool {
	for _, f := range e.Flags {
		if f == name {
			return true
		}
	}
	return false
}
