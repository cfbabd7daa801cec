package rpc

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestCallsWaitingForServerSettingsEndWithTheirContext: until the server's
// first SETTINGS arrive a new connection carries one stream; the other calls
// wait for them, and a call whose context ends meanwhile fails with its
// context's status (DEADLINE_EXCEEDED, CANCELLED), not UNAVAILABLE.
func TestCallsWaitingForServerSettingsEndWithTheirContext(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A server that reads and never answers, not even with SETTINGS.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer lis.Close()
	wg.Go(func() {
		nc, err := lis.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		io.Copy(io.Discard, nc)
	})
	cc, err := Dial(lis.Addr().String(), WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()

	var calls sync.WaitGroup
	for i := range 10 {
		calls.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			want := DeadlineExceeded
			if i%2 == 1 {
				want = Canceled
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			var reply []byte
			err := cc.Invoke(ctx, "/test.Echo/Unary", []byte("m"), &reply)
			if CodeOf(err) != want {
				t.Errorf("call %d: %v, want %v", i, err, want)
			}
		})
	}
	calls.Wait()
}
