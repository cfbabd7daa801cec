package frame

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// recordWriter records each Write call; it takes at most limit octets
// (all when limit < 0) and then returns err.
type recordWriter struct {
	writes [][]byte
	limit  int
	err    error
}

func (w *recordWriter) Write(p []byte) (int, error) {
	n := len(p)
	if w.limit >= 0 && n > w.limit {
		n = w.limit
	}
	w.writes = append(w.writes, bytes.Clone(p[:n]))
	return n, w.err
}

func TestWriterOneWritePerFlush(t *testing.T) {
	w := &recordWriter{limit: -1}
	fw := NewWriter(w)
	if err := fw.Flush(); err != nil || len(w.writes) != 0 {
		t.Fatalf("empty Flush: %v, %d writes; want none", err, len(w.writes))
	}
	frames := validFrames()
	for _, f := range frames {
		fw.WriteFrame(f)
	}
	ack := AppendSettingsAck(fw.AvailableBuffer())
	if n, err := fw.Write(ack); n != len(ack) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	want := AppendSettingsAck(encodeAll(frames))
	if fw.Buffered() != len(want) {
		t.Errorf("Buffered = %d, want %d", fw.Buffered(), len(want))
	}
	if err := fw.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(w.writes) != 1 || !bytes.Equal(w.writes[0], want) {
		t.Fatalf("%d writes, want exactly one with every frame", len(w.writes))
	}
	if fw.Buffered() != 0 {
		t.Errorf("Buffered = %d after Flush", fw.Buffered())
	}
}

func TestWriterErrors(t *testing.T) {
	errBoom := errors.New("boom")
	w := &recordWriter{limit: 5, err: errBoom}
	fw := NewWriter(w)
	ping := AppendPing(nil, false, [8]byte{1, 2, 3})
	fw.Write(ping)
	if err := fw.Flush(); !errors.Is(err, errBoom) {
		t.Fatalf("Flush = %v, want boom", err)
	}
	// The 12 octets the failed Write did not take stay buffered.
	if fw.Buffered() != len(ping)-5 {
		t.Fatalf("Buffered = %d after a 5-octet write, want %d", fw.Buffered(), len(ping)-5)
	}
	w.limit, w.err = -1, nil
	if err := fw.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := cat(w.writes...); !bytes.Equal(got, ping) {
		t.Fatalf("wrote % x, want % x", got, ping)
	}

	// A short write without an error is io.ErrShortWrite.
	fw = NewWriter(&recordWriter{limit: 3})
	fw.Write(ping)
	if err := fw.Flush(); err != io.ErrShortWrite {
		t.Fatalf("Flush = %v, want io.ErrShortWrite", err)
	}
}
