package conn

import (
	"testing"

	"github.com/h2rpc/h2rpc/stream"
)

// closedStreams remembers the last closedMemory closed streams, in a ring
// that grows only as streams close.
func TestClosedStreamsMemory(t *testing.T) {
	var cs closedStreams
	if got := cs.get(1); got != stream.Idle {
		t.Fatalf("empty: get(1) = %v, want idle", got)
	}
	cs.add(1, stream.ClosedResetSent)
	if len(cs.ring) != 1 || cs.get(1) != stream.ClosedResetSent || cs.state != nil {
		t.Fatalf("one closed: ring %d, get(1) = %v, map made %v", len(cs.ring), cs.get(1), cs.state != nil)
	}
	const extra = 5
	for i := uint32(1); i < closedMemory+extra; i++ {
		cs.add(2*i+1, stream.Closed)
	}
	if len(cs.ring) != closedMemory || len(cs.state) != closedMemory {
		t.Errorf("ring %d, map %d after %d closed; want both %d", len(cs.ring), len(cs.state), closedMemory+extra, closedMemory)
	}
	for i := uint32(0); i < closedMemory+extra; i++ {
		id := 2*i + 1
		want := stream.Closed
		if i < extra {
			want = stream.Idle // forgotten, oldest first
		}
		if got := cs.get(id); got != want {
			t.Errorf("get(%d) = %v, want %v", id, got, want)
		}
	}
}

// A connection that carried up to closedFew streams holds no map of their
// states; one more moves them into the map, which keeps them.
func TestClosedStreamsFew(t *testing.T) {
	var cs closedStreams
	cs.add(1, stream.ClosedResetSent)
	for i := uint32(1); i < closedFew; i++ {
		cs.add(2*i+1, stream.ClosedResetRecv)
	}
	if cs.state != nil || cs.get(1) != stream.ClosedResetSent || cs.get(2*closedFew-1) != stream.ClosedResetRecv || cs.get(2*closedFew+1) != stream.Idle {
		t.Fatalf("%d closed: map made %v, get = %v, %v, %v; want no map, reset sent, reset received, idle", closedFew,
			cs.state != nil, cs.get(1), cs.get(2*closedFew-1), cs.get(2*closedFew+1))
	}
	cs.add(2*closedFew+1, stream.Closed)
	if cs.state == nil || cs.few != nil || cs.get(1) != stream.ClosedResetSent || cs.get(3) != stream.ClosedResetRecv || cs.get(2*closedFew+1) != stream.Closed {
		t.Fatalf("%d closed: map made %v, few kept %v, get = %v, %v, %v", closedFew+1,
			cs.state != nil, cs.few != nil, cs.get(1), cs.get(3), cs.get(2*closedFew+1))
	}
}
