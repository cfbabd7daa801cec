package rpc

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/frame"
)

// faultServer fails the first failFirst calls with code (sending pushback
// as grpc-retry-pushback-ms if set, and response headers first if
// headersFirst), then echoes. It records each call's
// grpc-previous-rpc-attempts.
type faultServer struct {
	mu           sync.Mutex
	calls        int
	prev         []string
	failFirst    int
	failAll      bool
	code         Code
	pushback     string
	headersFirst bool
}

func (f *faultServer) unary(ctx context.Context, req []byte) ([]byte, error) {
	md, _ := FromIncomingContext(ctx)
	f.mu.Lock()
	n := f.calls
	f.calls++
	f.prev = append(f.prev, strings.Join(md["grpc-previous-rpc-attempts"], ","))
	fail := f.failAll || n < f.failFirst
	code, pushback, headersFirst := f.code, f.pushback, f.headersFirst
	f.mu.Unlock()
	if !fail {
		return req, nil
	}
	if pushback != "" {
		SetTrailer(ctx, MD{"grpc-retry-pushback-ms": {pushback}})
	}
	if headersFirst {
		SendHeader(ctx, MD{"x": {"y"}})
	}
	return nil, Errorf(code, "injected failure %d", n)
}

func (f *faultServer) set(do func(f *faultServer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	do(f)
	f.calls, f.prev = 0, nil
}

func (f *faultServer) seen() (int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, append([]string(nil), f.prev...)
}

const retryConfig = `{
  "methodConfig": [{
    "name": [{"service": "test.Echo", "method": "Unary"}],
    "retryPolicy": {
      "maxAttempts": 4,
      "initialBackoff": "0.01s",
      "maxBackoff": "0.05s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"]
    }
  }]
}`

func faultEnv(t *testing.T, config string) (*env, *faultServer) {
	f := &faultServer{code: Unavailable}
	var opts []DialOption
	if config != "" {
		opts = append(opts, WithServiceConfig(config))
	}
	return newEnv(t, &echoServer{unary: f.unary}, nil, opts...), f
}

func call(e *env) error {
	var reply []byte
	err := e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("hi"), &reply)
	if err == nil && string(reply) != "hi" {
		return fmt.Errorf("reply %q", reply)
	}
	return err
}

func TestInvalidServiceConfigFailsDial(t *testing.T) {
	for _, c := range []string{
		`{`,
		`{} {}`,
		`{"methodConfig": [{"name": [{"method": "M"}]}]}`,
		`{"methodConfig": [{"name": [{"service": "s"}]}, {"name": [{"service": "s"}]}]}`,
		`{"methodConfig": [{"name": [{}], "timeout": "1"}]}`,
		`{"methodConfig": [{"name": [{}], "timeout": "-1s"}]}`,
		`{"methodConfig": [{"name": [{}], "timeout": "1.0000000001s"}]}`,
		`{"methodConfig": [{"name": [{}], "maxRequestMessageBytes": -1}]}`,
		`{"methodConfig": [{"name": [{}], "maxResponseMessageBytes": "x"}]}`,
		`{"methodConfig": [{"name": [{}], "retryPolicy": {"maxAttempts": 1, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`,
		`{"methodConfig": [{"name": [{}], "retryPolicy": {"maxAttempts": 2, "initialBackoff": "0s", "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`,
		`{"methodConfig": [{"name": [{}], "retryPolicy": {"maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 0, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`,
		`{"methodConfig": [{"name": [{}], "retryPolicy": {"maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": []}}]}`,
		`{"methodConfig": [{"name": [{}], "retryPolicy": {"maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": ["NOPE"]}}]}`,
		`{"methodConfig": [{"name": [{}], "retryPolicy": {"maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": ["OK"]}}]}`,
		`{"methodConfig": [{"name": [{}], "hedgingPolicy": {"maxAttempts": 1}}]}`,
		`{"methodConfig": [{"name": [{}], "hedgingPolicy": {"maxAttempts": 2}, "retryPolicy": {"maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`,
		`{"retryThrottling": {"maxTokens": 0, "tokenRatio": 1}}`,
		`{"retryThrottling": {"maxTokens": 1001, "tokenRatio": 1}}`,
		`{"retryThrottling": {"maxTokens": 10}}`,
		`{"loadBalancingConfig": [{"no_such_policy": {}}]}`,
		`{"loadBalancingConfig": [{"round_robin": {}, "pick_first": {}}]}`,
		`{"loadBalancingPolicy": "nope"}`,
	} {
		_, err := Dial("localhost:1", WithInsecure(), WithServiceConfig(c))
		if CodeOf(err) != InvalidArgument || !strings.Contains(err.Error(), "service config") {
			t.Errorf("Dial with %s: %v, want INVALID_ARGUMENT naming the service config", c, err)
		}
	}
}

func TestServiceConfigParse(t *testing.T) {
	sc, err := parseServiceConfig(`{
	  "loadBalancingConfig": [{"weird_one": {}}, {"round_robin": {}}],
	  "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
	  "methodConfig": [
	    {"name": [{"service": "a.S", "method": "M"}], "timeout": "1.5s", "maxRequestMessageBytes": "100",
	     "retryPolicy": {"maxAttempts": 9, "initialBackoff": "0.1s", "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": ["unavailable", 8]}},
	    {"name": [{"service": "a.S"}], "waitForReady": true, "hedgingPolicy": {"maxAttempts": 3, "hedgingDelay": "0.050s", "nonFatalStatusCodes": ["UNAVAILABLE"]}},
	    {"name": [{}], "maxResponseMessageBytes": 7}
	  ]}`)
	if err != nil {
		t.Fatal(err)
	}
	if sc.balancer == nil || sc.balancer.Name() != "round_robin" {
		t.Errorf("balancer %v, want round_robin (the first one known)", sc.balancer)
	}
	m := sc.lookup("/a.S/M")
	if m.timeout != 1500*time.Millisecond || m.maxReq != 100 || m.retry == nil || m.retry.maxAttempts != 5 ||
		!m.retry.retryable.has(Unavailable) || !m.retry.retryable.has(ResourceExhausted) || m.retry.retryable.has(Internal) {
		t.Errorf("/a.S/M: %+v %+v (want maxAttempts capped at 5)", m, m.retry)
	}
	if s := sc.lookup("/a.S/Other"); s.hedge == nil || s.hedge.delay != 50*time.Millisecond || s.hedge.maxAttempts != 3 || !*s.waitForReady {
		t.Errorf("/a.S/Other: %+v", s)
	}
	if d := sc.lookup("/b.T/X"); d == nil || d.maxResp != 7 {
		t.Errorf("/b.T/X: %+v, want the default", d)
	}
	if sc.throttle.maxTokens != 10 || sc.throttle.tokenRatio != 0.1 {
		t.Errorf("throttle %+v", sc.throttle)
	}
	sc, err = parseServiceConfig(`{"methodConfig": [{"name": [{"service": "a.S"}]}]}`)
	if err != nil || sc.lookup("/b.T/X") != nil {
		t.Errorf("no default: %v, %v", sc.lookup("/b.T/X"), err)
	}
}

func TestMethodConfigDefaults(t *testing.T) {
	var deadlines sync.Map
	e := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		d, ok := ctx.Deadline()
		deadlines.Store(string(req), ok && time.Until(d) <= time.Second)
		if string(req) == "slow" {
			<-ctx.Done()
		}
		return req, nil
	}}, nil, WithServiceConfig(`{"methodConfig": [{"name": [{"service": "test.Echo"}],
	   "timeout": "1s", "maxRequestMessageBytes": 10, "maxResponseMessageBytes": 20}]}`))
	var reply []byte
	if err := e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("fast"), &reply); err != nil {
		t.Fatal(err)
	}
	if v, _ := deadlines.Load("fast"); v != true {
		t.Error("the handler saw no deadline within the config's 1s timeout")
	}
	start := time.Now()
	wantCode(t, e.cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("slow"), &reply), DeadlineExceeded)
	if el := time.Since(start); el < time.Second {
		t.Errorf("timed out after %v, before the config's 1s", el)
	}
	// A shorter deadline of the caller's wins.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	wantCode(t, e.cc.Invoke(ctx, "/test.Echo/Unary", []byte("slow"), &reply), DeadlineExceeded)
	wantCode(t, e.cc.Invoke(context.Background(), "/test.Echo/Unary", make([]byte, 11), &reply), ResourceExhausted)
	// The smaller of the call option and the config wins.
	wantCode(t, e.cc.Invoke(context.Background(), "/test.Echo/Unary", make([]byte, 10), &reply, MaxCallSendMsgSize(100)), OK)
	wantCode(t, e.cc.Invoke(context.Background(), "/test.Echo/Unary", make([]byte, 10), &reply, MaxCallSendMsgSize(9)), ResourceExhausted)
	wantCode(t, e.cc.Invoke(context.Background(), "/test.Echo/Unary", make([]byte, 10), &reply, MaxCallRecvMsgSize(9)), ResourceExhausted)
}

func TestMethodConfigWaitForReady(t *testing.T) {
	// Nothing listens: without waitForReady a call fails fast; with it
	// from the config, the call waits out its context.
	cc, err := Dial("127.0.0.1:1", WithInsecure(), WithBackoff(BackoffConfig{BaseDelay: time.Hour}),
		WithServiceConfig(`{"methodConfig": [{"name": [{"service": "w.S"}], "waitForReady": true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var reply []byte
	wantCode(t, cc.Invoke(context.Background(), "/x.S/M", []byte("x"), &reply), Unavailable)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	wantCode(t, cc.Invoke(ctx, "/w.S/M", []byte("x"), &reply), DeadlineExceeded)
	// A call option overrides the config.
	wantCode(t, cc.Invoke(context.Background(), "/w.S/M", []byte("x"), &reply, WaitForReady(false)), Unavailable)
}

func TestRetryUntilSuccess(t *testing.T) {
	e, f := faultEnv(t, retryConfig)
	f.set(func(f *faultServer) { f.failFirst = 2 })
	if err := call(e); err != nil {
		t.Fatal(err)
	}
	n, prev := f.seen()
	if n != 3 || strings.Join(prev, " ") != " 1 2" {
		t.Errorf("%d attempts with grpc-previous-rpc-attempts %q, want 3: \"\", 1, 2", n, prev)
	}
}

func TestRetryGivesUpAfterMaxAttempts(t *testing.T) {
	e, f := faultEnv(t, retryConfig)
	f.set(func(f *faultServer) { f.failAll = true })
	wantCode(t, call(e), Unavailable)
	if n, _ := f.seen(); n != 4 {
		t.Errorf("%d attempts, want maxAttempts 4", n)
	}
}

func TestNoRetryWithoutPolicy(t *testing.T) {
	// No config at all, a config for other methods, and a code not
	// retryable: one attempt each.
	for _, c := range []struct {
		name, config string
		code         Code
	}{
		{"no config", "", Unavailable},
		{"other method", strings.Replace(retryConfig, `"method": "Unary"`, `"method": "Other"`, 1), Unavailable},
		{"not retryable", retryConfig, Aborted},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, f := faultEnv(t, c.config)
			f.set(func(f *faultServer) { f.failFirst, f.code = 1, c.code })
			wantCode(t, call(e), c.code)
			if n, prev := f.seen(); n != 1 || prev[0] != "" {
				t.Errorf("%d attempts (%q), want 1", n, prev)
			}
		})
	}
}

func TestNoRetryOnceCommitted(t *testing.T) {
	// The server sent response headers before failing: it has the call.
	e, f := faultEnv(t, retryConfig)
	f.set(func(f *faultServer) { f.failFirst, f.headersFirst = 1, true })
	wantCode(t, call(e), Unavailable)
	if n, _ := f.seen(); n != 1 {
		t.Errorf("%d attempts after response headers, want 1", n)
	}
}

func TestRetryPushback(t *testing.T) {
	e, f := faultEnv(t, retryConfig)
	// "do not retry": a negative or malformed value.
	for _, pb := range []string{"-1", "soon"} {
		f.set(func(f *faultServer) { f.failFirst, f.pushback = 1, pb })
		wantCode(t, call(e), Unavailable)
		if n, _ := f.seen(); n != 1 {
			t.Errorf("pushback %q: %d attempts, want 1", pb, n)
		}
	}
	// A delay: the retry waits it, beyond the policy's 50ms maxBackoff.
	f.set(func(f *faultServer) { f.failFirst, f.pushback = 1, "300" })
	start := time.Now()
	if err := call(e); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("retried after %v, before the 300ms pushback", el)
	}
	if n, _ := f.seen(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

func TestRetryBackoffWithinMax(t *testing.T) {
	// Three retries with backoff at most 10, 20, 40ms (random below):
	// the call cannot take a second even on a loaded machine, and takes
	// no less than nothing.
	e, f := faultEnv(t, retryConfig)
	f.set(func(f *faultServer) { f.failFirst = 3 })
	start := time.Now()
	if err := call(e); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
}

func TestRetryLargeRequestCommits(t *testing.T) {
	// A request larger than the per-call retry buffer is sent once.
	e, f := faultEnv(t, retryConfig)
	f.set(func(f *faultServer) { f.failFirst = 1 })
	var reply []byte
	wantCode(t, e.cc.Invoke(context.Background(), "/test.Echo/Unary", make([]byte, defaultRetryCallBuffer+1), &reply), Unavailable)
	if n, _ := f.seen(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
	if b := e.cc.retryBuffered.Load(); b != 0 {
		t.Errorf("%d bytes still counted as buffered", b)
	}
}

func TestRetryBudget(t *testing.T) {
	// maxTokens 10, tokenRatio 1: retries stop once the tokens are at or
	// below 5. Every attempt fails: call 1 takes 2 tokens (10→8), call 2
	// 2 more (→6), call 3's first failure leaves 5: no retry.
	cfg := strings.Replace(retryConfig, `"methodConfig"`, `"retryThrottling": {"maxTokens": 10, "tokenRatio": 1}, "methodConfig"`, 1)
	cfg = strings.Replace(cfg, `"maxAttempts": 4`, `"maxAttempts": 2`, 1)
	e, f := faultEnv(t, cfg)
	if tok, max := e.cc.RetryTokens(); tok != 10 || max != 10 {
		t.Fatalf("RetryTokens %v/%v, want 10/10", tok, max)
	}
	f.set(func(f *faultServer) { f.failAll = true })
	var attempts []int
	for range 4 {
		before, _ := f.seen()
		wantCode(t, call(e), Unavailable)
		after, _ := f.seen()
		attempts = append(attempts, after-before)
	}
	if fmt.Sprint(attempts) != "[2 2 1 1]" {
		t.Errorf("attempts per call %v, want [2 2 1 1]", attempts)
	}
	if tok, _ := e.cc.RetryTokens(); tok != 4 {
		t.Errorf("tokens %v, want 4", tok)
	}
	// Successes refill the bucket by tokenRatio each: at 7 after three,
	// the next failure leaves 6, above half, and the retry is made.
	f.set(func(f *faultServer) { f.failAll = false })
	for range 3 {
		if err := call(e); err != nil {
			t.Fatal(err)
		}
	}
	f.set(func(f *faultServer) { f.failFirst, f.failAll = 1, false })
	if err := call(e); err != nil {
		t.Fatalf("with tokens refilled: %v", err)
	}
	if n, _ := f.seen(); n != 2 {
		t.Errorf("%d attempts after the refill, want 2", n)
	}
	if tok, _ := e.cc.RetryTokens(); tok != 7 {
		t.Errorf("tokens %v, want 7", tok)
	}
}

// configResolver reports one address and hands its Resolution to the test.
type configResolver struct {
	addr string
	res  chan *Resolution
}

func (r configResolver) Watch(ctx context.Context, _ Target, res *Resolution) {
	res.Update([]Address{{Addr: r.addr}})
	r.res <- res
	<-ctx.Done()
}

func TestServiceConfigFromResolver(t *testing.T) {
	for _, disabled := range []bool{false, true} {
		t.Run(fmt.Sprint("disabled=", disabled), func(t *testing.T) {
			e, f := faultEnv(t, "")
			r := configResolver{addr: e.lis.Addr().String(), res: make(chan *Resolution, 1)}
			opts := []DialOption{WithInsecure(), WithResolver(r), WithServiceConfig(retryConfig)}
			if disabled {
				opts = append(opts, WithDisableResolverServiceConfig())
			}
			cc, err := Dial("x", opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			e.cc = cc
			attempts := func() int {
				f.set(func(f *faultServer) { f.failAll = true })
				wantCode(t, call(e), Unavailable)
				n, _ := f.seen()
				return n
			}
			if n := attempts(); n != 4 {
				t.Fatalf("%d attempts under the dial option's config, want 4", n)
			}
			res := <-r.res
			two := strings.Replace(retryConfig, `"maxAttempts": 4`, `"maxAttempts": 2`, 1)
			if err := res.UpdateServiceConfig(two); err != nil {
				t.Fatal(err)
			}
			want := 2
			if disabled {
				want = 4
			}
			if n := attempts(); n != want {
				t.Errorf("%d attempts under the resolver's config, want %d", n, want)
			}
			// An invalid update is an error, and the config stays.
			if err := res.UpdateServiceConfig(`{"methodConfig": 5}`); err == nil {
				t.Error("an invalid config was taken")
			}
			if n := attempts(); n != want {
				t.Errorf("%d attempts after an invalid update, want %d", n, want)
			}
			// None from the resolver: the dial option's again.
			if err := res.UpdateServiceConfig(""); err != nil {
				t.Fatal(err)
			}
			if n := attempts(); n != 4 {
				t.Errorf("%d attempts after the resolver's config went, want 4", n)
			}
		})
	}
}

const hedgeConfig = `{
  "methodConfig": [{
    "name": [{"service": "test.Echo"}],
    "hedgingPolicy": {"maxAttempts": 3, "hedgingDelay": "0.05s", "nonFatalStatusCodes": ["UNAVAILABLE"]}
  }]
}`

func TestHedgingFirstResponseWinsLoserCancelled(t *testing.T) {
	var calls atomic.Int32
	loserEnded := make(chan error, 1)
	e := newEnv(t, &echoServer{unary: func(ctx context.Context, req []byte) ([]byte, error) {
		md, _ := FromIncomingContext(ctx)
		calls.Add(1)
		if md["grpc-previous-rpc-attempts"] == nil {
			// The first attempt hangs until the client cancels it.
			<-ctx.Done()
			loserEnded <- ctx.Err()
			return nil, ctx.Err()
		}
		if got := strings.Join(md["grpc-previous-rpc-attempts"], ","); got != "1" && got != "2" {
			t.Errorf("a hedged attempt says %q previous attempts, want 1 (or 2)", got)
		}
		return req, nil
	}}, nil, WithServiceConfig(hedgeConfig))
	if err := call(e); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-loserEnded:
		if err != context.Canceled {
			t.Errorf("the loser's context ended with %v, want Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the losing attempt's handler never saw its context end")
	}
	// The second attempt goes after 50ms; a third only if the second took
	// 50ms more on a loaded machine.
	if n := calls.Load(); n != 2 && n != 3 {
		t.Errorf("%d attempts, want 2 (the second hedged after 50ms)", n)
	}
}

func TestHedgingFatalAndNonFatal(t *testing.T) {
	e, f := faultEnv(t, hedgeConfig)
	// A non-fatal code sends the next attempt at once: the third wins.
	f.set(func(f *faultServer) { f.failFirst = 2 })
	if err := call(e); err != nil {
		t.Fatal(err)
	}
	// (Sorted: an attempt hedged after 50ms may overtake the one before
	// on a loaded machine.)
	if n, prev := f.seen(); n != 3 || strings.Join(slices.Sorted(slices.Values(prev)), " ") != " 1 2" {
		t.Errorf("%d attempts (%q), want 3", n, prev)
	}
	// All fail non-fatally: maxAttempts, then the last error.
	f.set(func(f *faultServer) { f.failAll = true })
	wantCode(t, call(e), Unavailable)
	if n, _ := f.seen(); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	// A fatal code ends the call.
	f.set(func(f *faultServer) { f.failAll, f.code = true, Internal })
	wantCode(t, call(e), Internal)
	if n, _ := f.seen(); n != 1 {
		t.Errorf("%d attempts after a fatal code, want 1", n)
	}
	// Pushback "do not retry" stops hedging.
	f.set(func(f *faultServer) { f.failAll, f.code, f.pushback = true, Unavailable, "-1" })
	wantCode(t, call(e), Unavailable)
	if n, _ := f.seen(); n != 1 {
		t.Errorf("%d attempts after pushback -1, want 1", n)
	}
}

func TestStreamRetriedWhileUncommitted(t *testing.T) {
	var mu sync.Mutex
	var prev []string
	failFirst := 2
	e := newEnv(t, &echoServer{stream: func(ss ServerStream) error {
		md, _ := FromIncomingContext(ss.Context())
		mu.Lock()
		prev = append(prev, strings.Join(md["grpc-previous-rpc-attempts"], ","))
		fail := len(prev) <= failFirst
		mu.Unlock()
		// Read the whole request stream, then fail before any response:
		// a Trailers-Only UNAVAILABLE.
		var got []string
		for {
			var m []byte
			if err := ss.RecvMsg(&m); err != nil {
				break
			}
			got = append(got, string(m))
		}
		if fail {
			return Errorf(Unavailable, "not now")
		}
		return ss.SendMsg([]byte(strings.Join(got, "+")))
	}}, nil, WithServiceConfig(strings.Replace(retryConfig, `"method": "Unary"`, `"method": "ClientStream"`, 1)))
	s, err := e.cc.NewStream(context.Background(), clientStreamDesc, "/test.Echo/ClientStream")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"a", "b", "c"} {
		if err := s.SendMsg([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	s.CloseSend()
	var reply []byte
	if err := s.RecvMsg(&reply); err != nil {
		t.Fatal(err)
	}
	if string(reply) != "a+b+c" {
		t.Errorf("reply %q: the retried attempt did not get every message sent", reply)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(prev, " ") != " 1 2" {
		t.Errorf("attempts with grpc-previous-rpc-attempts %q, want \"\", 1, 2", prev)
	}
}

func TestStreamNotRetriedOnceCommitted(t *testing.T) {
	var mu sync.Mutex
	attempts := 0
	e := newEnv(t, &echoServer{stream: func(ss ServerStream) error {
		mu.Lock()
		attempts++
		mu.Unlock()
		var m []byte
		if err := ss.RecvMsg(&m); err != nil {
			return err
		}
		// A response message first: the call commits.
		if err := ss.SendMsg(m); err != nil {
			return err
		}
		return Errorf(Unavailable, "gone after the first message")
	}}, nil, WithServiceConfig(strings.Replace(retryConfig, `"method": "Unary"`, `"method": "ServerStream"`, 1)))
	s, err := e.cc.NewStream(context.Background(), serverStreamDesc, "/test.Echo/ServerStream")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg([]byte("x")); err != nil {
		t.Fatal(err)
	}
	var m []byte
	if err := s.RecvMsg(&m); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.RecvMsg(&m), Unavailable)
	mu.Lock()
	defer mu.Unlock()
	if attempts != 1 {
		t.Errorf("%d attempts, want 1: the call had committed", attempts)
	}
}

func TestStreamTimeoutFromConfig(t *testing.T) {
	e := newEnv(t, &echoServer{stream: func(ss ServerStream) error {
		<-ss.Context().Done()
		return ss.Context().Err()
	}}, nil, WithServiceConfig(`{"methodConfig": [{"name": [{"service": "test.Echo", "method": "Bidi"}], "timeout": "0.1s"}]}`))
	s, err := e.cc.NewStream(context.Background(), bidiDesc, "/test.Echo/Bidi")
	if err != nil {
		t.Fatal(err)
	}
	var m []byte
	wantCode(t, s.RecvMsg(&m), DeadlineExceeded)
}

func TestStreamRetryBufferReleased(t *testing.T) {
	e := newEnv(t, &echoServer{stream: func(ss ServerStream) error {
		for {
			var m []byte
			if err := ss.RecvMsg(&m); err != nil {
				return nil
			}
		}
	}}, nil, WithServiceConfig(strings.Replace(retryConfig, `"method": "Unary"`, `"method": "ClientStream"`, 1)))
	// One call finished by RecvMsg, one by its context only.
	for _, byCtx := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := e.cc.NewStream(ctx, clientStreamDesc, "/test.Echo/ClientStream")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SendMsg(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		if b := e.cc.retryBuffered.Load(); b < 1000 {
			t.Errorf("%d bytes counted as kept for a retry, want the 1005 sent", b)
		}
		if !byCtx {
			s.CloseSend()
			var m []byte
			s.RecvMsg(&m)
		}
		cancel()
		deadline := time.Now().Add(5 * time.Second)
		for e.cc.retryBuffered.Load() != 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if b := e.cc.retryBuffered.Load(); b != 0 {
			t.Errorf("byCtx=%v: %d bytes still counted after the call ended", byCtx, b)
		}
	}
}

func TestHedgingCommittedByHeaders(t *testing.T) {
	// The attempt fails non-fatally after response headers: the call
	// committed to it, and no other attempt is made (the next hedge would
	// wait 5s).
	e, f := faultEnv(t, strings.Replace(hedgeConfig, `"0.05s"`, `"5s"`, 1))
	f.set(func(f *faultServer) { f.failFirst, f.headersFirst = 1, true })
	wantCode(t, call(e), Unavailable)
	if n, _ := f.seen(); n != 1 {
		t.Errorf("%d attempts after response headers, want 1", n)
	}
}

func TestRetryBackoffBound(t *testing.T) {
	rp := &retryPolicy{initialBackoff: time.Second, maxBackoff: 3 * time.Second, multiplier: 1e300}
	if b := rp.next(time.Second); b != 3*time.Second {
		t.Errorf("next after 1s with a huge multiplier: %v, want maxBackoff 3s", b)
	}
	rp.multiplier = 2
	if b := rp.next(time.Second); b != 2*time.Second {
		t.Errorf("next after 1s: %v, want 2s", b)
	}
}

// A service config comes from a resolver, so from the network (DNS):
// whatever it says, parsing returns a config or an error.
func FuzzServiceConfig(f *testing.F) {
	f.Add(retryConfig)
	f.Add(hedgeConfig)
	f.Add(`{"loadBalancingConfig": [{"pick_first": {"shuffleAddressList": true}}], "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}}`)
	f.Add(`{"methodConfig": [{"name": [{}], "timeout": "99999999999.999999999s", "maxRequestMessageBytes": "9223372036854775807"}]}`)
	f.Fuzz(func(t *testing.T, js string) {
		sc, err := parseServiceConfig(js)
		if err != nil {
			return
		}
		for _, mc := range sc.methods {
			if mc.timeout < 0 || mc.maxReq < 0 || mc.maxResp < 0 {
				t.Errorf("%q: negative limits %+v", js, mc)
			}
			if mc.retry != nil && (mc.retry.maxAttempts < 2 || mc.retry.maxAttempts > maxPolicyAttempts || mc.retry.initialBackoff <= 0) {
				t.Errorf("%q: retry policy %+v", js, mc.retry)
			}
			if mc.hedge != nil && (mc.hedge.maxAttempts < 2 || mc.hedge.maxAttempts > maxPolicyAttempts || mc.hedge.delay < 0) {
				t.Errorf("%q: hedging policy %+v", js, mc.hedge)
			}
		}
	})
}

func TestDisableRetry(t *testing.T) {
	// Neither the retry nor the hedging policy makes a second attempt,
	// for unary and streaming calls alike.
	for _, c := range []struct{ name, config string }{
		{"retry", strings.Replace(retryConfig, `"method": "Unary"`, `"method": ""`, 1)},
		{"hedging", hedgeConfig},
	} {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			attempts := 0
			count := func() int {
				mu.Lock()
				defer mu.Unlock()
				n := attempts
				attempts = 0
				return n
			}
			e := newEnv(t, &echoServer{
				unary: func(ctx context.Context, req []byte) ([]byte, error) {
					mu.Lock()
					attempts++
					mu.Unlock()
					return nil, Errorf(Unavailable, "down")
				},
				stream: func(ss ServerStream) error {
					mu.Lock()
					attempts++
					mu.Unlock()
					return Errorf(Unavailable, "down")
				},
			}, nil, WithServiceConfig(c.config), WithDisableRetry())
			wantCode(t, call(e), Unavailable)
			if n := count(); n != 1 {
				t.Errorf("unary: %d attempts, want 1", n)
			}
			s, err := e.cc.NewStream(context.Background(), clientStreamDesc, "/test.Echo/ClientStream")
			if err != nil {
				t.Fatal(err)
			}
			s.SendMsg([]byte("x"))
			s.CloseSend()
			var m []byte
			wantCode(t, s.RecvMsg(&m), Unavailable)
			if n := count(); n != 1 {
				t.Errorf("streaming: %d attempts, want 1", n)
			}
		})
	}
	// The transparent retry of a stream the server never processed stays.
	cc, peers := scriptedServers(t, WithServiceConfig(retryConfig), WithDisableRetry())
	errc := make(chan error, 1)
	go func() { errc <- shapes[0].call(context.Background(), cc) }()
	p := nextPeer(t, peers)
	readRequest(t, p, 1, true)
	p.WriteRaw(frame.AppendRSTStream(nil, 1, frame.ErrCodeRefusedStream))
	readRequest(t, p, 3, true)
	respond(t, p, 3, shapes[0].resp...)
	if err := <-errc; err != nil {
		t.Fatalf("the transparently retried call failed: %v", err)
	}
}

func TestRetryBufferLimits(t *testing.T) {
	// Per call: a request of 100 bytes is kept and retried, one of 101
	// commits at once.
	f := &faultServer{code: Unavailable}
	e := newEnv(t, &echoServer{unary: f.unary, stream: func(ss ServerStream) error {
		readAll(ss)
		return nil
	}}, nil, WithServiceConfig(retryConfig), WithRetryBuffer(100, 150))
	for _, c := range []struct{ size, want int }{{100, 2}, {101, 1}} {
		f.set(func(f *faultServer) { f.failFirst = 1 })
		var reply []byte
		err := e.cc.Invoke(context.Background(), "/test.Echo/Unary", make([]byte, c.size), &reply)
		if n, _ := f.seen(); n != c.want {
			t.Errorf("a %d-byte request: %d attempts (%v), want %d", c.size, n, err, c.want)
		}
	}
	// In all: while a streaming call with a retry policy keeps 100 bytes,
	// a 100-byte request does not fit in the 150 and commits.
	cfg := strings.Replace(retryConfig, `"method": "Unary"`, `"method": ""`, 1)
	e2 := newEnv(t, &echoServer{unary: f.unary, stream: func(ss ServerStream) error {
		readAll(ss)
		return ss.SendMsg([]byte("ok"))
	}}, nil, WithServiceConfig(cfg), WithRetryBuffer(1000, 150))
	s, err := e2.cc.NewStream(context.Background(), clientStreamDesc, "/test.Echo/ClientStream")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(make([]byte, 95)); err != nil { // 100 bytes with the prefix
		t.Fatal(err)
	}
	if b := e2.cc.retryBuffered.Load(); b != 100 {
		t.Fatalf("%d bytes kept, want 100", b)
	}
	f.set(func(f *faultServer) { f.failFirst = 1 })
	var reply []byte
	wantCode(t, e2.cc.Invoke(context.Background(), "/test.Echo/Unary", make([]byte, 100), &reply), Unavailable)
	if n, _ := f.seen(); n != 1 {
		t.Errorf("over the ClientConn's total: %d attempts, want 1", n)
	}
	s.CloseSend()
	var m []byte
	if err := s.RecvMsg(&m); err != nil {
		t.Fatal(err)
	}
	if err := s.RecvMsg(&m); err != io.EOF {
		t.Fatal(err)
	}
	f.set(func(f *faultServer) { f.failFirst = 1 })
	if err := e2.cc.Invoke(context.Background(), "/test.Echo/Unary", make([]byte, 100), &reply); err != nil {
		t.Errorf("with the total free again: %v", err)
	}
	if n, _ := f.seen(); n != 2 {
		t.Errorf("with the total free again: %d attempts, want 2", n)
	}
}

// The retry budget is per server name: ClientConns to the same one share
// it, and the last of them to close drops it.
func TestRetryBudgetSharedAndDropped(t *testing.T) {
	cfg := strings.Replace(retryConfig, `"methodConfig"`, `"retryThrottling": {"maxTokens": 10, "tokenRatio": 1}, "methodConfig"`, 1)
	cfg = strings.Replace(cfg, `"maxAttempts": 4`, `"maxAttempts": 2`, 1)
	e, f := faultEnv(t, cfg)
	held := func() (int, bool) {
		throttlesMu.Lock()
		defer throttlesMu.Unlock()
		s, ok := throttles[e.cc.authority]
		if !ok {
			return 0, false
		}
		return s.refs, true
	}
	if _, ok := held(); ok {
		t.Fatal("a budget held before any call")
	}
	cc2, err := Dial(e.lis.Addr().String(), WithInsecure(), WithServiceConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer cc2.Close()
	// A ClientConn that never needs the budget holds nothing.
	cc3, err := Dial(e.lis.Addr().String(), WithInsecure(), WithServiceConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	cc3.Close()
	f.set(func(f *faultServer) { f.failAll = true })
	wantCode(t, call(e), Unavailable) // two failures: 10 → 8
	if tok, _ := cc2.RetryTokens(); tok != 8 {
		t.Errorf("the other ClientConn sees %v tokens, want 8", tok)
	}
	if refs, _ := held(); refs != 2 {
		t.Errorf("the budget is held %d times, want 2", refs)
	}
	e.cc.Close()
	if refs, ok := held(); !ok || refs != 1 {
		t.Errorf("after one Close: held %d times (%v), want 1", refs, ok)
	}
	if tok, _ := e.cc.RetryTokens(); tok != 10 {
		t.Errorf("a closed ClientConn reports %v tokens, want a budget of its own, full", tok)
	}
	cc2.Close()
	if _, ok := held(); ok {
		t.Error("the budget outlived the last ClientConn to its server name")
	}
}
