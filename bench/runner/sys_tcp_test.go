package runner

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestTCPPipelined checks the tcp floor's batching under pipelining: calls
// of mixed sizes from several goroutines, some copied into the write batch
// and some written from the caller's slice, each get their own answer.
func TestTCPPipelined(t *testing.T) {
	srv, err := tcpSystem{}.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := tcpSystem{}.Dial(srv.Addr(), DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sizes := []int{1, 300, tcpCopyMax, tcpCopyMax + 1, 70_000, 300_000}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			var resp []byte
			for i := range 40 {
				req := bytes.Repeat([]byte{byte(g), byte(i)}, sizes[(g+i)%len(sizes)]/2+1)
				if err := c.Unary(context.Background(), req, &resp); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(resp, req) {
					errs <- fmt.Errorf("goroutine %d call %d: %d bytes back for %d, or other bytes", g, i, len(resp), len(req))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
