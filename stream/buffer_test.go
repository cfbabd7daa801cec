package stream

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/h2rpc/h2rpc/flowcontrol"
)

func TestRecvBufferCap(t *testing.T) {
	var b RecvBuffer
	if err := b.Write([]byte{1}); !errors.Is(err, ErrBufferFull) {
		t.Fatalf("zero limit accepted a write: %v", err)
	}
	if err := b.Write(nil); err != nil {
		t.Fatalf("empty write on a zero limit: %v", err)
	}
	b.SetLimit(flowcontrol.DefaultWindow)
	data := bytes.Repeat([]byte("x"), flowcontrol.DefaultWindow)
	if err := b.Write(data[:flowcontrol.DefaultWindow-1]); err != nil {
		t.Fatal(err)
	}
	err := b.Write(data[:2])
	if !errors.Is(err, ErrBufferFull) || !errors.Is(err, flowcontrol.ErrExceeded) {
		t.Fatalf("write past the limit: %v", err)
	}
	if b.Len() != flowcontrol.DefaultWindow-1 {
		t.Fatalf("rejected write changed Len to %d", b.Len())
	}
	if err := b.Write(data[:1]); err != nil {
		t.Fatalf("write filling exactly to the limit: %v", err)
	}
	if got := len(b.chunks) - b.head; got != (flowcontrol.DefaultWindow+chunkSize-1)/chunkSize {
		t.Errorf("%d chunks hold %d bytes", got, b.Len())
	}
	// Draining makes room again.
	p := make([]byte, 1000)
	if n := b.Read(p); n != 1000 {
		t.Fatalf("Read = %d", n)
	}
	if err := b.Write(data[:1000]); err != nil {
		t.Fatalf("write after drain: %v", err)
	}
	if err := b.Write(data[:1]); !errors.Is(err, ErrBufferFull) {
		t.Fatalf("write past refilled limit: %v", err)
	}
	if n := b.Reset(); n != flowcontrol.DefaultWindow {
		t.Fatalf("Reset = %d", n)
	}
	if b.Len() != 0 || b.Read(p) != 0 || b.Limit() != flowcontrol.DefaultWindow {
		t.Fatalf("after Reset: len %d limit %d", b.Len(), b.Limit())
	}
	if n := b.Reset(); n != 0 {
		t.Fatalf("second Reset = %d", n)
	}
}

// TestRecvBufferRandom checks FIFO order against a plain byte slice for
// random write and read sizes, spanning chunk boundaries.
func TestRecvBufferRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var b RecvBuffer
	b.SetLimit(1 << 18)
	var model []byte
	var counter byte
	maxChunks := 0
	for range 4000 {
		if r.IntN(2) == 0 {
			n := r.IntN(3 * chunkSize)
			if r.IntN(10) == 0 {
				n = r.IntN(10)
			}
			p := make([]byte, n)
			for i := range p {
				counter++
				p[i] = counter
			}
			err := b.Write(p)
			if len(model)+n > b.Limit() {
				if !errors.Is(err, ErrBufferFull) {
					t.Fatalf("over-limit write: %v", err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			model = append(model, p...)
		} else {
			p := make([]byte, r.IntN(2*chunkSize))
			n := b.Read(p)
			want := min(len(p), len(model))
			if n != want || !bytes.Equal(p[:n], model[:n]) {
				t.Fatalf("Read %d bytes, want %d matching", n, want)
			}
			model = model[n:]
		}
		if b.Len() != len(model) {
			t.Fatalf("Len %d, model %d", b.Len(), len(model))
		}
		maxChunks = max(maxChunks, len(b.chunks))
	}
	// The queue never holds more chunk slots than the limit needs, plus slack
	// for the compaction.
	if bound := 2 * (b.Limit()/chunkSize + 2); maxChunks > bound {
		t.Errorf("queue grew to %d slots, bound %d", maxChunks, bound)
	}
}

func TestRecvBufferReadEmpty(t *testing.T) {
	var b RecvBuffer
	b.SetLimit(10)
	if n := b.Read(make([]byte, 5)); n != 0 {
		t.Fatalf("Read on empty = %d", n)
	}
	if err := b.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if n := b.Read(nil); n != 0 || b.Len() != 5 {
		t.Fatalf("Read(nil) = %d, Len %d", n, b.Len())
	}
	p := make([]byte, 10)
	if n := b.Read(p); n != 5 || string(p[:n]) != "hello" {
		t.Fatalf("Read = %q", p[:n])
	}
	// Lowering the limit below Len keeps the data but refuses writes.
	if err := b.Write([]byte("abcdefgh")); err != nil {
		t.Fatal(err)
	}
	b.SetLimit(4)
	if err := b.Write([]byte("z")); !errors.Is(err, ErrBufferFull) {
		t.Fatalf("write above a lowered limit: %v", err)
	}
	if n := b.Read(p); n != 8 || string(p[:n]) != "abcdefgh" {
		t.Fatalf("Read after SetLimit = %q", p[:n])
	}
}

// TestRecvBufferAllocs checks that steady-state streaming allocates nothing
// per frame: chunks come back from the pool, the queue slice is reused.
func TestRecvBufferAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector; run without -race")
	}
	var b RecvBuffer
	b.SetLimit(flowcontrol.DefaultWindow)
	frameData := make([]byte, 16384)
	small := make([]byte, 100)
	p := make([]byte, 8192)
	step := func() {
		_ = b.Write(frameData)
		_ = b.Write(small)
		for b.Len() > 0 {
			b.Read(p)
		}
	}
	step() // warm the pool and the queue slice
	if allocs := testing.AllocsPerRun(1000, step); allocs != 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
}

func BenchmarkRecvBuffer(b *testing.B) {
	var buf RecvBuffer
	buf.SetLimit(flowcontrol.DefaultWindow)
	frameData := make([]byte, 16384)
	p := make([]byte, 32<<10)
	b.SetBytes(int64(len(frameData)))
	b.ReportAllocs()
	for b.Loop() {
		if err := buf.Write(frameData); err != nil {
			b.Fatal(err)
		}
		if buf.Len() >= 2*len(frameData) {
			buf.Read(p)
		}
	}
}

// TestRecvBufferFreshAllocs checks that a fresh buffer (a new stream's)
// holding a message of up to two chunks allocates nothing: the chunks come
// from the pool and the queue starts in the buffer itself.
func TestRecvBufferFreshAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector; run without -race")
	}
	msg := make([]byte, chunkSize+100)
	p := make([]byte, 8192)
	bufs := make([]RecvBuffer, 200)
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		b := &bufs[i]
		i++
		b.SetLimit(flowcontrol.DefaultWindow)
		if err := b.Write(msg); err != nil {
			t.Fatal(err)
		}
		for b.Read(p) > 0 {
		}
	})
	if allocs != 0 {
		t.Errorf("a fresh buffer allocates %v times for one message, want 0", allocs)
	}
}
