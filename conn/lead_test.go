package conn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/internal/h2test"
)

// echoMessages is a handler that answers each chunk it reads with the same
// bytes, until the request ends.
func echoMessages(s *conn.Stream) {
	buf := make([]byte, 1024)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if err := s.WriteData(nil, buf[:n], false); err != nil {
				if debugStress {
					println("handler write:", err.Error())
				}
				return
			}
		}
		if err != nil {
			if err == io.EOF {
				s.WriteAll(nil, nil, trailerOK)
			}
			if debugStress {
				println("handler read:", err.Error())
			}
			return
		}
	}
}

// echoRound writes msg on s and reads back as many bytes.
func echoRound(s *conn.Stream, msg []byte) ([]byte, error) {
	if err := s.WriteData(nil, msg, false); err != nil {
		return nil, err
	}
	got := make([]byte, len(msg))
	_, err := io.ReadFull(s, got)
	return got, err
}

// waitFor polls cond until it holds, or fails after a generous bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("still waiting for %s after 10 s", what)
}

// answerWhileWaiting writes stream id's response headers while a goroutine
// waits for them in ReadHeaders, so the background reader hands it the
// headers and parks, and waits for the park: its next wait leads. (A wait
// that began before the reader looked would find the reader reading on for
// it, and not lead.)
func answerWhileWaiting(t *testing.T, c *conn.Conn, p *h2test.Peer, s *conn.Stream) {
	t.Helper()
	got := make(chan error, 1)
	go func() {
		_, err := s.ReadHeaders()
		got <- err
	}()
	waitFor(t, "ReadHeaders to wait", func() bool { return conn.Waiters(c) == 1 })
	p.WriteHeaders(s.ID(), false, status200...)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reader to park", func() bool { return conn.ReadRoleFree(c) })
}

// openOneAndThree opens streams 1 (under ctx, with flags) and 3 on c and
// sees the peer p receive their HEADERS.
func openOneAndThree(t *testing.T, c *conn.Conn, p *h2test.Peer, ctx context.Context, flags conn.OpenFlags) (s1, s3 *conn.Stream) {
	t.Helper()
	s1, err := c.OpenStream(ctx, request("/one"), nil, flags)
	if err != nil {
		t.Fatal(err)
	}
	p.WantType("HEADERS of stream 1", frame.TypeHeaders)
	s3, err = c.OpenStream(context.Background(), request("/three"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.WantType("HEADERS of stream 3", frame.TypeHeaders)
	return s1, s3
}

// unwatchedOneAnswered opens streams 1 (Unwatched, under ctx) and 3 on c
// and answers both with response headers, stream 1's while its caller
// waits for them (answerWhileWaiting): stream 1's next wait leads.
func unwatchedOneAnswered(t *testing.T, c *conn.Conn, p *h2test.Peer, ctx context.Context) (s1, s3 *conn.Stream) {
	t.Helper()
	s1, s3 = openOneAndThree(t, c, p, ctx, conn.Unwatched)
	p.WriteHeaders(3, false, status200...)
	if _, err := s3.ReadHeaders(); err != nil {
		t.Fatal(err)
	}
	answerWhileWaiting(t, c, p, s1)
	return s1, s3
}

// waitLeading waits until a goroutine holds c's read role, or fails after a
// generous bound.
func waitLeading(t *testing.T, c *conn.Conn) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, leading := conn.Leads(c); leading {
			return
		}
	}
	t.Fatal("no goroutine took the read role")
}

// In a ping-pong both the caller and the handler read their own messages
// off the connection: each side's waiting goroutine leads.
func TestPingPongCallersLead(t *testing.T) {
	client, server := pair(t, nil, nil, func(s *conn.Stream) {
		s.WriteAll(status200, nil, nil)
		echoMessages(s)
	})
	s, err := client.OpenStream(context.Background(), request("/pp"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadHeaders(); err != nil {
		t.Fatal(err)
	}
	const rounds = 200
	for i := range rounds {
		msg := fmt.Appendf(nil, "ping %d", i)
		got, err := echoRound(s, msg)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("round %d: got %q, %v; want %q", i, got, err, msg)
		}
	}
	cl, _ := conn.Leads(client)
	sl, _ := conn.Leads(server)
	t.Logf("leads in %d round trips: client %d, server %d", rounds, cl, sl)
	if cl == 0 || sl == 0 {
		t.Fatalf("leads: client %d, server %d; want both > 0", cl, sl)
	}
	if err := s.WriteData(nil, nil, true); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(s); err != nil {
		t.Fatal(err)
	}
}

// A leader blocked in Read whose context ends gives the read role up
// without losing or splitting a frame: the half of a DATA frame for another
// stream it had read is completed by the next reader.
func TestLeaderCancelledMidFrame(t *testing.T) {
	conn.SetLeadIdle(t, time.Minute)
	c, p := startClient(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s1, s3 := openOneAndThree(t, c, p, ctx, 0)
	p.WriteHeaders(3, false, status200...)
	if _, err := s3.ReadHeaders(); err != nil {
		t.Fatal(err)
	}
	answerWhileWaiting(t, c, p, s1)

	readErr := make(chan error, 1)
	go func() {
		_, err := s1.Read(make([]byte, 10))
		readErr <- err
	}()
	waitLeading(t, c)

	// Half of a DATA frame for stream 3, read by the leader.
	payload := bytes.Repeat([]byte("x"), 100)
	df := frame.AppendData(nil, 3, true, payload)
	p.WriteRaw(df[:frame.HeaderLen+40])

	cancel()
	var re *conn.ResetError
	if err := <-readErr; !errors.As(err, &re) || re.Code != frame.ErrCodeCancel {
		t.Fatalf("Read on the cancelled stream: %v, want a *ResetError CANCEL", err)
	}
	p.WantRST("stream 1 cancelled", 1, frame.ErrCodeCancel)

	// The reader is parked (for a minute, here): stream 3's Read leads
	// and reads the rest of the frame.
	type result struct {
		b   []byte
		err error
	}
	read3 := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(s3)
		read3 <- result{b, err}
	}()
	p.WriteRaw(df[frame.HeaderLen+40:])
	if r := <-read3; r.err != nil || !bytes.Equal(r.b, payload) {
		t.Fatalf("stream 3 read %q, %v; want the whole payload", r.b, r.err)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("connection failed: %v", err)
	}
}

// A PING that comes while a leader waits is answered, and a GOAWAY that
// comes while it leads fails the streams above its last id and ends the
// leader's wait.
func TestLeaderAppliesControlFrames(t *testing.T) {
	conn.SetLeadIdle(t, time.Minute)
	c, p := startClient(t, nil)
	s1, s3 := openOneAndThree(t, c, p, context.Background(), 0)
	answerWhileWaiting(t, c, p, s3)
	readErr := make(chan error, 1)
	go func() {
		_, err := s3.Read(make([]byte, 10))
		readErr <- err
	}()
	waitLeading(t, c)
	ping := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	p.WriteFrames(&frame.PingFrame{Header: frame.Header{Type: frame.TypePing, Length: 8}, Data: ping})
	p.WantFrame("PING ACK", &frame.PingFrame{Header: frame.Header{Type: frame.TypePing, Flags: frame.FlagAck, Length: 8}, Data: ping})
	p.WriteFrames(&frame.GoAwayFrame{Header: frame.Header{Type: frame.TypeGoAway}, LastStreamID: 1, Code: frame.ErrCodeNo})
	var ge *conn.GoAwayError
	if err := <-readErr; !errors.As(err, &ge) {
		t.Fatalf("Read on stream 3 after GOAWAY(last 1): %v, want a *GoAwayError", err)
	}
	// Stream 1 goes on.
	p.WriteHeaders(1, false, status200...)
	p.WriteData(1, true, []byte("done"))
	if _, err := s1.ReadHeaders(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(s1)
	if err != nil || string(got) != "done" {
		t.Fatalf("stream 1: %q, %v", got, err)
	}
}

// Many goroutines on one connection take the read role in turn while some
// of their contexts end mid-wait, streams are reset, and, at the end, the
// server shuts down: every call that completes gets its own bytes back,
// every other fails with a stream or connection error, none hangs, and no
// goroutine is left (TestMain).
func TestLeaderStress(t *testing.T) {
	client, server := pair(t, nil, nil, func(s *conn.Stream) {
		s.WriteAll(status200, nil, nil)
		echoMessages(s)
	})
	const calls, rounds = 40, 6
	// One worker leads nearly every wait; two alternate; eight mostly
	// follow the background reader.
	for _, workers := range []int{1, 2, 8} {
		var wg sync.WaitGroup
		var mu sync.Mutex
		completed, failed := 0, 0
		before, _ := conn.Leads(client)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), uint64(workers)))
				for i := range calls {
					ok, err := stressCall(client, rng, w, i, rounds)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if ok {
						completed++
					} else {
						failed++
					}
					mu.Unlock()
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("%d workers: calls still running after 60 s", workers)
		}
		leads, _ := conn.Leads(client)
		t.Logf("%d workers: %d calls completed, %d cancelled or reset; client leads %d", workers, completed, failed, leads-before)
		if completed == 0 {
			t.Fatalf("%d workers: no call completed", workers)
		}
	}
	const workers = 8

	// GOAWAY while callers lead: each either completes or fails; none hangs.
	var wg2 sync.WaitGroup
	for w := range workers {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for i := 0; ; i++ {
				if _, err := stressCall(client, rng, w, i, rounds); err != nil || !client.Available() {
					return
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := server.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	done2 := make(chan struct{})
	go func() { wg2.Wait(); close(done2) }()
	select {
	case <-done2:
	case <-time.After(60 * time.Second):
		t.Fatal("calls still running 60 s after GOAWAY")
	}
}

// stressCall makes one bidi call of rounds echoed messages. Some calls are
// cancelled at a random point, some reset by the caller. ok reports whether
// the call completed; err is set only for a wrong answer or error.
func stressCall(c *conn.Conn, rng *rand.Rand, w, i, rounds int) (ok bool, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := c.OpenStream(ctx, request("/stress"), nil, 0)
	if err != nil {
		return false, expectedFailure(err)
	}
	mode := rng.IntN(4) // 0: cancel while waiting, 1: reset, else complete
	stopAt := rng.IntN(rounds)
	defer func() {
		if err != nil {
			err = fmt.Errorf("mode %d stopAt %d: %w", mode, stopAt, err)
		}
	}()
	if _, err := s.ReadHeaders(); err != nil {
		return false, expectedFailure(err)
	}
	for r := range rounds {
		if r == stopAt && mode == 0 {
			time.AfterFunc(time.Duration(rng.IntN(200))*time.Microsecond, cancel)
		}
		if r == stopAt && mode == 1 {
			s.Reset(frame.ErrCodeCancel)
			return false, nil
		}
		msg := fmt.Appendf(nil, "w%d call %d round %d", w, i, r)
		got, err := echoRound(s, msg)
		if err != nil {
			if mode == 0 && r >= stopAt {
				return false, expectedFailure(err)
			}
			return false, expectedFailure(err)
		}
		if !bytes.Equal(got, msg) {
			return false, fmt.Errorf("got %q, want %q", got, msg)
		}
	}
	if err := s.WriteData(nil, nil, true); err != nil {
		return false, expectedFailure(err)
	}
	if _, err := io.ReadAll(s); err != nil {
		return false, expectedFailure(err)
	}
	return true, nil
}

// expectedFailure returns nil for the errors a cancelled, reset or
// drained call may end with, and err itself otherwise.
func expectedFailure(err error) error {
	if debugStress {
		return err
	}
	var re *conn.ResetError
	var ge *conn.GoAwayError
	switch {
	case errors.As(err, &re), errors.As(err, &ge),
		errors.Is(err, conn.ErrClosed), errors.Is(err, conn.ErrNotAvailable),
		errors.Is(err, context.Canceled):
		return nil
	}
	return fmt.Errorf("unexpected error: %w", err)
}

var debugStress = false

// A leader blocked in Read when its connection is closed, or when the peer
// hangs up, returns with the connection's error.
func TestLeaderConnectionEnds(t *testing.T) {
	for _, how := range []string{"Close", "peer hangs up"} {
		t.Run(how, func(t *testing.T) {
			conn.SetLeadIdle(t, time.Minute)
			c, p := startClient(t, nil)
			s, err := c.OpenStream(context.Background(), request("/one"), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			p.WantType("HEADERS", frame.TypeHeaders)
			answerWhileWaiting(t, c, p, s)
			readErr := make(chan error, 1)
			go func() {
				_, err := s.Read(make([]byte, 10))
				readErr <- err
			}()
			waitLeading(t, c)
			if how == "Close" {
				c.Close()
			} else {
				p.Close()
			}
			if err := <-readErr; err == nil || err == io.EOF {
				t.Fatalf("Read: %v, want the connection's error", err)
			}
			<-c.Done()
			c.Close() // returns once the reader ended
		})
	}
}

// A handler leading on the server whose deadline passes is interrupted and
// sees its stream reset.
func TestLeaderServerDeadline(t *testing.T) {
	conn.SetLeadIdle(t, time.Minute)
	readErr := make(chan error, 1)
	read := make(chan struct{})
	again := make(chan struct{})
	c, p := startServer(t, nil, func(s *conn.Stream) {
		if _, err := s.Read(make([]byte, 1)); err != nil { // woken by the reader, which parks
			readErr <- err
			return
		}
		close(read)
		<-again
		s.SetDeadline(time.Now().Add(300 * time.Millisecond)) // room for the test to see it lead
		_, err := s.Read(make([]byte, 10))                    // leads until the deadline passes
		readErr <- err
	})
	p.WriteHeaders(1, false, request("/slow")...)
	waitFor(t, "the handler to wait", func() bool { return conn.Waiters(c) == 1 })
	p.WriteData(1, false, []byte("a"))
	<-read
	// The reader parks once the handler it woke returned from Read (if it
	// looked before the handler's next wait began, it reads on instead);
	// only then is the handler's next Read sure to lead.
	waitFor(t, "the reader to park", func() bool { return conn.ReadRoleFree(c) })
	close(again)
	waitLeading(t, c)
	var re *conn.ResetError
	if err := <-readErr; !errors.As(err, &re) || re.Code != frame.ErrCodeCancel {
		t.Fatalf("Read after the deadline: %v, want a *ResetError CANCEL", err)
	}
	p.WantRST("deadline passed", 1, frame.ErrCodeCancel)
}

// A unary-style caller (Unwatched) whose context can end leads too, and
// its context still ends its wait while it leads: a cancel, or a
// deadline, interrupts its Read, the stream is reset with CANCEL, and a
// frame for another stream that the leader had half read is completed by
// the next reader.
func TestUnwatchedLeaderContextEnds(t *testing.T) {
	for _, how := range []string{"cancel", "deadline"} {
		t.Run(how, func(t *testing.T) {
			conn.SetLeadIdle(t, time.Minute)
			c, p := startClient(t, nil)
			ctx, cancel := context.WithCancel(context.Background())
			if how == "deadline" {
				ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
			}
			defer cancel()
			s1, s3 := unwatchedOneAnswered(t, c, p, ctx)
			leadsBefore, _ := conn.Leads(c)

			readErr := make(chan error, 1)
			go func() {
				_, err := s1.Read(make([]byte, 10))
				readErr <- err
			}()
			waitLeading(t, c)
			if leads, _ := conn.Leads(c); leads != leadsBefore+1 {
				t.Fatalf("leads %d, want %d: the unwatched caller did not lead", leads, leadsBefore+1)
			}
			payload := bytes.Repeat([]byte("x"), 100)
			df := frame.AppendData(nil, 3, true, payload)
			p.WriteRaw(df[:frame.HeaderLen+40])

			if how == "cancel" {
				cancel()
			}
			var re *conn.ResetError
			if err := <-readErr; !errors.As(err, &re) || re.Code != frame.ErrCodeCancel {
				t.Fatalf("Read on the ended stream: %v, want a *ResetError CANCEL", err)
			}
			p.WantRST("stream 1 ended", 1, frame.ErrCodeCancel)

			read3 := make(chan []byte, 1)
			go func() {
				b, err := io.ReadAll(s3)
				if err != nil {
					t.Error(err)
				}
				read3 <- b
			}()
			p.WriteRaw(df[frame.HeaderLen+40:])
			if b := <-read3; !bytes.Equal(b, payload) {
				t.Fatalf("stream 3 read %q; want the whole payload", b)
			}
			if err := c.Err(); err != nil {
				t.Fatalf("connection failed: %v", err)
			}
		})
	}
}

// An Unwatched caller's context that ends between two of its leads (its
// watcher fires while nobody leads for it) still ends its next wait.
func TestUnwatchedContextEndsBetweenLeads(t *testing.T) {
	conn.SetLeadIdle(t, time.Minute)
	c, p := startClient(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := c.OpenStream(ctx, request("/one"), nil, conn.Unwatched)
	if err != nil {
		t.Fatal(err)
	}
	p.WantType("HEADERS", frame.TypeHeaders)
	answerWhileWaiting(t, c, p, s)
	got := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 1))
		got <- err
	}()
	waitLeading(t, c)
	p.WriteData(1, false, []byte("a"))
	if err := <-got; err != nil {
		t.Fatalf("first Read: %v", err)
	}
	cancel()
	go func() {
		_, err := s.Read(make([]byte, 1))
		got <- err
	}()
	var re *conn.ResetError
	select {
	case err := <-got:
		if !errors.As(err, &re) || re.Code != frame.ErrCodeCancel {
			t.Fatalf("Read after the context ended: %v, want a *ResetError CANCEL", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read still waiting 10 s after its context ended")
	}
	p.WantRST("stream 1 cancelled", 1, frame.ErrCodeCancel)
}

// The parked reader takes the read role back once nobody led for a while,
// also when a goroutine led after it parked (its timer, armed when it
// parked, then fires with leads moved and re-arms): a PING that arrives
// after the last lead is answered with nobody waiting.
func TestParkedReaderComesBackAfterLastLead(t *testing.T) {
	conn.SetLeadIdle(t, 20*time.Millisecond)
	read := make(chan struct{})
	again := make(chan struct{})
	done := make(chan error, 1)
	c, p := startServer(t, nil, func(s *conn.Stream) {
		if _, err := s.Read(make([]byte, 1)); err != nil { // woken by the reader, which parks
			done <- err
			return
		}
		close(read)
		<-again
		_, err := s.Read(make([]byte, 1)) // leads
		done <- err
		<-again
	})
	p.WriteHeaders(1, false, request("/lead")...)
	waitFor(t, "the handler to wait", func() bool { return conn.Waiters(c) == 1 })
	p.WriteData(1, false, []byte("a"))
	<-read
	waitFor(t, "the reader to park", func() bool { return conn.ReadRoleFree(c) })
	leads, _ := conn.Leads(c)
	again <- struct{}{}
	waitLeading(t, c)
	p.WriteData(1, false, []byte("b"))
	if err := <-done; err != nil {
		t.Fatalf("the leader's Read: %v", err)
	}
	if n, _ := conn.Leads(c); n <= leads {
		t.Fatalf("leads %d, want more than %d: the second Read did not lead", n, leads)
	}
	// Nobody waits now; the reader must come back by itself.
	waitFor(t, "the reader to take the role back", func() bool { return !conn.ReadRoleFree(c) })
	p.WriteRaw(frame.AppendPing(nil, false, [8]byte{4, 2}))
	if ack := p.WantType("PING ACK with nobody waiting", frame.TypePing).(*frame.PingFrame); !ack.IsAck() || ack.Data != [8]byte{4, 2} {
		t.Fatalf("got PING %+v, want the ACK of ours", ack)
	}
	close(again)
}
