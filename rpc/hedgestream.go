package rpc

import (
	"slices"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
)

// Hedging of streaming calls (A6, "Hedging Policy"). A streaming call of a
// method with a hedgingPolicy opens its first attempt at once and another
// each hedgingDelay while none has answered, up to maxAttempts, each to a
// backend the call has not tried when the balancer has one. Until the call
// commits, every message sent goes to every open attempt and is kept (the
// replay buffer of clientStream): a new attempt opens with all of it.
//
// The call commits to one attempt, and resets the others with CANCEL, when
// the first response headers arrive on it (it wins), when an attempt ends
// with a fatal status or Trailers-Only OK (its status is the call's), when
// the request outgrows the retry buffer (the oldest open attempt, which
// has been sent everything, goes on), or when the call's context ends. An
// attempt that ends with a non-fatal status is dropped and the next one
// sent at once (or after the server's pushback; pushback "do not retry"
// stops hedging); when none is open and no more may start, the call ends
// with the last one's status.
//
// hedgeLoop, one goroutine per hedged call, makes these decisions: it
// starts the attempts and one watcher goroutine per attempt, which waits
// for the attempt's response headers and reports. The call owns them:
// hedgeLoop returns once the call committed and every watcher has
// reported (the losers were reset, so theirs return at once), and the
// receiving side of the call waits for that before it reads the response.

// streamHedge is the hedging state of a streaming call.
type streamHedge struct {
	policy  *hedgingPolicy
	results chan hedgeResult // one per attempt: capacity maxAttempts
	decided chan struct{}    // closed when the call commits
	done    chan struct{}    // closed when hedgeLoop returns

	// Guarded by the call's retryMu.
	live    []hedgeAttempt // open attempts not yet decided on, oldest first
	last    hedgeAttempt   // the last attempt dropped after a non-fatal failure
	started int            // attempts made
	won     bool           // the call committed to one attempt
}

// hedgeAttempt is one attempt of a hedged call: its stream and the backend
// counting it as outstanding (nil once it was told the attempt's end).
type hedgeAttempt struct {
	st *conn.Stream
	b  *Backend
}

// hedgeResult is what an attempt's watcher reports: the error of
// ReadHeaders, nil when a header block came.
type hedgeResult struct {
	a   hedgeAttempt
	err error
}

// startHedging makes the call's first attempt, cs.st, the first of a
// hedged call and starts hedgeLoop.
func (cs *clientStream) startHedging() {
	hp := cs.policy.hedge
	h := &streamHedge{
		policy:  hp,
		results: make(chan hedgeResult, hp.maxAttempts),
		decided: make(chan struct{}),
		done:    make(chan struct{}),
		started: 1,
	}
	first := hedgeAttempt{st: cs.st, b: cs.backend}
	h.live = []hedgeAttempt{first}
	cs.hedge = h
	go cs.hedgeLoop(first)
}

// watch waits, on a goroutine of its own, for a's response headers (or
// its end) and reports to hedgeLoop.
func (h *streamHedge) watch(a hedgeAttempt) {
	go func() {
		_, err := a.st.ReadHeaders()
		h.results <- hedgeResult{a, err}
	}()
}

func (cs *clientStream) hedgeLoop(first hedgeAttempt) {
	h := cs.hedge
	defer close(h.done)
	pending := 1 // watchers that have not reported
	h.watch(first)
	timer := time.NewTimer(h.policy.delay)
	defer timer.Stop()
	stopped := false // pushback said "do not retry"
	ctxDone := cs.ctx.Done()
	for {
		select {
		case r := <-h.results:
			pending--
			cs.retryMu.Lock()
			cs.hedgeResultLocked(r, timer, &stopped)
			cs.retryMu.Unlock()
		case <-timer.C:
			cs.retryMu.Lock()
			if !h.won && cs.mayHedgeLocked(stopped) {
				if cs.hedgeStartLocked() {
					pending++
				}
				timer.Reset(h.policy.delay)
			}
			cs.endIfExhaustedLocked(stopped)
			cs.retryMu.Unlock()
		case <-ctxDone:
			// The attempts' streams are reset under the same context;
			// the call ends on the oldest.
			ctxDone = nil
			cs.retryMu.Lock()
			cs.commitLocked()
			cs.retryMu.Unlock()
		case <-h.decided:
			for ; pending > 0; pending-- {
				<-h.results
			}
			return
		}
	}
}

// mayHedgeLocked reports whether another attempt may start now: fewer than
// maxAttempts were made, no pushback forbade more, and the retry budget
// allows.
func (cs *clientStream) mayHedgeLocked(stopped bool) bool {
	h := cs.hedge
	return !stopped && h.started < h.policy.maxAttempts && cs.policy.thr.allow()
}

// endIfExhaustedLocked ends a call with no attempt open and none to come
// on its last attempt's status.
func (cs *clientStream) endIfExhaustedLocked(stopped bool) {
	if h := cs.hedge; !h.won && len(h.live) == 0 && !cs.mayHedgeLocked(stopped) {
		cs.policy.counted = true // its failure was counted when it was dropped
		cs.commitLocked()
	}
}

// hedgeStartLocked opens another attempt with every message sent so far.
// An attempt that cannot be opened counts as made.
func (cs *clientStream) hedgeStartLocked() bool {
	h := cs.hedge
	cs.ci.attempt.prev = h.started
	h.started++
	st, b, err := cs.cc.newAttempt(cs.ctx, cs.ci, cs.comp, cs.desc, cs.method, cs.replayPre, cs.replay, cs.replayEnd)
	if err != nil {
		return false
	}
	a := hedgeAttempt{st: st, b: b}
	h.live = append(h.live, a)
	h.watch(a)
	return true
}

// hedgeResultLocked takes what an attempt's watcher reported.
func (cs *clientStream) hedgeResultLocked(r hedgeResult, timer *time.Timer, stopped *bool) {
	h := cs.hedge
	if h.won {
		return // a loser, reset
	}
	var ri retryInfo
	if r.err == nil {
		if !r.a.st.TrailersOnly() {
			// Response headers: the server has the call, and it is this
			// attempt's.
			cs.commitToLocked(r.a)
			return
		}
		ri = parseRetryInfo(r.a.st.Trailers())
	} else {
		ri.code = CodeOf(clientErr(cs.ctx, r.err))
	}
	if ri.code == OK || !h.policy.nonFatal.has(ri.code) || ctxEnded(cs.ctx) != nil {
		// A fatal status ends the call with it.
		cs.commitToLocked(r.a)
		return
	}
	cs.policy.thr.failure()
	h.live = slices.DeleteFunc(h.live, func(a hedgeAttempt) bool { return a.st == r.a.st })
	// The server ended the stream; one the client still sends on is
	// reset.
	r.a.st.Reset(frame.ErrCodeNo)
	r.a.b.done(&Status{Code: ri.code, Message: "hedged attempt failed"}, nil)
	r.a.b = nil
	h.last = r.a
	switch {
	case ri.noRetry:
		*stopped = true
	case ri.pushed:
		timer.Reset(ri.pushback)
	default:
		timer.Reset(0) // the next attempt now
	}
	cs.endIfExhaustedLocked(*stopped)
}

// commitToLocked commits a hedged call to a.
func (cs *clientStream) commitToLocked(a hedgeAttempt) {
	cs.decideLocked(a)
	cs.commitLocked()
}

// decideLocked makes a the call's stream and resets the other open
// attempts with CANCEL.
func (cs *clientStream) decideLocked(a hedgeAttempt) {
	h := cs.hedge
	if h.won {
		return
	}
	h.won = true
	for _, o := range h.live {
		if o.st != a.st {
			o.st.Reset(frame.ErrCodeCancel)
			o.b.release() // a lost race, not the backend's failure
		}
	}
	h.live = nil
	cs.st, cs.backend = a.st, a.b
	close(h.decided)
}

// hedgeStreamsLocked returns the streams a message of an undecided hedged
// call goes to.
func (cs *clientStream) hedgeStreamsLocked() []*conn.Stream {
	sts := make([]*conn.Stream, len(cs.hedge.live))
	for i, a := range cs.hedge.live {
		sts[i] = a.st
	}
	return sts
}
