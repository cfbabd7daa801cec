package frame

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// pattern returns n octets that differ from one offset to the next.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// A large DATA frame read in split mode comes in parts as its bytes
// arrive, through a buffer that does not grow to the frame's size; the
// parts carry the whole frame's header, the first without Cont, the last
// without More, and together the data without its padding.
func TestSplitDataParts(t *testing.T) {
	data := pattern(300 << 10)
	df := appendDataPadded(nil, 5, true, data, 200)
	stream := cat(df, AppendPing(nil, false, [8]byte{9}))
	fr := NewReader(&chunkReader{data: stream, size: 7000})
	fr.SetMaxFrameSize(1 << 20)
	fr.SetSplitData(true)
	var got []byte
	parts := 0
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("ReadFrame after %d parts: %v", parts, err)
		}
		d, ok := f.(*DataFrame)
		if !ok {
			t.Fatalf("part %d: %T, want *DataFrame", parts, f)
		}
		if d.Cont != (parts > 0) || d.Length != uint32(len(df)-HeaderLen) || d.StreamID != 5 || !d.StreamEnded() || d.PadLen != 200 {
			t.Fatalf("part %d: header %+v, pad %d, Cont %v", parts, d.Header, d.PadLen, d.Cont)
		}
		if cap(fr.buf) > 64<<10 {
			t.Fatalf("part %d: buffer of %d octets, want at most 64 KiB", parts, cap(fr.buf))
		}
		got = append(got, d.Data...)
		parts++
		if !d.More {
			break
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("parts carry %d octets, not the frame's %d of data", len(got), len(data))
	}
	if parts < 10 {
		t.Fatalf("%d parts, want one per read at least", parts)
	}
	f, err := fr.ReadFrame()
	if p, ok := f.(*PingFrame); err != nil || !ok || p.Data != [8]byte{9} {
		t.Fatalf("after the parts: %v, %v; want the PING", f, err)
	}
	if _, err := fr.ReadFrame(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

// A DATA frame of the default maximum size or less is returned whole in
// split mode; so is any frame without it.
func TestSplitDataOnlyLarge(t *testing.T) {
	small := AppendData(nil, 1, false, pattern(DefaultMaxFrameSize))
	large := AppendData(nil, 3, false, pattern(40000))
	for _, tc := range []struct {
		name  string
		split bool
		chunk int
		frame []byte
		whole bool
	}{
		{"16 KiB in small reads", true, 1000, small, true},
		{"40000 in small reads", true, 1000, large, false},
		{"40000 without split", false, 1000, large, true},
	} {
		fr := NewReader(&chunkReader{data: tc.frame, size: tc.chunk})
		fr.SetMaxFrameSize(1 << 20)
		fr.SetSplitData(tc.split)
		f, err := fr.ReadFrame()
		d, _ := f.(*DataFrame)
		if err != nil || d == nil {
			t.Fatalf("%s: %v, %v", tc.name, f, err)
		}
		if whole := !d.More && len(d.Data) == len(tc.frame)-HeaderLen; whole != tc.whole {
			t.Errorf("%s: %d octets, More %v; want whole %v", tc.name, len(d.Data), d.More, tc.whole)
		}
	}
}

// readLens records the length of every Read's buffer.
type readLens struct {
	r    io.Reader
	lens []int
}

func (r *readLens) Read(p []byte) (int, error) {
	r.lens = append(r.lens, len(p))
	return r.r.Read(p)
}

// ReadData takes what is buffered of the frame first, then reads the rest
// with Reads into the caller's slice, never past the frame's data; the
// padding and the next frame are read through the buffer as usual.
func TestSplitDataReadData(t *testing.T) {
	data := pattern(100 << 10)
	df := appendDataPadded(nil, 1, false, data, 10)
	stream := cat(df, AppendData(nil, 1, true, []byte("next")))
	rl := &readLens{r: &chunkReader{data: stream, size: 30000}}
	fr := NewReader(rl)
	fr.SetMaxFrameSize(1 << 20)
	fr.SetSplitData(true)
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	d := f.(*DataFrame)
	first := len(d.Data)
	if !d.More || fr.DataLeft() != len(data)-first {
		t.Fatalf("first part %d octets, More %v, DataLeft %d", first, d.More, fr.DataLeft())
	}
	got := append(make([]byte, 0, len(data)), d.Data...)
	dst := make([]byte, len(data)+100)[first:]
	reads := len(rl.lens)
	for fr.DataLeft() > 0 {
		n, err := fr.ReadData(dst)
		if err != nil || n == 0 {
			t.Fatalf("ReadData = %d, %v with %d left", n, err, fr.DataLeft())
		}
		got = append(got, dst[:n]...)
		dst = dst[n:]
	}
	if !bytes.Equal(got, data) {
		t.Fatal("ReadData returned other octets than the frame's data")
	}
	for _, n := range rl.lens[reads:] {
		if n > len(data) {
			t.Fatalf("a Read for the frame's data of %d octets, past its end", n)
		}
	}
	if n, err := fr.ReadData(dst); n != 0 || err != nil {
		t.Fatalf("ReadData past the frame = %d, %v", n, err)
	}
	f, err = fr.ReadFrame()
	if d, ok := f.(*DataFrame); err != nil || !ok || string(d.Data) != "next" || d.Cont {
		t.Fatalf("the next frame: %v, %v", f, err)
	}
}

// UnreadData gives back the end of a DATA frame returned whole or of a
// part: the next ReadFrame returns it as a later part, and the padding and
// the next frame follow intact.
func TestUnreadData(t *testing.T) {
	df := appendDataPadded(nil, 7, true, []byte("0123456789"), 3)
	fr := NewReader(bytes.NewReader(cat(df, AppendPing(nil, true, [8]byte{1}))))
	f, err := fr.ReadFrame()
	if err != nil || string(f.(*DataFrame).Data) != "0123456789" {
		t.Fatalf("ReadFrame = %v, %v", f, err)
	}
	fr.UnreadData(6)
	if !fr.Ready() || fr.DataLeft() != 6 {
		t.Fatalf("after UnreadData(6): Ready %v, DataLeft %d", fr.Ready(), fr.DataLeft())
	}
	if _, ok := fr.Next(); ok {
		t.Fatal("Next reports a frame while one is returned in parts")
	}
	f, err = fr.ReadFrame()
	d := f.(*DataFrame)
	if err != nil || string(d.Data) != "456789" || !d.Cont || d.More || d.StreamID != 7 || !d.StreamEnded() {
		t.Fatalf("the given back part: %+v, %v", d, err)
	}
	fr.UnreadData(2) // a part, too
	var dst [10]byte
	if n, err := fr.ReadData(dst[:]); n != 2 || err != nil || string(dst[:2]) != "89" {
		t.Fatalf("ReadData = %d %q, %v", n, dst[:n], err)
	}
	fr.UnreadData(1) // what ReadData took from the buffer
	if n, err := fr.ReadData(dst[:]); n != 1 || err != nil || dst[0] != '9' {
		t.Fatalf("ReadData = %d %q, %v", n, dst[:n], err)
	}
	if h, ok := fr.Next(); !ok || h.Type != TypePing {
		t.Fatalf("Next = %v, %v; want the PING past the padding", h, ok)
	}
	f, err = fr.ReadFrame()
	if _, ok := f.(*PingFrame); err != nil || !ok {
		t.Fatalf("after the DATA frame: %v, %v", f, err)
	}
	fr.UnreadData(5) // not after DATA: nothing to give back
	if _, err := fr.ReadFrame(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

// The checks of a whole DATA frame hold for one in parts: too large, on
// stream 0, padding too long; a frame cut short is io.ErrUnexpectedEOF;
// a timeout inside its data leaves the Reader able to go on.
func TestSplitDataErrors(t *testing.T) {
	big := pattern(50000)
	open := func(b []byte, chunk int) *Reader {
		fr := NewReader(&chunkReader{data: b, size: chunk})
		fr.SetMaxFrameSize(1 << 16)
		fr.SetSplitData(true)
		return fr
	}
	wantConn := func(name string, err error, code ErrCode) {
		t.Helper()
		var ce *ConnError
		if !errors.As(err, &ce) || ce.Code != code {
			t.Errorf("%s: %v, want a connection error %v", name, err, code)
		}
	}
	_, err := open(AppendData(nil, 1, false, pattern(1<<16+1)), 1000).ReadFrame()
	wantConn("over SETTINGS_MAX_FRAME_SIZE", err, ErrCodeFrameSize)
	_, err = open(rawFrame(TypeData, 0, 0, big), 1000).ReadFrame()
	wantConn("stream 0", err, ErrCodeProtocol)
	// (Padding longer than the payload cannot happen here: a frame in
	// parts is over 16 KiB, its padding at most 255 octets.)
	short := cat(rawFrameLen(20000, TypeData, FlagPadded, 1, []byte{250}), make([]byte, 10))
	fr := open(short, 5)
	f, err := fr.ReadFrame()
	if err != nil || !f.(*DataFrame).More || f.(*DataFrame).PadLen != 250 {
		t.Fatalf("first part: %v, %v", f, err)
	}
	for err == nil {
		_, err = fr.ReadFrame()
	}
	if err != io.ErrUnexpectedEOF {
		t.Errorf("frame cut short: %v, want io.ErrUnexpectedEOF", err)
	}

	// A timeout inside the data: ReadData returns it, and the Reader
	// goes on where it stopped.
	df := AppendData(nil, 1, true, big)
	r := &scriptReader{
		{df[:HeaderLen+100], nil},
		{df[HeaderLen+100 : HeaderLen+30000], iotest.ErrTimeout},
		{df[HeaderLen+30000:], nil},
	}
	fr = NewReader(r)
	fr.SetMaxFrameSize(1 << 16)
	fr.SetSplitData(true)
	f, err = fr.ReadFrame()
	if err != nil || len(f.(*DataFrame).Data) != 100 {
		t.Fatalf("first part: %v, %v", f, err)
	}
	got := append([]byte(nil), f.(*DataFrame).Data...)
	dst := make([]byte, len(big))
	timeouts := 0
	for fr.DataLeft() > 0 {
		n, err := fr.ReadData(dst)
		got = append(got, dst[:n]...)
		if err == iotest.ErrTimeout {
			timeouts++
			continue
		}
		if err != nil {
			t.Fatalf("ReadData: %v", err)
		}
	}
	if timeouts != 1 || !bytes.Equal(got, big) {
		t.Fatalf("%d timeouts, %d octets read; want 1 and the frame's data", timeouts, len(got))
	}
}

// appendDataPadded appends a padded DATA frame.
func appendDataPadded(b []byte, id uint32, end bool, data []byte, pad uint8) []byte {
	flags := FlagPadded
	if end {
		flags |= FlagEndStream
	}
	return (&DataFrame{Header: Header{StreamID: id, Flags: flags}, Data: data, PadLen: pad}).AppendTo(b)
}

// record is one frame as a caller sees it: its header and, for DATA, all
// of its data.
type record struct {
	h    Header
	data []byte
}

// FuzzSplitData reads the same bytes whole and in split mode, the latter
// in small reads and taking DATA through ReadFrame, ReadData and
// UnreadData as the input bytes choose: every frame the split reader
// completes is the frame the whole reader returned, in order, with the
// same data.
func FuzzSplitData(f *testing.F) {
	for _, u := range units() {
		f.Add(u.data, []byte{1, 2, 0, 3})
	}
	f.Add(cat(AppendData(nil, 1, false, pattern(40000)), AppendPing(nil, false, [8]byte{})), []byte{0, 1, 2, 1, 1})
	f.Add(cat(appendDataPadded(nil, 3, true, pattern(20000), 9), AppendData(nil, 3, true, []byte("x"))), []byte{1, 1, 2, 0, 2, 1})
	f.Add(cat(AppendData(nil, 1, false, pattern(17000)), AppendData(nil, 0, false, pattern(17000))), []byte{2, 2, 1})
	f.Fuzz(func(t *testing.T, in, ops []byte) {
		if len(ops) == 0 {
			ops = []byte{0}
		}
		var whole []record
		wr := NewReader(bytes.NewReader(in))
		wr.SetMaxFrameSize(1 << 16)
		for range len(in)/HeaderLen + 1 {
			f, err := wr.ReadFrame()
			if err != nil {
				var se *StreamError
				if errors.As(err, &se) {
					whole = append(whole, record{h: f.FrameHeader()})
					continue
				}
				break
			}
			r := record{h: f.FrameHeader()}
			if d, ok := f.(*DataFrame); ok {
				r.data = bytes.Clone(d.Data)
			}
			whole = append(whole, r)
		}

		var split []record
		var cur *record // a DATA frame still coming
		sr := NewReader(&chunkReader{data: in, size: 1 + int(ops[0])*97})
		sr.SetMaxFrameSize(1 << 16)
		sr.SetSplitData(true)
		flush := func() {
			if cur != nil && sr.DataLeft() == 0 {
				split = append(split, *cur)
				cur = nil
			}
		}
		last := 0 // octets the last call returned that UnreadData may give back
		buf := make([]byte, 1<<16)
		for i := 0; i < 4*len(in)+16; i++ {
			op := ops[i%len(ops)]
			switch {
			case op%3 == 1 && sr.DataLeft() > 0:
				n, err := sr.ReadData(buf[:1+int(op)*131])
				cur.data = append(cur.data, buf[:n]...)
				last = n
				if err != nil {
					i = 1 << 30
				}
				continue
			case op%3 == 2 && cur != nil && last > 0:
				k := sr.UnreadData(1 + int(op)%last)
				cur.data = cur.data[:len(cur.data)-k]
				last = 0
				continue
			}
			flush()
			f, err := sr.ReadFrame()
			last = 0
			if err != nil {
				var se *StreamError
				if errors.As(err, &se) {
					split = append(split, record{h: f.FrameHeader()})
					continue
				}
				break
			}
			d, ok := f.(*DataFrame)
			switch {
			case ok && d.Cont:
				if cur == nil {
					t.Fatal("a later part with no frame begun")
				}
				cur.data = append(cur.data, d.Data...)
				last = len(d.Data)
			case ok:
				if cur != nil {
					t.Fatal("a new DATA frame before the last one's data ended")
				}
				cur = &record{h: d.Header, data: bytes.Clone(d.Data)}
				last = len(d.Data)
			default:
				if cur != nil {
					t.Fatalf("%v before the DATA frame's data ended", f.FrameHeader().Type)
				}
				split = append(split, record{h: f.FrameHeader()})
			}
		}
		flush()
		if len(split) > len(whole) {
			t.Fatalf("split reader completed %d frames, whole reader %d", len(split), len(whole))
		}
		for i, r := range split {
			w := whole[i]
			if r.h != w.h || !bytes.Equal(r.data, w.data) {
				t.Fatalf("frame %d: split %v with %d octets of data, whole %v with %d", i, r.h, len(r.data), w.h, len(w.data))
			}
		}
	})
}
