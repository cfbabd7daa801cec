package main

// The stall phase's misbehaving peers, which open calls and then stop
// reading, while the ordinary workload goes on beside them on its own
// connections:
//
//   - a stalled socket: a client connection that, once its calls are
//     open, never reads from its socket again, so the server's writes
//     fill the TCP buffers and block. Its calls end by their deadlines.
//   - unread streams: a client connection that reads its socket but whose
//     calls are never read by the application, so flow control stops the
//     server. Its calls end when the client cancels them.
//
// Both connections are closed at the end; the server must then release
// everything it held for them (the phase's usage check).

import (
	"context"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h2rpc/h2rpc/rpc"
)

// stallConn is a net.Conn whose reads, once stalled is set, find nothing
// to read until it is closed: they block, as a socket's read does when no
// data comes, and like one they end at the read deadline (a caller that
// reads its own response is interrupted by a deadline in the past).
type stallConn struct {
	net.Conn
	stalled *atomic.Bool
	closed  chan struct{}
	once    sync.Once

	mu       sync.Mutex
	deadline time.Time     // guarded by mu
	changed  chan struct{} // guarded by mu; closed when the deadline changes
}

func (c *stallConn) Read(p []byte) (int, error) {
	if !c.stalled.Load() {
		return c.Conn.Read(p)
	}
	for {
		c.mu.Lock()
		if c.changed == nil {
			c.changed = make(chan struct{})
		}
		deadline, changed := c.deadline, c.changed
		c.mu.Unlock()
		var timer *time.Timer
		var expired <-chan time.Time
		if !deadline.IsZero() {
			wait := time.Until(deadline)
			if wait <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(wait)
			expired = timer.C
		}
		var err error
		select {
		case <-c.closed:
			err = net.ErrClosed
		case <-expired:
			err = os.ErrDeadlineExceeded
		case <-changed:
		}
		if timer != nil {
			timer.Stop()
		}
		if err != nil {
			return 0, err
		}
	}
}

func (c *stallConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *stallConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *stallConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// stallStreams is how many calls each stalled peer opens, each asking for
// stallMessages responses of stallSize bytes: far more than the windows
// and socket buffers hold.
const (
	stallStreams  = 4
	stallMessages = 64
	stallSize     = 1 << 20
)

// stallPeers runs the stalled peers for about d and returns the records of
// their calls. shared, if not nil, is a workload ClientConn that also gets
// unread streams, so that the workload's calls there run beside them, and
// a probe call. The unread streams are cancelled at three quarters of d,
// or once the probe ended if later: a probe that waited for them would
// wait until its own deadline and end DEADLINE_EXCEEDED.
func stallPeers(h *harness, d time.Duration, shared *rpc.ClientConn) []record {
	var (
		mu      sync.Mutex
		records []record
		wg      sync.WaitGroup
	)
	add := func(r record) {
		mu.Lock()
		records = append(records, r)
		mu.Unlock()
	}

	// The stalled socket.
	var stalled atomic.Bool
	dialer := func(ctx context.Context, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return &stallConn{Conn: nc, stalled: &stalled, closed: make(chan struct{})}, nil
	}
	sock := h.dial(rpc.WithDialer(dialer))
	defer sock.Close()
	w := h.worker(sock, 0)
	add(w.one(kinds[0])) // connected and working before it stalls
	stalled.Store(true)
	for range stallStreams {
		wg.Go(func() {
			r := record{kind: stalledKind, start: time.Now()}
			ctx, cancel := context.WithTimeout(context.Background(), d/2)
			defer cancel()
			req := msg{call: h.ids.Add(1), count: stallMessages, size: stallSize}
			if cs := w.startDownload(ctx, &r, req, nil); cs != nil {
				receive(cs, &r, req, nil)
			}
			r.end = time.Now()
			r.code = rpc.CodeOf(r.err)
			add(r)
		})
	}

	// The unread streams.
	unread := h.dial()
	defer unread.Close()
	ccs := []*rpc.ClientConn{unread}
	if shared != nil {
		ccs = append(ccs, shared)
	}
	cancelAt := time.Now().Add(d * 3 / 4)
	release := make(chan struct{}) // closed when the unread streams are cancelled
	for _, cc := range ccs {
		w := h.worker(cc, 0)
		for range stallStreams {
			wg.Go(func() {
				r := record{kind: unreadKind, start: time.Now()}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req := msg{call: h.ids.Add(1), count: stallMessages, size: stallSize}
				cs := w.startDownload(ctx, &r, req, nil)
				if cs != nil {
					<-release
					cancel()
					receive(cs, &r, req, nil)
				}
				r.end = time.Now()
				r.code = rpc.CodeOf(r.err)
				add(r)
			})
		}
	}
	if shared != nil {
		// The workload's calls on shared must not wait for the unread
		// streams beside them: probe once those have had time to fill
		// their windows.
		time.Sleep(d / 8)
		add(h.worker(shared, 0).one(besideUnreadKind))
	}
	time.Sleep(time.Until(cancelAt))
	close(release)
	wg.Wait()
	return records
}
