package conn_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
)

// TestClientWaitsForServerSettings: before the server's first SETTINGS a
// client opens one stream, not a guess at the server's limit; the rest wait,
// each under its own context, and go once the SETTINGS say how many may.
func TestClientWaitsForServerSettings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nc, p := newClientPipe(t)
		c, _ := conn.Client(nc, nil)
		defer c.Close()
		if _, err := c.OpenStream(context.Background(), request("/"), nil, conn.EndStream); err != nil {
			t.Fatalf("the first stream: %v", err)
		}
		for range 50 {
			go c.OpenStream(context.Background(), request("/"), nil, conn.EndStream)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		waited := make(chan error, 1)
		go func() {
			_, err := c.OpenStream(ctx, request("/"), nil, conn.EndStream)
			waited <- err
		}()
		synctest.Wait()
		if n := countHeaders(p); n != 1 {
			t.Fatalf("%d streams opened before the server's SETTINGS, want 1", n)
		}
		time.Sleep(time.Second)
		if err := <-waited; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("OpenStream waiting for the SETTINGS past its deadline = %v, want context.DeadlineExceeded", err)
		}
		p.WriteSettings(frame.Setting{ID: frame.SettingMaxConcurrentStreams, Val: 10})
		synctest.Wait()
		// The SETTINGS ACK and 9 more streams: 10 open in all.
		if n := countHeaders(p); n != 9 {
			t.Fatalf("%d more streams once the server allowed 10, want 9", n)
		}
	})
}

func countHeaders(p interface{ Drain() []frame.Frame }) int {
	n := 0
	for _, fr := range p.Drain() {
		if fr.FrameHeader().Type == frame.TypeHeaders {
			n++
		}
	}
	return n
}

// TestClientBurstUnderServerStreamLimit: 1000 concurrent streams on a fresh
// connection to a server allowing 10 at a time are never refused: the
// client does not open more than the server allows, even in the round trip
// before the server's SETTINGS arrive.
func TestClientBurstUnderServerStreamLimit(t *testing.T) {
	const streams = 1000
	for run := range 5 {
		client, _ := pair(t, nil, &conn.Config{MaxConcurrentStreams: 10}, func(s *conn.Stream) {
			io.Copy(io.Discard, s)
			s.WriteAll(status200, nil, nil)
			s.WriteAll(nil, nil, trailerOK)
		})
		var refused, failed atomic.Int32
		var wg sync.WaitGroup
		for range streams {
			wg.Go(func() {
				s, err := client.OpenStream(context.Background(), request("/"), nil, conn.EndStream)
				if err == nil {
					_, err = s.ReadHeaders()
				}
				if err == nil {
					_, err = io.Copy(io.Discard, s)
				}
				var re *conn.ResetError
				switch {
				case errors.As(err, &re) && re.Code == frame.ErrCodeRefusedStream:
					refused.Add(1)
				case err != nil:
					if failed.Add(1) == 1 {
						t.Errorf("stream failed: %v", err)
					}
				}
			})
		}
		wg.Wait()
		t.Logf("run %d: %d streams, %d refused, %d failed otherwise", run, streams, refused.Load(), failed.Load())
		if refused.Load() != 0 {
			t.Errorf("run %d: %d of %d streams refused by the server's limit of 10", run, refused.Load(), streams)
		}
		client.Close()
	}
}
