package stream

import (
	"errors"
	"testing"

	"github.com/h2rpc/h2rpc/frame"
)

// FuzzTransitions applies arbitrary sequences of sent and received frames
// and checks the machine's invariants: no panic, a state is always one of
// the nine, an error leaves the state unchanged and has the documented type,
// and a closed stream never reopens.
func FuzzTransitions(f *testing.F) {
	f.Add([]byte{0x01, 0x81, 0x00, 0x80})             // recv HEADERS, send HEADERS...
	f.Add([]byte{0x41, 0x03, 0x00, 0xc0, 0x08, 0x88}) // with END_STREAM, resets, updates
	f.Add([]byte{0x20, 0x21, 0x05, 0x85})             // promises
	f.Fuzz(func(t *testing.T, ops []byte) {
		s := Idle
		for _, op := range ops {
			send := op&0x80 != 0
			es := op&0x40 != 0
			var next State
			var err error
			switch {
			case op&0x20 != 0 && op&0x10 == 0:
				if send {
					next, err = s.SendPromise()
				} else {
					next, err = s.RecvPromise()
				}
			default:
				ft := frame.Type(op & 0x0f) // includes unknown types 0xa..0xf
				if send {
					next, err = s.Send(ft, es)
				} else {
					next, err = s.Recv(ft, es)
				}
			}
			if int(next) >= len(stateNames) {
				t.Fatalf("op %#x from %v: invalid state %d", op, s, next)
			}
			if err != nil {
				if next != s {
					t.Fatalf("op %#x from %v: error %v but state moved to %v", op, s, err, next)
				}
				var ce *frame.ConnError
				var se *frame.StreamError
				if !errors.Is(err, ErrInvalidSend) && !errors.As(err, &ce) && !errors.As(err, &se) {
					t.Fatalf("op %#x from %v: untyped error %v", op, s, err)
				}
				if send != errors.Is(err, ErrInvalidSend) {
					t.Fatalf("op %#x from %v: send=%v but error %v", op, s, send, err)
				}
				continue
			}
			if s.IsClosed() && !next.IsClosed() {
				t.Fatalf("op %#x: closed stream %v reopened as %v", op, s, next)
			}
			s = next
		}
	})
}

// TestTransitionsDoNotAllocate checks that the accepted path, the one every
// frame takes, costs no allocation.
func TestTransitionsDoNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		s, _ := Idle.Recv(frame.TypeHeaders, false)
		s, _ = s.Recv(frame.TypeData, false)
		s, _ = s.Recv(frame.TypeData, true)
		s, _ = s.Send(frame.TypeHeaders, false)
		s, _ = s.Send(frame.TypeData, false)
		s, _ = s.Send(frame.TypeHeaders, true)
		if s != Closed {
			t.Fatalf("lifecycle ended in %v", s)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per stream lifecycle, want 0", allocs)
	}
}

// BenchmarkRecvData measures the per-frame cost of the state check on the
// hot path: no allocation, a few nanoseconds.
func BenchmarkRecvData(b *testing.B) {
	b.ReportAllocs()
	s := Open
	for b.Loop() {
		next, err := s.Recv(frame.TypeData, false)
		if err != nil || next != Open {
			b.Fatal(next, err)
		}
	}
}
