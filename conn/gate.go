package conn

// signal sends on a capacity-1 channel without blocking; nil is a no-op.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// maxIdleGates bounds the gates a Conn keeps for reuse.
const maxIdleGates = 64

// waitLocked blocks the calling goroutine until *gate (s.readWake or
// s.writeWake) is signalled or, on a client stream, the stream's context
// ends, which resets the stream (see onContextDoneLocked). It publishes a
// gate in *gate, unlocks c.mu while waiting and returns with c.mu held and
// *gate nil again. The caller re-checks its condition: wake-ups may be
// early, never lost.
//
// Gates are recycled through c.gates, so waiting allocates nothing once a
// connection is warm. A gate belongs to one waiting call, from waitLocked's
// start to its end, and is published in the stream only meanwhile, under
// c.mu: once the waiter has taken it back nobody can signal it any more, and
// the token a late signal may have left is drained before it is reused.
// (The free list is per connection, not global, so that a connection made
// in a testing/synctest bubble keeps its channels there.)
func (c *Conn) waitLocked(s *Stream, gate *chan struct{}) {
	var ctxDone <-chan struct{} // nil (never ready) unless a client stream's context can end
	if c.role == roleClient && !(gate == &s.writeWake && s.inflight) {
		// (A write whose data is being written waits for that write to
		// end, whatever the context: the kernel may still read its slice.)
		ctxDone = s.ctx.Done()
	}
	var ch chan struct{}
	if n := len(c.gates); n > 0 {
		ch = c.gates[n-1]
		c.gates = c.gates[:n-1]
	} else {
		ch = make(chan struct{}, 1)
	}
	*gate = ch
	c.waiters++
	ended := false
	lead := false
	if gate == &s.readWake {
		// Any goroutine waiting for its stream's frames may lead
		// (lead.go).
		s.readWoken = false
		lead = c.readRole == roleFree
	}
	if lead {
		if s.leadStop == nil {
			s.leadStop = c.leadWatchLocked(s)
		}
		switch {
		case s.leadStop != nil && s.ctx.Err() != nil:
			// The context ended before this wait (its watcher, firing
			// while nobody led for s, did nothing): as for a follower.
			ended = true
		default:
			c.leadLocked(s, ch) // lead.go: read until ch is signalled
			// A lead that ended without our frames because the context
			// ended: as for a follower below.
			ended = s.leadStop != nil && len(ch) == 0 && s.ctx.Err() != nil
		}
	} else {
		c.needReaderLocked()
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctxDone:
			ended = true
		}
		c.mu.Lock()
	}
	c.waiters--
	*gate = nil
	if ended {
		s.onContextDoneLocked()
	}
	select {
	case <-ch: // a second signal came before we took the gate back
	default:
	}
	if len(c.gates) < maxIdleGates {
		c.gates = append(c.gates, ch)
	}
}
