package runner

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hangSystem answers its first calls, then blocks each call until its
// context ends, like a deadlocked transport.
type hangSystem struct{ calls, hangAfter *atomic.Int64 }

func (hangSystem) Name() string           { return "hang" }
func (hangSystem) Supports(s Shape) bool  { return s == ShapeUnary }
func (hangSystem) Start() (Server, error) { return hangServer{}, nil }
func (h hangSystem) Dial(string, DialOptions) (Client, error) {
	return hangClient(h), nil
}

type hangServer struct{}

func (hangServer) Addr() string { return "hang" }
func (hangServer) Close() error { return nil }

type hangClient hangSystem

func (h hangClient) Unary(ctx context.Context, req []byte, resp *[]byte) error {
	if h.calls.Add(1) > h.hangAfter.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	*resp = append((*resp)[:0], req...)
	time.Sleep(time.Millisecond)
	return nil
}
func (hangClient) ServerStream(context.Context, int, int, func(int)) error { return ErrUnsupported }
func (hangClient) PingPong(context.Context) (PingPonger, error)            { return nil, ErrUnsupported }
func (hangClient) Close() error                                            { return nil }

// TestHungSystemFailsItsCell checks a run whose calls never return ends
// with an error once the grace time has passed, its workers cancelled.
func TestHungSystemFailsItsCell(t *testing.T) {
	defer func(g time.Duration) { stopGrace = g }(stopGrace)
	stopGrace = 20 * time.Millisecond
	var calls, hangAfter atomic.Int64
	hangAfter.Store(1 << 62)
	sys := hangSystem{calls: &calls, hangAfter: &hangAfter}
	cell := Cell{Scenario: ScenarioUnary, Size: 16, Concurrency: 4}
	if _, err := measure(sys, cell, 0, 5*time.Millisecond, 20*time.Millisecond); err != nil {
		t.Fatalf("healthy run: %v", err)
	}
	calls.Store(0)
	hangAfter.Store(20)
	_, err := measure(sys, cell, 0, 5*time.Millisecond, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("hung run: error %v, want one saying calls were still running", err)
	}
}
