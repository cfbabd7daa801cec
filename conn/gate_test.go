package conn

import (
	"context"
	"runtime"
	"testing"
)

// A wait reuses the connection's gates: once warm it allocates nothing (a
// gate made per wait costs one allocation), and a gate goes back to the
// free list empty even when a second signal came before the waiter took
// it back, so it can never wake its next waiter early.
func TestWaitReusesGates(t *testing.T) {
	c := &Conn{role: roleServer}
	s := &Stream{c: c, ctx: context.Background()}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() { // signals every gate s publishes, as often as it can
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			c.mu.Lock()
			signal(s.readWake)
			c.mu.Unlock()
			runtime.Gosched()
		}
	}()
	defer func() { close(stop); <-stopped }()

	wait := func() {
		c.mu.Lock()
		c.waitLocked(s, &s.readWake)
		if s.readWake != nil {
			t.Error("the gate is still published after the wait")
		}
		if n := len(c.gates); n != 1 {
			t.Errorf("%d gates kept after a wait, want 1", n)
		} else if len(c.gates[0]) != 0 {
			t.Error("a kept gate holds a token")
		}
		c.mu.Unlock()
	}
	wait()
	first := c.gates[0]
	wait()
	if c.gates[0] != first {
		t.Error("the second wait made a new gate")
	}
	if n := testing.AllocsPerRun(100, wait); n != 0 {
		t.Errorf("a wait allocates %v times, want 0", n)
	}
}
