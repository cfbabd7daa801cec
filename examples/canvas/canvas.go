// Package canvas is the design canvas (docs/design-canvas.md) as code:
// four workloads, each with the whole client configuration it needs, in
// grpc's service config plus dial options. The examples run each against
// loopback servers that misbehave the way the workload must survive.
//
// The choices, in one line each (the doc defends them):
//
//	ReadPath   idempotent read, tight deadline: hedge at 50ms to other backends, round_robin, budgeted
//	WritePath  must not run twice: no retry policy (transparent retry only), a deadline, least_request
//	Feed       server stream, long-lived: no timeout, no retry policy, keepalive, pick_first
//	Importer   idempotent batches: retries with backoff and a budget, big messages, gzip, wait-for-ready
//
// TLS is left out of the examples (they run on loopback); inside a fleet
// every one of them dials with h2tls.Client and a client certificate, as
// docs/security.md describes.
package canvas

import (
	"time"

	"github.com/h2rpc/h2rpc/rpc"
)

// ReadPathConfig is the service config of a latency-critical read (a
// profile lookup): 300ms per call, hedged after 50ms up to 3 attempts,
// each to a backend the others did not go to; the retry budget keeps a
// brownout from doubling the load.
const ReadPathConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "retryThrottling": {"maxTokens": 100, "tokenRatio": 0.1},
  "methodConfig": [{
    "name": [{"service": "canvas.Profiles", "method": "Get"}],
    "timeout": "0.3s",
    "hedgingPolicy": {"maxAttempts": 3, "hedgingDelay": "0.05s", "nonFatalStatusCodes": ["UNAVAILABLE"]}
  }]
}`

// WritePathConfig is the service config of a write that must not be
// duplicated (a payment capture): a deadline and no retry policy. A
// stream the server never processed is still retried, transparently; any
// other failure goes back to the caller, who retries, if at all, with the
// same idempotency key.
const WritePathConfig = `{
  "loadBalancingConfig": [{"least_request": {}}],
  "methodConfig": [{
    "name": [{"service": "canvas.Payments"}],
    "timeout": "2s"
  }]
}`

// FeedConfig is the service config of a streaming feed: no timeout (the
// stream lives as long as its subscriber), messages up to 1 MiB, pick_first
// (one connection carries the feed). A broken feed is resumed by the
// subscriber from its last event, not replayed by the library.
const FeedConfig = `{
  "loadBalancingConfig": [{"pick_first": {}}],
  "methodConfig": [{
    "name": [{"service": "canvas.Feed"}],
    "maxResponseMessageBytes": 1048576
  }]
}`

// ImporterConfig is the service config of a batch importer: each batch is
// idempotent (keyed by its number), so UNAVAILABLE and RESOURCE_EXHAUSTED
// are retried with backoff, under a budget; batches may be 16 MiB; a call
// waits for a backend rather than failing during a rollout.
const ImporterConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "retryThrottling": {"maxTokens": 20, "tokenRatio": 0.5},
  "methodConfig": [{
    "name": [{"service": "canvas.Importer"}],
    "timeout": "30s",
    "waitForReady": true,
    "maxRequestMessageBytes": 16777216,
    "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.02s", "maxBackoff": "0.5s",
      "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"]}
  }]
}`

// ReadPath returns the dial options of the read path.
func ReadPath() []rpc.DialOption {
	return []rpc.DialOption{rpc.WithServiceConfig(ReadPathConfig)}
}

// WritePath returns the dial options of the write path.
func WritePath() []rpc.DialOption {
	return []rpc.DialOption{rpc.WithServiceConfig(WritePathConfig)}
}

// Feed returns the dial options of the feed: keepalive pings find a dead
// connection under an idle stream.
func Feed() []rpc.DialOption {
	return []rpc.DialOption{
		rpc.WithServiceConfig(FeedConfig),
		rpc.WithKeepalive(rpc.KeepaliveParams{Time: time.Minute, Timeout: 20 * time.Second}),
	}
}

// Importer returns the dial options of the importer: its batches are
// compressed.
func Importer() []rpc.DialOption {
	return []rpc.DialOption{rpc.WithServiceConfig(ImporterConfig), rpc.WithCompressor("gzip")}
}
