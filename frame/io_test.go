package frame

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// unit is an independently readable part of validFrames, named by its
// frame types: a HEADERS or PUSH_PROMISE without END_HEADERS travels with its
// CONTINUATIONs.
type unit struct {
	name string
	data []byte
}

func units() []unit {
	var out []unit
	var cur unit
	for _, f := range validFrames() {
		h := f.FrameHeader()
		cur.data = f.AppendTo(cur.data)
		if cur.name != "" {
			cur.name += "+"
		}
		cur.name += h.Type.String()
		if (h.Type == TypeHeaders || h.Type == TypePushPromise || h.Type == TypeContinuation) && !h.Flags.Has(FlagEndHeaders) {
			continue
		}
		out = append(out, cur)
		cur = unit{}
	}
	return out
}

// TestTruncated reads every prefix of every valid frame: a prefix that ends
// at a frame boundary reads cleanly to io.EOF, any other fails with
// io.ErrUnexpectedEOF, never with anything else, never a panic.
func TestTruncated(t *testing.T) {
	for _, unit := range units() {
		u := unit.data
		boundaries := map[int]int{} // offset → frames before it
		for off, n := 0, 0; off < len(u); n++ {
			off += HeaderLen + int(parseHeader(u[off:]).Length)
			boundaries[off] = n + 1
		}
		step := 1
		if len(u) > 1024 {
			step = 61 // the max-size DATA frame: sample its prefixes
		}
		for n := 0; n < len(u); n += step {
			prefix := u[:n]
			for _, r := range []struct {
				name string
				r    io.Reader
			}{
				{"bytes", bytes.NewReader(prefix)},
				{"OneByteReader", iotest.OneByteReader(bytes.NewReader(prefix))},
			} {
				res := readAll(r.r, 0)
				want := io.ErrUnexpectedEOF
				frames, boundary := boundaries[n]
				if n == 0 || boundary {
					want = io.EOF
				}
				last := res.errs[len(res.errs)-1]
				if last != want || len(res.errs) != 1 {
					t.Fatalf("%s: %d-octet prefix of % x...: errors %v, want %v", r.name, n, u[:min(len(u), 12)], res.errs, want)
				}
				if boundary && len(res.frames) != frames {
					t.Fatalf("%s: %d-octet prefix: %d frames, want %d", r.name, n, len(res.frames), frames)
				}
			}
		}
	}
}

// TestShortReads reads the whole valid stream through readers that return
// little at a time, or data and error together: the frames must be the same.
func TestShortReads(t *testing.T) {
	stream := encodeAll(validFrames())
	want := readAll(bytes.NewReader(stream), 0)
	if len(want.errs) != 1 || want.errs[0] != io.EOF || len(want.frames) != len(validFrames()) {
		t.Fatalf("baseline: %d frames, errors %v", len(want.frames), want.errs)
	}
	readers := map[string]io.Reader{
		"OneByteReader":           iotest.OneByteReader(bytes.NewReader(stream)),
		"HalfReader":              iotest.HalfReader(bytes.NewReader(stream)),
		"DataErrReader":           iotest.DataErrReader(bytes.NewReader(stream)),
		"DataErrReader(OneByte)":  iotest.DataErrReader(iotest.OneByteReader(bytes.NewReader(stream))),
		"HalfReader(DataErr)":     iotest.HalfReader(iotest.DataErrReader(bytes.NewReader(stream))),
		"chunks of 9":             &chunkReader{data: stream, size: 9},
		"chunks of 4097":          &chunkReader{data: stream, size: 4097},
		"chunks of 4097 with EOF": &chunkReader{data: stream, size: 4097, eofWithData: true},
	}
	for name, r := range readers {
		got := readAll(r, 0)
		if diff := cmp.Diff(want.frames, got.frames, cmpOpts...); diff != "" {
			t.Errorf("%s: frames differ (-bytes.Reader +%s):\n%s", name, name, diff)
		}
		if len(got.errs) != 1 || got.errs[0] != io.EOF {
			t.Errorf("%s: errors %v, want io.EOF", name, got.errs)
		}
	}
}

// chunkReader returns data at most size octets at a time, optionally with
// io.EOF alongside the last chunk.
type chunkReader struct {
	data        []byte
	size        int
	eofWithData bool
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.size)], r.data)
	r.data = r.data[n:]
	if r.eofWithData && len(r.data) == 0 {
		return n, io.EOF
	}
	return n, nil
}

// TestReadErrors checks that errors from the underlying reader come through
// (errors.Is works), and that the Reader can go on after a transient one.
func TestReadErrors(t *testing.T) {
	errBoom := errors.New("boom")
	t.Run("passed through at a boundary", func(t *testing.T) {
		fr := NewReader(iotest.ErrReader(errBoom))
		if _, err := fr.ReadFrame(); !errors.Is(err, errBoom) {
			t.Fatalf("err = %v, want boom", err)
		}
	})
	t.Run("passed through inside a frame", func(t *testing.T) {
		ping := AppendPing(nil, false, [8]byte{})
		fr := NewReader(io.MultiReader(bytes.NewReader(ping[:12]), iotest.ErrReader(errBoom)))
		if _, err := fr.ReadFrame(); !errors.Is(err, errBoom) {
			t.Fatalf("err = %v, want boom", err)
		}
	})
	t.Run("reported after the data that came with it", func(t *testing.T) {
		ping := AppendPing(nil, false, [8]byte{})
		fr := NewReader(&dataErrReader{data: ping, err: errBoom})
		if f, err := fr.ReadFrame(); err != nil || f.FrameHeader().Type != TypePing {
			t.Fatalf("ReadFrame = %v, %v; want the PING", f, err)
		}
		if _, err := fr.ReadFrame(); !errors.Is(err, errBoom) {
			t.Fatalf("err = %v, want boom", err)
		}
	})
	t.Run("retry after a timeout", func(t *testing.T) {
		// TimeoutReader fails its second Read with ErrTimeout; later
		// Reads succeed. The stream is longer than one buffer, so the
		// timeout hits inside a frame (and inside a field block).
		stream := encodeAll(validFrames())
		fr := NewReader(iotest.TimeoutReader(bytes.NewReader(stream)))
		var got []Frame
		timeouts := 0
		for {
			f, err := fr.ReadFrame()
			if errors.Is(err, iotest.ErrTimeout) {
				timeouts++
				continue
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, clone(f))
		}
		if timeouts != 1 {
			t.Errorf("%d timeouts, want 1", timeouts)
		}
		want := readAll(bytes.NewReader(stream), 0).frames
		if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
			t.Errorf("frames differ after a retry:\n%s", diff)
		}
	})
	t.Run("no progress", func(t *testing.T) {
		fr := NewReader(emptyReader{})
		if _, err := fr.ReadFrame(); err != io.ErrNoProgress {
			t.Fatalf("err = %v, want io.ErrNoProgress", err)
		}
	})
	t.Run("bad count", func(t *testing.T) {
		fr := NewReader(liarReader{})
		if _, err := fr.ReadFrame(); err == nil {
			t.Fatal("a reader claiming more than it was given: no error")
		}
	})
}

type dataErrReader struct {
	data []byte
	err  error
}

func (r *dataErrReader) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, r.err
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

type liarReader struct{}

func (liarReader) Read(p []byte) (int, error) { return len(p) + 1, nil }

// TestBuffer checks the buffer bounds: a Reader of small frames keeps to
// its inline buffer, a large frame's buffer is bounded by the frame plus
// read-ahead, and a header alone does not make it allocate.
func TestBuffer(t *testing.T) {
	fr := NewReader(&loopReader{data: AppendPing(nil, false, [8]byte{})})
	for range 1000 {
		if _, err := fr.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}
	if len(fr.buf) != minPooled {
		t.Errorf("an endless run of small frames: buffer %d, want %d", len(fr.buf), minPooled)
	}

	const max = 1 << 20
	big := AppendData(nil, 1, false, make([]byte, max))
	fr = NewReader(&loopReader{data: big})
	fr.SetMaxFrameSize(max)
	for range 3 {
		f, err := fr.ReadFrame()
		if err != nil || len(f.(*DataFrame).Data) != max {
			t.Fatalf("ReadFrame = %v", err)
		}
	}
	if got, limit := len(fr.buf), HeaderLen+max+readAhead; got > limit || got < HeaderLen+max {
		t.Errorf("buffer %d after %d-octet frames, want %d..%d", got, max, HeaderLen+max, limit)
	}

	// 16 KiB frames are read 64 KiB at a time.
	fr = NewReader(&loopReader{data: AppendData(nil, 1, false, make([]byte, DefaultMaxFrameSize))})
	if _, err := fr.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if len(fr.buf) != 64<<10 {
		t.Errorf("buffer %d for 16 KiB frames, want 64 KiB", len(fr.buf))
	}

	// A header claiming a huge frame does not make the buffer grow.
	fr = NewReader(bytes.NewReader(rawFrameLen(MaxAllowedFrameSize, TypeData, 0, 1, nil)))
	if _, err := fr.ReadFrame(); err == nil {
		t.Fatal("no error for a frame over the max size")
	}
	if fr.pooled != nil {
		t.Errorf("buffer grew to %d for a rejected header", len(fr.buf))
	}
	// Nor does one for a legal 16 MiB frame whose bytes do not come.
	fr = NewReader(bytes.NewReader(rawFrameLen(MaxAllowedFrameSize, TypeData, 0, 1, make([]byte, 100))))
	fr.SetMaxFrameSize(MaxAllowedFrameSize)
	if _, err := fr.ReadFrame(); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated 16 MiB frame: %v, want io.ErrUnexpectedEOF", err)
	}
	if len(fr.buf) > growStep {
		t.Errorf("buffer grew to %d for 100 octets of a 16 MiB frame, want at most %d", len(fr.buf), growStep)
	}

	// SetMaxFrameSize clamps to the legal range (RFC 9113 §6.5.2).
	fr.SetMaxFrameSize(1)
	if fr.maxFrameSize != DefaultMaxFrameSize {
		t.Errorf("SetMaxFrameSize(1): %d", fr.maxFrameSize)
	}
	fr.SetMaxFrameSize(1 << 30)
	if fr.maxFrameSize != MaxAllowedFrameSize {
		t.Errorf("SetMaxFrameSize(1<<30): %d", fr.maxFrameSize)
	}
}

// TestBufferReleasedWhenQuiet: a Reader that drains after a small burst
// gives its pooled buffer back before it waits; after a large burst it keeps
// it; Release gives it back at once.
func TestBufferReleasedWhenQuiet(t *testing.T) {
	var burst []byte
	for range 100 {
		burst = AppendData(burst, 1, false, []byte("0123456789"))
	}
	quiet := AppendPing(nil, false, [8]byte{})
	r := &scriptReader{{burst, nil}, {quiet, nil}, {quiet, nil}, {burst, nil}}
	fr := NewReader(r)
	read := func(n int) {
		t.Helper()
		for range n {
			if _, err := fr.ReadFrame(); err != nil {
				t.Fatal(err)
			}
		}
	}
	read(100)
	if fr.pooled == nil {
		t.Fatalf("a %d-octet burst was read into the inline buffer", len(burst))
	}
	read(1) // drained after a large burst: keeps the buffer for more
	if fr.pooled == nil {
		t.Error("the buffer was released after a large burst")
	}
	read(1) // drained after a small one: waits with the inline buffer
	if fr.pooled != nil || len(fr.buf) != smallBufSize {
		t.Errorf("after a small burst: buffer %d, want the inline %d", len(fr.buf), smallBufSize)
	}
	read(90)
	if fr.pooled == nil {
		t.Fatal("no pooled buffer for the second burst")
	}
	fr.Release()
	if fr.pooled != nil {
		t.Error("Release kept the pooled buffer")
	}
	read(10) // the rest of the burst was kept across Release
	if _, err := fr.ReadFrame(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

// TestBufferClasses pins the pool classes to the sizes bufSizeFor picks.
func TestBufferClasses(t *testing.T) {
	if got := sizeClass(maxPooled); got != len(bufPools)-1 {
		t.Errorf("sizeClass(maxPooled) = %d, want the last of %d pools", got, len(bufPools))
	}
	for _, n := range []int{HeaderLen, 100, 2048, 3000, HeaderLen + DefaultMaxFrameSize, maxPooled / 2, maxPooled/2 + 1, HeaderLen + MaxAllowedFrameSize} {
		size := bufSizeFor(n)
		if size < n || (sizeClass(size) < 0) != (2*n > maxPooled) {
			t.Errorf("bufSizeFor(%d) = %d (class %d)", n, size, sizeClass(size))
		}
	}
}

// TestScribble shows the loud-misuse mode: a payload slice kept past the
// next ReadFrame is overwritten at once.
func TestScribble(t *testing.T) {
	stream := cat(AppendData(nil, 1, false, []byte("first")), AppendData(nil, 1, false, []byte("second")))
	for _, on := range []bool{false, true} {
		fr := NewReader(bytes.NewReader(stream))
		fr.SetScribble(on)
		f, _ := fr.ReadFrame()
		kept := f.(*DataFrame).Data // misuse: kept past the next ReadFrame
		if _, err := fr.ReadFrame(); err != nil {
			t.Fatal(err)
		}
		scribbled := bytes.Equal(kept, bytes.Repeat([]byte{scribbleByte}, 5))
		if scribbled != on {
			t.Errorf("scribble %v: kept slice now %q", on, kept)
		}
	}
}

// scriptReader returns its steps one Read at a time.
type scriptReader []struct {
	data []byte
	err  error
}

func (s *scriptReader) Read(p []byte) (int, error) {
	if len(*s) == 0 {
		return 0, io.EOF
	}
	step := &(*s)[0]
	n := copy(p, step.data)
	step.data = step.data[n:]
	if len(step.data) > 0 {
		return n, nil
	}
	err := step.err
	*s = (*s)[1:]
	return n, err
}

// TestRetryInsideFieldBlock retries a HEADERS frame (without END_HEADERS)
// whose payload read failed: the field block must not count as open twice.
func TestRetryInsideFieldBlock(t *testing.T) {
	headers := AppendHeaders(nil, 1, false, false, []byte("first"))
	cont := AppendContinuation(nil, 1, true, []byte("second"))
	r := &scriptReader{
		{headers[:HeaderLen+2], iotest.ErrTimeout},
		{cat(headers[HeaderLen+2:], cont), nil},
	}
	fr := NewReader(r)
	if _, err := fr.ReadFrame(); err != iotest.ErrTimeout {
		t.Fatalf("first ReadFrame: %v, want the timeout", err)
	}
	for _, want := range []Type{TypeHeaders, TypeContinuation} {
		f, err := fr.ReadFrame()
		if err != nil || f.FrameHeader().Type != want {
			t.Fatalf("ReadFrame = %v, %v; want %v", f, err, want)
		}
	}
	if _, err := fr.ReadFrame(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

// countReader counts Read calls.
type countReader struct {
	r     io.Reader
	reads int
}

func (c *countReader) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

// TestOneReadManyFrames checks the read-ahead: 600 small frames (7,800
// octets) take one Read into the inline buffer, then one per 4 KiB
// buffer-full, plus the one that sees io.EOF, not one or two per frame.
func TestOneReadManyFrames(t *testing.T) {
	var stream []byte
	for i := range 300 {
		stream = AppendWindowUpdate(stream, uint32(i), 1)
		stream = AppendData(stream, 1, false, []byte("abcd"))
	}
	cr := &countReader{r: bytes.NewReader(stream)}
	res := readAll(cr, 0)
	if len(res.frames) != 600 || res.errs[0] != io.EOF {
		t.Fatalf("%d frames, errors %v", len(res.frames), res.errs)
	}
	if want := 1 + (len(stream)-smallBufSize+minPooled-1)/minPooled + 1; cr.reads > want {
		t.Errorf("%d Reads for %d octets, want at most %d", cr.reads, len(stream), want)
	}
}

// TestReady checks that Ready reports exactly when ReadFrame would return
// without reading: a whole frame buffered, or an error pending.
func TestReady(t *testing.T) {
	ping := AppendPing(nil, false, [8]byte{1})
	data := AppendData(nil, 1, false, []byte("hello"))
	timeout := errors.New("timeout")
	r := &scriptReader{
		{data: append(append([]byte{}, ping...), data[:HeaderLen+2]...)}, // PING and part of DATA
		{err: timeout},
		{data: data[HeaderLen+2:]},
	}
	fr := NewReader(r)
	if fr.Ready() {
		t.Fatal("Ready before any read")
	}
	if _, err := fr.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if fr.Ready() {
		t.Fatal("Ready with only part of the DATA frame buffered")
	}
	if _, err := fr.ReadFrame(); err != timeout {
		t.Fatalf("ReadFrame: %v, want the read error", err)
	}
	if fr.Ready() {
		t.Fatal("Ready after the error was reported")
	}
	if _, err := fr.ReadFrame(); err != nil {
		t.Fatalf("ReadFrame after the error: %v", err)
	}
	if fr.Ready() {
		t.Fatal("Ready with nothing buffered")
	}

	fr = NewReader(bytes.NewReader(append(append([]byte{}, ping...), ping...)))
	if _, err := fr.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if !fr.Ready() {
		t.Fatal("not Ready with a whole PING buffered")
	}
}

// Next tells the header of a frame ReadFrame would return without reading,
// and nothing for a frame still partly unread or after an error.
func TestNext(t *testing.T) {
	ping := AppendPing(nil, false, [8]byte{1})
	data := AppendData(nil, 3, true, []byte("hello"))
	r := &scriptReader{
		{data: append(append([]byte{}, ping...), data[:HeaderLen+2]...)},
		{data: data[HeaderLen+2:]},
	}
	fr := NewReader(r)
	if _, ok := fr.Next(); ok {
		t.Fatal("Next before any read")
	}
	if _, err := fr.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if h, ok := fr.Next(); ok {
		t.Fatalf("Next = %+v with only part of the DATA frame buffered", h)
	}
	fr = NewReader(bytes.NewReader(append(append([]byte{}, ping...), data...)))
	if _, err := fr.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	h, ok := fr.Next()
	want := Header{Length: 5, Type: TypeData, Flags: FlagEndStream, StreamID: 3}
	if !ok || h != want {
		t.Fatalf("Next = %+v, %v; want %+v", h, ok, want)
	}
	if f, err := fr.ReadFrame(); err != nil || f.FrameHeader() != want {
		t.Fatalf("ReadFrame after Next: %v, %v", f, err)
	}
	if _, ok := fr.Next(); ok {
		t.Fatal("Next with nothing buffered")
	}
}
