package frame

import "io"

// Writer is a small convenience over the Append functions: it appends frames
// to an internal buffer and writes them to w in one Write per Flush.
//
// The buffer grows to hold whatever is appended between two Flushes and is
// reused afterwards, so a steady stream of frames does not allocate. A
// Writer is not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer that writes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteFrame appends f (via f.AppendTo) to the pending buffer.
func (fw *Writer) WriteFrame(f Frame) { fw.buf = f.AppendTo(fw.buf) }

// AvailableBuffer returns an empty slice with the pending buffer's spare
// capacity, for use with the Append functions and Write:
//
//	fw.Write(frame.AppendPing(fw.AvailableBuffer(), false, data))
//
// The slice is valid only until the next call that changes the Writer.
func (fw *Writer) AvailableBuffer() []byte { return fw.buf[len(fw.buf):] }

// Write appends p, one or more encoded frames (from the Append functions),
// to the pending buffer. It never fails; it exists so the Writer is an
// io.Writer for code that encodes frames itself.
func (fw *Writer) Write(p []byte) (int, error) {
	fw.buf = append(fw.buf, p...)
	return len(p), nil
}

// Buffered returns the number of bytes waiting for Flush.
func (fw *Writer) Buffered() int { return len(fw.buf) }

// Flush writes all pending frames with exactly one Write call. If the Write
// fails, the bytes it did not take stay buffered and its error is returned.
func (fw *Writer) Flush() error {
	if len(fw.buf) == 0 {
		return nil
	}
	n, err := fw.w.Write(fw.buf)
	if n < 0 || n > len(fw.buf) {
		n = 0
	}
	if err == nil && n < len(fw.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		fw.buf = fw.buf[:copy(fw.buf, fw.buf[n:])]
		return err
	}
	fw.buf = fw.buf[:0]
	return nil
}
