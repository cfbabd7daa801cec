package rpc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"testing"
)

// fullStream is a reader with a ReadFull of its own, as a conn.Stream
// has: it records the sizes asked for, and fails the test if asked for
// more than limit bytes at once.
type fullStream struct {
	t     *testing.T
	r     *bytes.Reader
	limit int
	asked []int
}

func (s *fullStream) Read([]byte) (int, error) {
	s.t.Fatal("Read called on a reader with ReadFull")
	return 0, nil
}

func (s *fullStream) ReadFull(p []byte) (int, error) {
	if len(p) > s.limit {
		s.t.Fatalf("ReadFull of %d bytes, over %d", len(p), s.limit)
	}
	s.asked = append(s.asked, len(p))
	return io.ReadFull(s.r, p)
}

// The message reader reads through the stream's own ReadFull: the prefix,
// then the message in one call. A prefix over the size limit (4 GiB, say)
// fails before any buffer is made for it, and a stream that ends inside a
// message is INTERNAL, as with io.ReadFull.
func TestMessageReaderUsesReadFull(t *testing.T) {
	body := bytes.Repeat([]byte{7}, 70000)
	stream := append(mustEncode(t, body, nil), mustEncode(t, []byte("hi"), nil)...)
	s := &fullStream{t: t, r: bytes.NewReader(stream), limit: 1 << 20}
	mr := &msgReader{r: s, maxSize: DefaultMaxRecvMsgSize}
	var into []byte
	for _, want := range [][]byte{body, []byte("hi")} {
		got, direct, err := mr.nextInto(&into)
		if err != nil || !direct || !bytes.Equal(got, want) {
			t.Fatalf("nextInto = %d bytes, %v, %v; want %d bytes read straight in", len(got), direct, err, len(want))
		}
	}
	if _, err := mr.next(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
	if want := []int{5, 70000, 5, 2, 5}; !slices.Equal(s.asked, want) {
		t.Fatalf("ReadFull asked for %v, want %v", s.asked, want)
	}

	hostile := []byte{0, 0xff, 0xff, 0xff, 0xff}
	s = &fullStream{t: t, r: bytes.NewReader(hostile), limit: msgHeaderLen}
	mr = &msgReader{r: s, maxSize: DefaultMaxRecvMsgSize}
	if _, _, err := mr.nextInto(&into); CodeOf(err) != ResourceExhausted {
		t.Fatalf("a 4 GiB prefix: %v, want RESOURCE_EXHAUSTED", err)
	}

	cut := mustEncode(t, body, nil)[:1000]
	binary.BigEndian.PutUint32(cut[1:], 70000)
	s = &fullStream{t: t, r: bytes.NewReader(cut), limit: 1 << 20}
	mr = &msgReader{r: s, maxSize: DefaultMaxRecvMsgSize}
	if _, _, err := mr.nextInto(&into); CodeOf(err) != Internal || !errors.Is(err, errTruncatedMsg) {
		t.Fatalf("a message cut short: %v, want INTERNAL truncated", err)
	}
}
