package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The service config is grpc's per-channel call policy, in grpc's JSON
// format (grpc doc/service_config.md, proposal A6): for each method (or a
// whole service, or every call) a timeout, wait-for-ready, message size
// limits and a retry or hedging policy; a retry budget (retryThrottling);
// and the balancer (loadBalancingConfig). It comes from WithServiceConfig
// and from the resolver (Resolution.UpdateServiceConfig), whose config wins
// unless WithDisableResolverServiceConfig. A call whose method no config
// names costs nothing more than without one.

// serviceConfig is a parsed, validated service config.
type serviceConfig struct {
	// methods maps "/service/method", "/service/" (every method of
	// service) and "" (every call) to their config.
	methods  map[string]*methodConfig
	throttle *throttleConfig
	balancer Balancer // nil: loadBalancingConfig named none
}

// methodConfig is the policy of the calls of one method.
type methodConfig struct {
	timeout      time.Duration // 0: none
	waitForReady *bool
	maxReq       int // 0: not set
	maxResp      int // 0: not set
	retry        *retryPolicy
	hedge        *hedgingPolicy
}

// retryPolicy is a methodConfig's retryPolicy (A6, "Retry Policy").
type retryPolicy struct {
	maxAttempts    int
	initialBackoff time.Duration
	maxBackoff     time.Duration
	multiplier     float64
	retryable      codeSet
}

// hedgingPolicy is a methodConfig's hedgingPolicy (A6, "Hedging Policy").
type hedgingPolicy struct {
	maxAttempts int
	delay       time.Duration
	nonFatal    codeSet
}

// throttleConfig is retryThrottling (A6, "Throttling Retry Attempts and
// Hedged RPCs").
type throttleConfig struct {
	maxTokens  float64
	tokenRatio float64
}

// codeSet is a set of status codes, one bit each.
type codeSet uint32

func (s codeSet) has(c Code) bool { return c < 32 && s&(1<<c) != 0 }

// maxPolicyAttempts caps maxAttempts of both policies: "If maxAttempts is
// greater than 5, it will be treated as 5" (A6).
const maxPolicyAttempts = 5

// lookup returns the config of method ("/service/method"): its own, else
// its service's, else the default; nil if none applies.
func (sc *serviceConfig) lookup(method string) *methodConfig {
	if len(sc.methods) == 0 {
		return nil
	}
	if mc, ok := sc.methods[method]; ok {
		return mc
	}
	if i := strings.LastIndexByte(method, '/'); i > 0 {
		if mc, ok := sc.methods[method[:i+1]]; ok {
			return mc
		}
	}
	return sc.methods[""]
}

// The JSON shapes of the service config. Numbers that protobuf's JSON
// mapping writes as strings (int64, google.protobuf.Duration) are taken in
// either form.
type jsonServiceConfig struct {
	LoadBalancingPolicy *string                      `json:"loadBalancingPolicy"`
	LoadBalancingConfig []map[string]json.RawMessage `json:"loadBalancingConfig"`
	MethodConfig        []jsonMethodConfig           `json:"methodConfig"`
	RetryThrottling     *struct {
		MaxTokens  *float64 `json:"maxTokens"`
		TokenRatio *float64 `json:"tokenRatio"`
	} `json:"retryThrottling"`
}

type jsonMethodConfig struct {
	Name []struct {
		Service string `json:"service"`
		Method  string `json:"method"`
	} `json:"name"`
	WaitForReady            *bool           `json:"waitForReady"`
	Timeout                 *string         `json:"timeout"`
	MaxRequestMessageBytes  json.RawMessage `json:"maxRequestMessageBytes"`
	MaxResponseMessageBytes json.RawMessage `json:"maxResponseMessageBytes"`
	RetryPolicy             *struct {
		MaxAttempts          int               `json:"maxAttempts"`
		InitialBackoff       string            `json:"initialBackoff"`
		MaxBackoff           string            `json:"maxBackoff"`
		BackoffMultiplier    float64           `json:"backoffMultiplier"`
		RetryableStatusCodes []json.RawMessage `json:"retryableStatusCodes"`
	} `json:"retryPolicy"`
	HedgingPolicy *struct {
		MaxAttempts         int               `json:"maxAttempts"`
		HedgingDelay        *string           `json:"hedgingDelay"`
		NonFatalStatusCodes []json.RawMessage `json:"nonFatalStatusCodes"`
	} `json:"hedgingPolicy"`
}

// parseServiceConfig parses and validates a service config in grpc's JSON
// format. Every error says which field is wrong.
func parseServiceConfig(js string) (*serviceConfig, error) {
	var j jsonServiceConfig
	dec := json.NewDecoder(strings.NewReader(js))
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("service config: %w", err)
	}
	if dec.More() {
		return nil, errors.New("service config: text after the JSON object")
	}
	sc := &serviceConfig{methods: map[string]*methodConfig{}}
	var err error
	if sc.balancer, err = parseBalancer(j.LoadBalancingConfig, j.LoadBalancingPolicy); err != nil {
		return nil, fmt.Errorf("service config: %w", err)
	}
	if t := j.RetryThrottling; t != nil {
		if t.MaxTokens == nil || *t.MaxTokens <= 0 || *t.MaxTokens > 1000 {
			return nil, errors.New("service config: retryThrottling.maxTokens must be in (0, 1000]")
		}
		if t.TokenRatio == nil || *t.TokenRatio <= 0 {
			return nil, errors.New("service config: retryThrottling.tokenRatio must be above 0")
		}
		sc.throttle = &throttleConfig{maxTokens: *t.MaxTokens, tokenRatio: *t.TokenRatio}
	}
	for i, jm := range j.MethodConfig {
		mc, err := parseMethodConfig(jm)
		if err != nil {
			return nil, fmt.Errorf("service config: methodConfig[%d]: %w", i, err)
		}
		for _, n := range jm.Name {
			var key string
			switch {
			case n.Service == "" && n.Method != "":
				return nil, fmt.Errorf("service config: methodConfig[%d]: method %q without a service", i, n.Method)
			case n.Service == "":
				key = ""
			default:
				key = "/" + n.Service + "/" + n.Method
			}
			if _, dup := sc.methods[key]; dup {
				return nil, fmt.Errorf("service config: methodConfig[%d]: the name {%q, %q} is configured twice", i, n.Service, n.Method)
			}
			sc.methods[key] = mc
		}
	}
	return sc, nil
}

func parseMethodConfig(jm jsonMethodConfig) (*methodConfig, error) {
	mc := &methodConfig{waitForReady: jm.WaitForReady}
	var err error
	if jm.Timeout != nil {
		if mc.timeout, err = parseDuration(*jm.Timeout); err != nil {
			return nil, fmt.Errorf("timeout: %w", err)
		}
	}
	if mc.maxReq, err = parseSize(jm.MaxRequestMessageBytes); err != nil {
		return nil, fmt.Errorf("maxRequestMessageBytes: %w", err)
	}
	if mc.maxResp, err = parseSize(jm.MaxResponseMessageBytes); err != nil {
		return nil, fmt.Errorf("maxResponseMessageBytes: %w", err)
	}
	if jm.RetryPolicy != nil && jm.HedgingPolicy != nil {
		return nil, errors.New("both retryPolicy and hedgingPolicy")
	}
	if p := jm.RetryPolicy; p != nil {
		rp := &retryPolicy{maxAttempts: min(p.MaxAttempts, maxPolicyAttempts), multiplier: p.BackoffMultiplier}
		if p.MaxAttempts < 2 {
			return nil, errors.New("retryPolicy.maxAttempts must be 2 or more")
		}
		if rp.initialBackoff, err = parseDuration(p.InitialBackoff); err != nil || rp.initialBackoff <= 0 {
			return nil, fmt.Errorf("retryPolicy.initialBackoff must be a duration above 0 (%q)", p.InitialBackoff)
		}
		if rp.maxBackoff, err = parseDuration(p.MaxBackoff); err != nil || rp.maxBackoff <= 0 {
			return nil, fmt.Errorf("retryPolicy.maxBackoff must be a duration above 0 (%q)", p.MaxBackoff)
		}
		if !(p.BackoffMultiplier > 0) || math.IsInf(p.BackoffMultiplier, 0) {
			return nil, errors.New("retryPolicy.backoffMultiplier must be above 0")
		}
		if len(p.RetryableStatusCodes) == 0 {
			return nil, errors.New("retryPolicy.retryableStatusCodes must not be empty")
		}
		if rp.retryable, err = parseCodes(p.RetryableStatusCodes); err != nil {
			return nil, fmt.Errorf("retryPolicy.retryableStatusCodes: %w", err)
		}
		mc.retry = rp
	}
	if p := jm.HedgingPolicy; p != nil {
		hp := &hedgingPolicy{maxAttempts: min(p.MaxAttempts, maxPolicyAttempts)}
		if p.MaxAttempts < 2 {
			return nil, errors.New("hedgingPolicy.maxAttempts must be 2 or more")
		}
		if p.HedgingDelay != nil {
			if hp.delay, err = parseDuration(*p.HedgingDelay); err != nil {
				return nil, fmt.Errorf("hedgingPolicy.hedgingDelay: %w", err)
			}
		}
		if hp.nonFatal, err = parseCodes(p.NonFatalStatusCodes); err != nil {
			return nil, fmt.Errorf("hedgingPolicy.nonFatalStatusCodes: %w", err)
		}
		mc.hedge = hp
	}
	return mc, nil
}

// parseDuration parses a google.protobuf.Duration in its JSON form:
// seconds with up to 9 decimals and an "s" ("1.5s", "0.050s").
func parseDuration(s string) (time.Duration, error) {
	num, ok := strings.CutSuffix(s, "s")
	if !ok || num == "" || strings.ContainsAny(num, "eE+") {
		return 0, fmt.Errorf("%q is not a duration such as \"1.5s\"", s)
	}
	whole, frac, _ := strings.Cut(num, ".")
	if len(frac) > 9 || strings.HasPrefix(whole, "-") {
		return 0, fmt.Errorf("%q is not a non-negative duration with at most 9 decimals", s)
	}
	sec, err := strconv.ParseUint(whole, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as \"1.5s\"", s)
	}
	var nanos uint64
	if frac != "" {
		if nanos, err = strconv.ParseUint(frac+strings.Repeat("0", 9-len(frac)), 10, 32); err != nil {
			return 0, fmt.Errorf("%q is not a duration such as \"1.5s\"", s)
		}
	}
	return time.Duration(sec)*time.Second + time.Duration(nanos), nil
}

// parseSize parses a message size limit, a JSON number or (as protobuf
// writes int64s) a string of one; absent is 0.
func parseSize(raw json.RawMessage) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	s := strings.Trim(string(raw), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s is not a non-negative integer", raw)
	}
	return int(min(n, math.MaxInt32)), nil
}

// parseCodes parses status codes written by name ("UNAVAILABLE") or
// number (14).
func parseCodes(names []json.RawMessage) (codeSet, error) {
	var s codeSet
	for _, raw := range names {
		n := strings.Trim(string(raw), `"`)
		c, ok := codeByName(n)
		if !ok || c == OK {
			return 0, fmt.Errorf("%q is not a status code other than OK", n)
		}
		s |= 1 << c
	}
	return s, nil
}

// codeByName takes statuscodes.md's names (UNAVAILABLE, CANCELLED) and
// grpc-go's (Unavailable, Canceled).
func codeByName(n string) (Code, bool) {
	if strings.EqualFold(n, "CANCELLED") {
		return Canceled, true
	}
	for i, name := range codeNames {
		if strings.EqualFold(strings.ReplaceAll(n, "_", ""), name) {
			return Code(i), true
		}
	}
	if c, ok := parseCode(n); ok && int(c) < len(codeNames) {
		return c, true
	}
	return 0, false
}

// parseBalancer returns the first balancer of loadBalancingConfig this
// library has (a list of {"name": {config}}, in order of preference), or
// of the older loadBalancingPolicy; a list naming none it has is an
// error.
func parseBalancer(list []map[string]json.RawMessage, policy *string) (Balancer, error) {
	for i, entry := range list {
		if len(entry) != 1 {
			return nil, fmt.Errorf("loadBalancingConfig[%d] must name one policy", i)
		}
		for name, cfg := range entry {
			b, known, err := balancerByName(name, cfg)
			if err != nil {
				return nil, fmt.Errorf("loadBalancingConfig[%d]: %s: %w", i, name, err)
			}
			if known {
				return b, nil
			}
		}
	}
	if len(list) > 0 {
		return nil, errors.New("loadBalancingConfig names no policy this client has (pick_first, round_robin, least_request)")
	}
	if policy != nil {
		b, known, err := balancerByName(strings.ToLower(*policy), nil)
		if err != nil || !known {
			return nil, fmt.Errorf("loadBalancingPolicy %q is not one this client has", *policy)
		}
		return b, nil
	}
	return nil, nil
}

func balancerByName(name string, cfg json.RawMessage) (Balancer, bool, error) {
	var c struct {
		ShuffleAddressList bool `json:"shuffleAddressList"`
	}
	if len(cfg) > 0 {
		if err := json.Unmarshal(cfg, &c); err != nil {
			return nil, true, err
		}
	}
	switch name {
	case "pick_first":
		return PickFirst(c.ShuffleAddressList), true, nil
	case "round_robin":
		return RoundRobin(), true, nil
	case "least_request", "least_request_experimental":
		return LeastRequest(false), true, nil
	}
	return nil, false, nil
}

// WithServiceConfig sets the ClientConn's service config, grpc's JSON
// (grpc doc/service_config.md): the methodConfig list (by service and
// method name: timeout, waitForReady, maxRequestMessageBytes,
// maxResponseMessageBytes, retryPolicy or hedgingPolicy), retryThrottling
// and loadBalancingConfig. A config from the resolver replaces it (see
// Resolution.UpdateServiceConfig) unless WithDisableResolverServiceConfig.
// An invalid config fails Dial with INVALID_ARGUMENT. The balancer it names
// is used unless WithBalancer sets one.
func WithServiceConfig(js string) DialOption {
	return func(o *dialOptions) { o.serviceConfig = &js }
}

// WithDisableResolverServiceConfig makes the ClientConn ignore the service
// configs its resolver reports: only WithServiceConfig's applies. The DNS
// resolver then does not look up the TXT record of the config.
func WithDisableResolverServiceConfig() DialOption {
	return func(o *dialOptions) { o.noResolverConfig = true }
}

// UpdateServiceConfig reports the target's service config, grpc's JSON;
// "" means none (the WithServiceConfig one applies again). An invalid
// config is returned as an error and the ClientConn keeps the config it
// had, as grpc-go does. With WithDisableResolverServiceConfig the config is
// checked and ignored. A config's loadBalancingConfig replaces the
// balancer at once, gracefully (calls in flight finish where they are),
// unless WithBalancer set one; a config without one means pick_first.
// Calls made before the resolver's first Update (or Fail) wait for it: a
// config reported before the addresses applies to them.
func (r *Resolution) UpdateServiceConfig(js string) error {
	var sc *serviceConfig
	if js != "" {
		var err error
		if sc, err = parseServiceConfig(js); err != nil {
			return err
		}
	}
	if r.setConfig != nil {
		r.setConfig(sc)
	}
	return nil
}

// setResolverConfig installs the resolver's config (nil: the dial
// option's again), and its balancer unless WithBalancer set one.
func (cc *ClientConn) setResolverConfig(sc *serviceConfig) {
	if sc == nil {
		sc = cc.dialConfig
	}
	cc.sc.Store(sc)
	if cc.opts.balancer != nil {
		return
	}
	var b Balancer
	if sc != nil {
		b = sc.balancer
	}
	if b == nil {
		b = PickFirst(false)
	}
	cc.switchBalancer(b)
}

// switchBalancer makes b the ClientConn's balancer, if it is not the same
// policy already. The switch is graceful: b picks from the backends as
// they are (those connected stay ready), a backend b wants is connected,
// and the connections it does not want (pick_first keeps one backend's)
// finish their calls before they close. A call in flight keeps its
// stream; the next call is b's.
func (cc *ClientConn) switchBalancer(b Balancer) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closed || sameBalancer(cc.balancer, b) {
		return
	}
	cc.balancer = b
	if cc.resolved {
		cc.balanceLocked(nil)
		cc.updateStateLocked()
	}
}

// sameBalancer reports whether a and b are the same policy with the same
// config (a balancer's state, like round_robin's position, does not count).
func sameBalancer(a, b Balancer) bool {
	switch a := a.(type) {
	case *pickFirst:
		b, ok := b.(*pickFirst)
		return ok && *a == *b
	case *roundRobin:
		_, ok := b.(*roundRobin)
		return ok
	case *leastRequest:
		b, ok := b.(*leastRequest)
		return ok && *a == *b
	}
	return a == b
}

// withMethodConfig is the first option of a call of a method with a
// config: see callInfo.
func withMethodConfig(mc *methodConfig) CallOption {
	return func(ci *callInfo) {
		ci.mc = mc
		if mc.waitForReady != nil {
			ci.waitForReady = *mc.waitForReady
		}
	}
}

// applySizes makes the message limits of a call those of its method's
// config, or the smaller of those and the call options' (as grpc-go does).
func (ci *callInfo) applySizes() {
	mc := ci.mc
	if mc.maxReq > 0 {
		if ci.sendSet {
			ci.maxSend = min(ci.maxSend, mc.maxReq)
		} else {
			ci.maxSend = mc.maxReq
		}
	}
	if mc.maxResp > 0 {
		if ci.recvSet {
			ci.maxRecv = min(ci.maxRecv, mc.maxResp)
		} else {
			ci.maxRecv = mc.maxResp
		}
	}
}
