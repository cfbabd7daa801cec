package stream

import (
	"errors"
	"testing"

	"github.com/h2rpc/h2rpc/frame"
)

func TestIDAllocator(t *testing.T) {
	c := NewIDAllocator(true)
	s := NewIDAllocator(false)
	for i, want := range []uint32{1, 3, 5} {
		if got, err := c.Next(); got != want || err != nil {
			t.Fatalf("client id %d: %d, %v; want %d", i, got, err, want)
		}
	}
	for i, want := range []uint32{2, 4, 6} {
		if got, err := s.Next(); got != want || err != nil {
			t.Fatalf("server id %d: %d, %v; want %d", i, got, err, want)
		}
	}
	if !c.IsIdle(7) || c.IsIdle(5) || c.IsIdle(1) {
		t.Errorf("IsIdle wrong for client allocator at next=%d", c.next)
	}

	// The end of the 31-bit space.
	c = IDAllocator{next: frame.MaxStreamID - 2}
	for _, want := range []uint32{frame.MaxStreamID - 2, frame.MaxStreamID} {
		if got, err := c.Next(); got != want || err != nil {
			t.Fatalf("near the end: %d, %v; want %d", got, err, want)
		}
	}
	for range 3 { // stays exhausted, never wraps
		if got, err := c.Next(); got != 0 || !errors.Is(err, ErrIDsExhausted) {
			t.Fatalf("past the end: %d, %v", got, err)
		}
	}
	s = IDAllocator{next: frame.MaxStreamID - 1}
	if got, err := s.Next(); got != frame.MaxStreamID-1 || err != nil {
		t.Fatalf("last server id: %d, %v", got, err)
	}
	if _, err := s.Next(); !errors.Is(err, ErrIDsExhausted) {
		t.Fatalf("server past the end: %v", err)
	}
	var zero IDAllocator
	if _, err := zero.Next(); !errors.Is(err, ErrIDsExhausted) {
		t.Fatalf("zero allocator: %v", err)
	}
}

func TestPeerIDs(t *testing.T) {
	tests := []struct {
		name         string
		peerIsClient bool
		ids          []uint32
		wantErr      []bool
	}{
		{"client increasing", true, []uint32{1, 3, 7, 101}, []bool{false, false, false, false}},
		{"client even", true, []uint32{2}, []bool{true}},
		{"client zero", true, []uint32{0}, []bool{true}},
		{"client reuse", true, []uint32{5, 5}, []bool{false, true}},
		{"client lower", true, []uint32{5, 3}, []bool{false, true}},
		{"client max", true, []uint32{frame.MaxStreamID}, []bool{false}},
		{"client reserved bit", true, []uint32{frame.MaxStreamID + 2}, []bool{true}},
		{"server increasing", false, []uint32{2, 4, 10}, []bool{false, false, false}},
		{"server odd", false, []uint32{1}, []bool{true}},
		{"server lower after error", false, []uint32{4, 3, 2, 6}, []bool{false, true, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPeerIDs(tt.peerIsClient)
			var last uint32
			for i, id := range tt.ids {
				err := p.Open(id)
				if (err != nil) != tt.wantErr[i] {
					t.Fatalf("Open(%d) = %v, want error %v", id, err, tt.wantErr[i])
				}
				if err != nil {
					var ce *frame.ConnError
					if !errors.As(err, &ce) || ce.Code != frame.ErrCodeProtocol {
						t.Fatalf("Open(%d) error %v, want connection PROTOCOL_ERROR", id, err)
					}
					continue
				}
				last = id
			}
			if p.Last() != last {
				t.Errorf("Last() = %d, want %d", p.Last(), last)
			}
			if p.IsIdle(last) || !p.IsIdle(last+2) {
				t.Errorf("IsIdle around %d wrong", last)
			}
		})
	}
}

func TestClientInitiated(t *testing.T) {
	for id, want := range map[uint32]bool{0: false, 1: true, 2: false, 3: true, frame.MaxStreamID: true} {
		if ClientInitiated(id) != want {
			t.Errorf("ClientInitiated(%d) != %v", id, want)
		}
	}
}
