package rpc

import (
	"context"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

// Retries and hedging, as grpc proposal A6 specifies them, for unary
// calls of a method whose service config has a retryPolicy or a
// hedgingPolicy. This file is one layer of the call: invokeWithPolicy has
// the shape of a UnaryInvoker, sits under the application's interceptors,
// and makes each attempt with invoke, the plain one-stream call. The
// request is marshalled once and each attempt sends the same bytes; the
// response of the attempt that wins is unmarshalled into the reply.
//
// A call commits, and is not retried again, once an attempt receives
// response headers (the server has the call), or when its request is
// larger than the per-call retry buffer, or when the ClientConn's calls
// already keep the per-ClientConn total for retries (WithRetryBuffer).
// Streaming calls are retried and hedged too, while uncommitted
// (streamPolicy, below, and hedgestream.go), and every call keeps its
// transparent retry (a stream the server never processed,
// clientstream.go). WithDisableRetry turns the policies off; the
// transparent retry stays.

const (
	// defaultRetryCallBuffer is the largest request a call keeps to send
	// again (A6's per-RPC retry buffer; grpc-go's default).
	defaultRetryCallBuffer = 256 << 10
	// defaultRetryBuffer bounds the request bytes all the calls of a
	// ClientConn keep for retries (A6's per-channel retry buffer).
	defaultRetryBuffer = 16 << 20
)

// WithRetryBuffer bounds the request bytes kept to send again, A6's two
// retry buffers: perCall for one call (default 256 KiB, as grpc-go's
// MaxRetryRPCBufferSize) and total for all the calls of the ClientConn
// (default 16 MiB). A call whose request outgrows either commits: it is
// not retried or hedged again, and a streaming call outgrowing perCall
// loses its transparent retry too. A value of 0 or less keeps the default.
func WithRetryBuffer(perCall, total int) DialOption {
	return func(o *dialOptions) { o.retryCallBuffer, o.retryBuffer = perCall, total }
}

// WithDisableRetry turns off the retry and hedging policies of the service
// config: every call is one attempt, but for the transparent retry of a
// stream the server never processed. For libraries that retry themselves
// (grpc-go's option of the same name).
func WithDisableRetry() DialOption {
	return func(o *dialOptions) { o.noRetry = true }
}

// attemptInfo is what one attempt of a retried or hedged call reports
// back, through its callInfo.
type attemptInfo struct {
	prev int // grpc-previous-rpc-attempts to send; 0: none
	// hedge, for a hedged call, holds the backends its attempts went to.
	hedge *hedgeBackends

	// Set by invoke when the attempt ended.
	headers  bool          // response headers came: the call is committed
	pushback time.Duration // the server's grpc-retry-pushback-ms
	// pushed: the server sent grpc-retry-pushback-ms; noRetry: its value
	// was negative or not a number, which means "do not retry".
	pushed, noRetry bool
}

// ended records how the attempt on cs ended.
func (a *attemptInfo) ended(cs *clientStream) {
	a.headers = cs.headerErr == nil && !cs.trailersOnly
	ri := parseRetryInfo(cs.st.Trailers())
	a.pushed, a.noRetry, a.pushback = ri.pushed, ri.noRetry, ri.pushback
}

// retryInfo is what an attempt's trailers say about retrying it.
type retryInfo struct {
	code     Code          // grpc-status
	pushback time.Duration // grpc-retry-pushback-ms
	// pushed: the server sent grpc-retry-pushback-ms; noRetry: its value
	// was negative or not a number, which means "do not retry".
	pushed, noRetry bool
}

func parseRetryInfo(trailers []hpack.Field) retryInfo {
	var ri retryInfo
	for _, f := range trailers {
		switch f.Name {
		case "grpc-status":
			ri.code, _ = parseCode(f.Value)
		case "grpc-retry-pushback-ms":
			ri.pushed = true
			ms, err := strconv.ParseInt(f.Value, 10, 64)
			if err != nil || ms < 0 {
				ri.noRetry = true // "do not retry"
			} else {
				ri.pushback = time.Duration(min(ms, int64(time.Hour/time.Millisecond))) * time.Millisecond
			}
		}
	}
	return ri
}

// hedgeBackends are the backends a hedged call's attempts went to.
type hedgeBackends struct {
	mu   sync.Mutex
	used []*Backend
}

// other returns b, or if an earlier attempt went to b a ready backend none
// did; it records the one returned.
func (h *hedgeBackends) other(b *Backend, ready []*Backend) *Backend {
	h.mu.Lock()
	defer h.mu.Unlock()
	tried := func(b *Backend) bool {
		for _, u := range h.used {
			if u == b {
				return true
			}
		}
		return false
	}
	if tried(b) {
		for _, r := range ready {
			if !tried(r) {
				b = r
				break
			}
		}
	}
	h.used = append(h.used, b)
	return b
}

// invokeWithPolicy makes a unary call under its method's config: its
// timeout, wait-for-ready and message limits, and its retry or hedging
// policy.
func invokeWithPolicy(ctx context.Context, method string, req, reply any, cc *ClientConn, opts ...CallOption) error {
	sc := cc.sc.Load()
	mc := sc.lookup(method)
	if mc == nil {
		return invoke(ctx, method, req, reply, cc, opts...)
	}
	if mc.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, mc.timeout)
		defer cancel()
	}
	opts = append([]CallOption{withMethodConfig(mc)}, opts...)
	if mc.retry == nil && mc.hedge == nil || cc.opts.noRetry {
		return invoke(ctx, method, req, reply, cc, opts...)
	}
	ci := cc.callInfo(opts)
	body, err := ci.codec.Marshal(req)
	if err != nil {
		return statusf(Internal, "grpc: error while marshaling: %v", err)
	}
	if len(body) > cc.retryCallBuffer || cc.retryBuffered.Add(int64(len(body))) > cc.retryTotal {
		if len(body) <= cc.retryCallBuffer {
			cc.retryBuffered.Add(-int64(len(body)))
		}
		// Too large to keep: the call commits at once.
		return invoke(ctx, method, req, reply, cc, opts...)
	}
	defer cc.retryBuffered.Add(-int64(len(body)))
	opts = append(opts, CallCodec(bytesCodec{ci.codec.Name()}))
	thr := cc.throttle(sc)
	var raw []byte
	if mc.hedge != nil {
		raw, err = hedge(ctx, method, body, cc, mc.hedge, thr, opts)
	} else {
		raw, err = retry(ctx, method, body, cc, mc.retry, thr, opts)
	}
	if err != nil {
		return err
	}
	if err := ci.codec.Unmarshal(raw, reply); err != nil {
		return statusf(Internal, "grpc: failed to unmarshal the response: %v", err)
	}
	return nil
}

// retry makes the attempts of a call with a retry policy (A6, "Retry
// Policy"): an attempt that fails with a retryable code, before response
// headers, is made again after a backoff (random between 0 and
// initialBackoff×backoffMultiplier^(n-1), at most maxBackoff) or after the
// server's pushback, up to maxAttempts, while the retry budget allows.
func retry(ctx context.Context, method string, body []byte, cc *ClientConn, rp *retryPolicy, thr *retryThrottle, opts []CallOption) ([]byte, error) {
	backoff := rp.initialBackoff
	for n := 0; ; n++ {
		a := &attemptInfo{prev: n}
		var raw []byte
		err := invoke(ctx, method, body, &raw, cc, append(opts, withAttempt(a))...)
		if err == nil {
			thr.success()
			return raw, nil
		}
		code := CodeOf(err)
		retryable := rp.retryable.has(code)
		if retryable || a.noRetry {
			thr.failure()
		}
		if !retryable || a.headers || a.noRetry || n+1 >= rp.maxAttempts || ctxEnded(ctx) != nil || !thr.allow() {
			return nil, err
		}
		var wait time.Duration
		if a.pushed {
			wait, backoff = a.pushback, rp.initialBackoff
		} else {
			wait = time.Duration(rand.Float64() * float64(backoff))
			backoff = rp.next(backoff)
		}
		if !sleep(ctx, wait) {
			return nil, err
		}
	}
}

// next returns the backoff bound after b: b×backoffMultiplier, at most
// maxBackoff (computed in floating point: a large multiplier must not
// overflow into a negative duration).
func (rp *retryPolicy) next(b time.Duration) time.Duration {
	if f := float64(b) * rp.multiplier; f < float64(rp.maxBackoff) {
		return time.Duration(f)
	}
	return rp.maxBackoff
}

// sleep waits d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func withAttempt(a *attemptInfo) CallOption { return func(ci *callInfo) { ci.attempt = a } }

// hedge makes the attempts of a call with a hedging policy (A6, "Hedging
// Policy"): one at once, another each hedgingDelay while none has
// answered, up to maxAttempts, each to a backend the others did not go to
// when the balancer has one. The first response wins and the others are
// cancelled (RST_STREAM CANCEL); a fatal status, or any failure after
// response headers (the call committed), ends the call at once; a
// non-fatal one sends the next attempt now (or after the server's
// pushback).
func hedge(ctx context.Context, method string, body []byte, cc *ClientConn, hp *hedgingPolicy, thr *retryThrottle, opts []CallOption) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		raw []byte
		err error
		a   *attemptInfo
	}
	results := make(chan result, hp.maxAttempts)
	backends := new(hedgeBackends)
	started, pending := 0, 0
	start := func() {
		a := &attemptInfo{prev: started, hedge: backends}
		started++
		pending++
		aopts := append(opts[:len(opts):len(opts)], withAttempt(a))
		go func() {
			var raw []byte
			err := invoke(ctx, method, body, &raw, cc, aopts...)
			results <- result{raw, err, a}
		}()
	}
	// drain waits for the attempts still running, cancelled: each
	// attempt's goroutine ends before the call returns.
	drain := func() {
		cancel()
		for ; pending > 0; pending-- {
			<-results
		}
	}
	defer drain()
	start()
	timer := time.NewTimer(hp.delay)
	defer timer.Stop()
	stopped := false // pushback said no more attempts
	var lastErr error
	for {
		select {
		case r := <-results:
			pending--
			if r.err == nil {
				thr.success()
				return r.raw, nil
			}
			nonFatal := hp.nonFatal.has(CodeOf(r.err))
			if nonFatal {
				thr.failure()
			}
			if !nonFatal || r.a.headers {
				// A fatal code ends the call; so does any failure after
				// response headers, which committed it to this attempt.
				return nil, r.err
			}
			lastErr = r.err
			switch {
			case r.a.noRetry:
				stopped = true
			case r.a.pushed:
				timer.Reset(r.a.pushback)
			default:
				timer.Reset(0)
			}
			if pending == 0 && (stopped || started >= hp.maxAttempts || !thr.allow()) {
				return nil, lastErr
			}
		case <-timer.C:
			if !stopped && started < hp.maxAttempts && thr.allow() {
				start()
				timer.Reset(hp.delay)
			}
		case <-ctx.Done():
			return nil, contextStatus(ctx)
		}
	}
}

// bytesCodec sends and receives the bytes of messages marshalled once, under
// the name of the call's codec.
type bytesCodec struct{ name string }

func (c bytesCodec) Name() string                { return c.name }
func (bytesCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (bytesCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}

// retryThrottle is the retry budget of one server name (A6, "Throttling
// Retry Attempts and Hedged RPCs": "For each server name, the gRPC client
// maintains a token_count"), shared by the ClientConns to it: a failed
// attempt with a retryable (or non-fatal) code takes a token, a success
// gives tokenRatio back, and while the tokens are at or below half of
// maxTokens no call is retried or hedged. Counted in thousandths, as A6
// allows tokenRatio three decimals.
type retryThrottle struct {
	cfg    throttleConfig
	mu     sync.Mutex
	tokens int64 // thousandths; guarded by mu
}

// throttles holds the budgets by server name while a ClientConn to that
// name holds one: the last to close drops it, so a process that dials
// many names keeps only the budgets in use.
var (
	throttlesMu sync.Mutex
	throttles   = map[string]*sharedThrottle{} // guarded by throttlesMu
)

// sharedThrottle is the budget of one server name and the number of
// ClientConns holding it.
type sharedThrottle struct {
	t    *retryThrottle
	refs int
}

// throttle returns the retry budget of the ClientConn's server name under
// sc's retryThrottling, nil if it has none. A config that changes
// retryThrottling starts a new budget, full.
func (cc *ClientConn) throttle(sc *serviceConfig) *retryThrottle {
	if sc.throttle == nil {
		return nil
	}
	fresh := func() *retryThrottle {
		return &retryThrottle{cfg: *sc.throttle, tokens: int64(sc.throttle.maxTokens * 1000)}
	}
	throttlesMu.Lock()
	defer throttlesMu.Unlock()
	if cc.throttleDone {
		return fresh() // closed: its calls fail anyway, and it holds nothing
	}
	s := throttles[cc.authority]
	if s == nil {
		s = &sharedThrottle{}
		throttles[cc.authority] = s
	}
	if !cc.throttleHeld {
		cc.throttleHeld = true
		s.refs++
	}
	if s.t == nil || s.t.cfg != *sc.throttle {
		s.t = fresh()
	}
	return s.t
}

// dropThrottle lets go of the ClientConn's hold on its server name's
// budget, when it closes.
func (cc *ClientConn) dropThrottle() {
	throttlesMu.Lock()
	defer throttlesMu.Unlock()
	cc.throttleDone = true
	if !cc.throttleHeld {
		return
	}
	cc.throttleHeld = false
	if s := throttles[cc.authority]; s != nil {
		if s.refs--; s.refs <= 0 {
			delete(throttles, cc.authority)
		}
	}
}

func (t *retryThrottle) failure() {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.tokens = max(t.tokens-1000, 0)
	t.mu.Unlock()
}

func (t *retryThrottle) success() {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.tokens = min(t.tokens+int64(t.cfg.tokenRatio*1000), int64(t.cfg.maxTokens*1000))
	t.mu.Unlock()
}

// allow reports whether a call may be retried or hedged now: the tokens
// are above half of maxTokens.
func (t *retryThrottle) allow() bool {
	if t == nil {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tokens*2 > int64(t.cfg.maxTokens*1000)
}

// RetryTokens reports the retry budget of the ClientConn's server name:
// the tokens left and the most it holds (retryThrottling's maxTokens); no
// retry or hedge is made while tokens ≤ max/2. Both are 0 when the service
// config has no retryThrottling.
func (cc *ClientConn) RetryTokens() (tokens, max float64) {
	sc := cc.sc.Load()
	if sc == nil || sc.throttle == nil {
		return 0, 0
	}
	t := cc.throttle(sc)
	t.mu.Lock()
	defer t.mu.Unlock()
	return float64(t.tokens) / 1000, t.cfg.maxTokens
}

// streamPolicy is what a streaming call takes from its method's config:
// its timeout, whose cancel ends the call's context when the call is over,
// and its retry or hedging policy. Streaming calls are retried while they
// have not committed: a Trailers-Only response with a retryable code (the
// server failed the call before any response) opens the call again and
// sends again what was sent, which the call keeps until it commits (the
// transparent retry's buffer, clientstream.go). They are hedged the same
// way, while uncommitted (hedgestream.go).
type streamPolicy struct {
	cancel   context.CancelFunc
	retry    *retryPolicy
	hedge    *hedgingPolicy
	thr      *retryThrottle
	attempts int           // made so far, after the first; guarded by retryMu
	backoff  time.Duration // the next backoff's bound; used by the receiving goroutine
	// counted: the last failure was counted against the budget. Set by the
	// receiving goroutine, or by hedgeLoop before the receiving goroutine
	// reads the response.
	counted bool
	// stop unregisters the commit that runs when the call's context ends
	// before RecvMsg finishes the call.
	stop func() bool
	// buffered is what the call's replay buffer counts against the
	// ClientConn's retry buffer; guarded by retryMu.
	buffered int
}

// hold counts n more bytes kept for a retry against the ClientConn's
// total; false means the total is reached and the call must commit. A call
// without a policy counts nothing (its transparent retry's buffer is
// bounded per call).
func (p *streamPolicy) hold(cc *ClientConn, n int) bool {
	if p.retry == nil && p.hedge == nil {
		return true
	}
	if cc.retryBuffered.Add(int64(n)) > cc.retryTotal {
		cc.retryBuffered.Add(-int64(n))
		return false
	}
	p.buffered += n
	return true
}

// release gives the call's bytes back when it commits.
func (p *streamPolicy) release(cc *ClientConn) {
	if p.buffered > 0 {
		cc.retryBuffered.Add(-int64(p.buffered))
		p.buffered = 0
	}
}

// streamPolicy applies the config of method, if any, to a new streaming
// call: its context and call options, and its retry or hedging policy
// (none with WithDisableRetry).
func (cc *ClientConn) streamPolicy(ctx context.Context, sc *serviceConfig, method string, opts []CallOption) (context.Context, []CallOption, streamPolicy) {
	mc := sc.lookup(method)
	if mc == nil {
		return ctx, opts, streamPolicy{}
	}
	var p streamPolicy
	if mc.timeout > 0 {
		ctx, p.cancel = context.WithTimeout(ctx, mc.timeout)
	}
	switch {
	case cc.opts.noRetry:
	case mc.retry != nil:
		p.retry, p.thr, p.backoff = mc.retry, cc.throttle(sc), mc.retry.initialBackoff
	case mc.hedge != nil:
		p.hedge, p.thr = mc.hedge, cc.throttle(sc)
	}
	return ctx, append([]CallOption{withMethodConfig(mc)}, opts...), p
}

// finish settles a finished streaming call with the budget and ends its
// timeout.
func (p *streamPolicy) finish(err error) {
	var counts codeSet
	switch {
	case p.retry != nil:
		counts = p.retry.retryable
	case p.hedge != nil:
		counts = p.hedge.nonFatal
	}
	if counts != 0 && !p.counted {
		if err == io.EOF {
			p.thr.success()
		} else if counts.has(CodeOf(err)) {
			p.thr.failure()
		}
	}
	if p.stop != nil {
		p.stop()
	}
	if p.cancel != nil {
		p.cancel()
	}
}

// retryByPolicy is called when failed, the call's stream, ended with a
// Trailers-Only response. If its status is retryable, the call has not
// committed, and the policy, the server's pushback and the budget allow,
// it waits the backoff and opens the call again (see retry): true means the
// call goes on, on cs.st.
func (cs *clientStream) retryByPolicy(failed *conn.Stream) bool {
	p := &cs.policy
	ri := parseRetryInfo(failed.Trailers())
	code, pushed, noRetry, pushback := ri.code, ri.pushed, ri.noRetry, ri.pushback
	retryable := p.retry.retryable.has(code)
	p.counted = false
	if retryable || noRetry {
		p.thr.failure()
		p.counted = true
	}
	cs.retryMu.Lock()
	attempts := p.attempts
	cs.retryMu.Unlock()
	if !retryable || noRetry || cs.committed.Load() || attempts+2 > p.retry.maxAttempts || ctxEnded(cs.ctx) != nil || !p.thr.allow() {
		return false
	}
	wait := pushback
	if !pushed {
		wait = time.Duration(rand.Float64() * float64(p.backoff))
		p.backoff = p.retry.next(p.backoff)
	} else {
		p.backoff = p.retry.initialBackoff
	}
	if !sleep(cs.ctx, wait) {
		return false
	}
	cs.retryMu.Lock()
	defer cs.retryMu.Unlock()
	if cs.st != failed || cs.committed.Load() {
		return false
	}
	p.attempts++
	cs.ci.attempt.prev = p.attempts
	st, b, err := cs.cc.newAttempt(cs.ctx, cs.ci, cs.comp, cs.desc, cs.method, cs.replayPre, cs.replay, cs.replayEnd)
	if err != nil {
		return false // the call fails with the status it had
	}
	// The server ended the old stream; a client still sending resets it.
	failed.Reset(frame.ErrCodeNo)
	cs.backend.done(statusf(code, "retried"), nil)
	cs.st, cs.backend = st, b
	p.counted = false
	return true
}
