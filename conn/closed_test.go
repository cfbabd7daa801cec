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
	if len(cs.ring) != 1 || cs.get(1) != stream.ClosedResetSent || cs.index != nil {
		t.Fatalf("one closed: ring %d, get(1) = %v, index made %v", len(cs.ring), cs.get(1), cs.index != nil)
	}
	const extra = 5
	for i := uint32(1); i < closedMemory+extra; i++ {
		cs.add(2*i+1, stream.Closed)
	}
	if len(cs.ring) != closedMemory || len(cs.index) != 2*closedMemory {
		t.Errorf("ring %d, index %d after %d closed; want %d and %d", len(cs.ring), len(cs.index), closedMemory+extra, closedMemory, 2*closedMemory)
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

// A connection that carried up to closedFew streams holds no index of
// their states; one more makes the index, which finds them all.
func TestClosedStreamsFew(t *testing.T) {
	var cs closedStreams
	cs.add(1, stream.ClosedResetSent)
	for i := uint32(1); i < closedFew; i++ {
		cs.add(2*i+1, stream.ClosedResetRecv)
	}
	if cs.index != nil || cs.get(1) != stream.ClosedResetSent || cs.get(2*closedFew-1) != stream.ClosedResetRecv || cs.get(2*closedFew+1) != stream.Idle {
		t.Fatalf("%d closed: index made %v, get = %v, %v, %v; want no index, reset sent, reset received, idle", closedFew,
			cs.index != nil, cs.get(1), cs.get(2*closedFew-1), cs.get(2*closedFew+1))
	}
	cs.add(2*closedFew+1, stream.Closed)
	if cs.index == nil || cs.get(1) != stream.ClosedResetSent || cs.get(3) != stream.ClosedResetRecv || cs.get(2*closedFew+1) != stream.Closed {
		t.Fatalf("%d closed: index made %v, get = %v, %v, %v", closedFew+1,
			cs.index != nil, cs.get(1), cs.get(3), cs.get(2*closedFew+1))
	}
}

// Ids that share a slot: the later stream takes it and the earlier one is
// forgotten (read as idle, the strictest answer), never mistaken for the
// later; forgetting the oldest does not clear a slot a later stream took.
func TestClosedStreamsSharedSlot(t *testing.T) {
	var cs closedStreams
	for i := uint32(0); i < closedMemory; i++ {
		cs.add(2*i+1, stream.Closed)
	}
	far := uint32(1 + 2*len(cs.index)) // the slot of id 1, which is still in the ring
	cs.add(far, stream.ClosedResetSent)
	// Adding far forgot id 1 as the oldest, whose slot far took.
	if got := cs.get(far); got != stream.ClosedResetSent {
		t.Fatalf("get(%d) = %v, want reset sent", far, got)
	}
	if got := cs.get(1); got != stream.Idle {
		t.Fatalf("get(1) = %v, want idle: forgotten", got)
	}
	// A slot taken from a stream still in the ring.
	near := uint32(2*closedMemory + 1)
	cs.add(near, stream.ClosedResetRecv)                // forgets id 3 as the oldest
	cs.add(near+2*uint32(len(cs.index)), stream.Closed) // takes near's slot
	if got := cs.get(near); got != stream.Idle {
		t.Fatalf("get(%d) = %v, want idle: its slot was taken", near, got)
	}
	if got := cs.get(near + 2*uint32(len(cs.index))); got != stream.Closed {
		t.Fatalf("the later stream of the shared slot reads %v, want closed", got)
	}
	// The streams in between are all still known.
	for id := uint32(7); id < 2*closedMemory; id += 2 {
		if got := cs.get(id); got != stream.Closed {
			t.Fatalf("get(%d) = %v, want closed", id, got)
		}
	}
}

// Every add and every lookup is a few stores and loads, whatever the ids.
func TestClosedStreamsAllocs(t *testing.T) {
	var cs closedStreams
	id := uint32(1)
	for range closedMemory {
		cs.add(id, stream.Closed)
		id += 2
	}
	if n := testing.AllocsPerRun(1000, func() {
		cs.add(id, stream.Closed)
		_ = cs.get(id - 2)
		id += 2
	}); n != 0 {
		t.Fatalf("%v allocations per add on a full ring, want 0", n)
	}
}
