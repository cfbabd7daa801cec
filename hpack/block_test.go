package hpack

import (
	"bytes"
	"errors"
	"testing"
)

func TestBlockBufferSingleFrame(t *testing.T) {
	b := NewBlockBuffer(Limits{})
	frag := []byte{0x88}
	block, done, err := b.Start(1, frag, true)
	if err != nil || !done || &block[0] != &frag[0] {
		t.Fatalf("Start with END_HEADERS = %v, %v, %v; want the fragment itself, done", block, done, err)
	}
	if _, ok := b.InProgress(); ok {
		t.Fatal("block open after END_HEADERS")
	}
}

func TestBlockBufferReassembles(t *testing.T) {
	enc := NewEncoder()
	whole := enc.AppendBlock(nil, grpcRequest...)
	b := NewBlockBuffer(Limits{})
	for round := 0; round < 3; round++ { // the buffer is reused
		if _, done, err := b.Start(3, whole[:5], false); err != nil || done {
			t.Fatalf("Start: %v, %v", done, err)
		}
		if id, ok := b.InProgress(); !ok || id != 3 {
			t.Fatalf("InProgress = %d, %v", id, ok)
		}
		if _, done, err := b.Continue(3, whole[5:10], false); err != nil || done {
			t.Fatalf("Continue: %v, %v", done, err)
		}
		if _, done, err := b.Continue(3, nil, false); err != nil || done { // empty fragments are legal
			t.Fatalf("Continue empty: %v, %v", done, err)
		}
		block, done, err := b.Continue(3, whole[10:], true)
		if err != nil || !done || !bytes.Equal(block, whole) {
			t.Fatalf("last Continue = % x, %v, %v", block, done, err)
		}
		if _, ok := b.InProgress(); ok {
			t.Fatal("block open after END_HEADERS")
		}
		whole = NewEncoder().AppendBlock(nil, grpcRequest...) // long enough to split again
	}
}

func TestBlockBufferBounds(t *testing.T) {
	l := Limits{MaxBlockSize: 100, MaxContinuations: 3}
	t.Run("RFC 9113 §6.10 CONTINUATION without a block", func(t *testing.T) {
		b := NewBlockBuffer(l)
		if _, _, err := b.Continue(1, []byte{1}, true); !errors.Is(err, ErrBlockSequence) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("RFC 9113 §6.10 CONTINUATION on another stream", func(t *testing.T) {
		b := NewBlockBuffer(l)
		b.Start(1, []byte{1}, false)
		if _, _, err := b.Continue(3, []byte{1}, true); !errors.Is(err, ErrBlockSequence) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("RFC 9113 §6.10 HEADERS inside a block", func(t *testing.T) {
		b := NewBlockBuffer(l)
		b.Start(1, []byte{1}, false)
		if _, _, err := b.Start(3, []byte{1}, true); !errors.Is(err, ErrBlockSequence) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("first fragment too large", func(t *testing.T) {
		b := NewBlockBuffer(l)
		if _, _, err := b.Start(1, make([]byte, 101), true); !errors.Is(err, ErrBlockTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("exactly the limit", func(t *testing.T) {
		b := NewBlockBuffer(l)
		b.Start(1, make([]byte, 50), false)
		if block, done, err := b.Continue(1, make([]byte, 50), true); err != nil || !done || len(block) != 100 {
			t.Fatalf("%d, %v, %v", len(block), done, err)
		}
	})
	t.Run("fragments add up past the limit", func(t *testing.T) {
		b := NewBlockBuffer(l)
		b.Start(1, make([]byte, 50), false)
		if _, _, err := b.Continue(1, make([]byte, 51), false); !errors.Is(err, ErrBlockTooLarge) {
			t.Fatalf("err = %v", err)
		}
		if _, ok := b.InProgress(); ok {
			t.Fatal("block still open after the error")
		}
	})
	t.Run("CVE-2023-45288 flood of empty CONTINUATION frames", func(t *testing.T) {
		b := NewBlockBuffer(l)
		b.Start(1, nil, false)
		var err error
		n := 0
		for ; n < 1000 && err == nil; n++ {
			_, _, err = b.Continue(1, nil, false)
		}
		if !errors.Is(err, ErrTooManyContinuations) || n != 4 {
			t.Fatalf("after %d CONTINUATION frames: err = %v, want ErrTooManyContinuations on the 4th", n, err)
		}
	})
	t.Run("the limit number of CONTINUATION frames is fine", func(t *testing.T) {
		b := NewBlockBuffer(l)
		b.Start(1, nil, false)
		b.Continue(1, nil, false)
		b.Continue(1, nil, false)
		if _, done, err := b.Continue(1, []byte{0x88}, true); err != nil || !done {
			t.Fatalf("%v, %v", done, err)
		}
	})
}

// TestBlockBufferReleasesBigBuffers: a buffer grown for one big block is not
// kept by an idle connection.
func TestBlockBufferReleasesBigBuffers(t *testing.T) {
	b := NewBlockBuffer(Limits{})
	b.Start(1, make([]byte, 40<<10), false)
	block, _, err := b.Continue(1, make([]byte, 10<<10), true)
	if err != nil || len(block) != 50<<10 {
		t.Fatalf("%d, %v", len(block), err)
	}
	if cap(b.buf) != 0 {
		t.Fatalf("kept a %d-byte buffer", cap(b.buf))
	}
}
