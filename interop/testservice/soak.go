package testservice

import (
	"context"
	"errors"
	"fmt"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/h2rpc/h2rpc/rpc"
)

func (cfg *Config) soakDefaults() {
	if cfg.SoakIterations <= 0 {
		cfg.SoakIterations = 10
	}
	if cfg.SoakPerIterationMaxLatency <= 0 {
		cfg.SoakPerIterationMaxLatency = time.Second
	}
	if cfg.SoakOverallTimeout <= 0 {
		cfg.SoakOverallTimeout = 10 * time.Second
	}
	if cfg.SoakRequestSize <= 0 {
		cfg.SoakRequestSize = largeReqSize
	}
	if cfg.SoakResponseSize <= 0 {
		cfg.SoakResponseSize = largeRespSize
	}
}

// rpcSoak runs large unary calls on one channel, as grpc-go's rpc_soak.
func rpcSoak(ctx context.Context, cc *rpc.ClientConn, cfg *Config) error {
	return soak(ctx, cfg, func() (*rpc.ClientConn, func(), error) { return cc, func() {}, nil })
}

// channelSoak runs large unary calls each on a new channel, as grpc-go's
// channel_soak: every iteration dials, handshakes and closes.
func channelSoak(ctx context.Context, _ *rpc.ClientConn, cfg *Config) error {
	if cfg.Dial == nil {
		return errors.New("no Dial function for new channels")
	}
	return soak(ctx, cfg, func() (*rpc.ClientConn, func(), error) {
		cc, err := cfg.Dial()
		if err != nil {
			return nil, nil, err
		}
		return cc, func() { cc.Close() }, nil
	})
}

// soak runs cfg.SoakIterations large unary calls, each on the channel
// channel returns; an iteration fails on an error or when it takes longer
// than the per-iteration bound. More failures than cfg.SoakMaxFailures, or
// not finishing within the overall timeout, fails the case.
func soak(ctx context.Context, cfg *Config, channel func() (*rpc.ClientConn, func(), error)) error {
	cfg.soakDefaults()
	ctx, cancel := context.WithTimeout(ctx, cfg.SoakOverallTimeout)
	defer cancel()
	req := &testpb.SimpleRequest{
		ResponseType: testpb.PayloadType_COMPRESSABLE,
		ResponseSize: int32(cfg.SoakResponseSize),
		Payload:      payload(cfg.SoakRequestSize),
	}
	var failures []string
	done := 0
	for i := 0; i < cfg.SoakIterations; i++ {
		if ctx.Err() != nil {
			return fmt.Errorf("only %d of %d iterations within the overall timeout of %v (%d failed: %v)",
				done, cfg.SoakIterations, cfg.SoakOverallTimeout, len(failures), failures)
		}
		start := time.Now()
		err := func() error {
			cc, closeCC, err := channel()
			if err != nil {
				return err
			}
			defer closeCC()
			return unary(ctx, cc, req, cfg.SoakResponseSize)
		}()
		latency := time.Since(start)
		switch {
		case err != nil:
			failures = append(failures, fmt.Sprintf("iteration %d: %v", i, err))
		case latency > cfg.SoakPerIterationMaxLatency:
			failures = append(failures, fmt.Sprintf("iteration %d took %v, over %v", i, latency, cfg.SoakPerIterationMaxLatency))
		}
		done++
		if wait := cfg.SoakMinTimeBetweenRPCs - latency; wait > 0 && i+1 < cfg.SoakIterations {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
	}
	if len(failures) > cfg.SoakMaxFailures {
		return fmt.Errorf("%d of %d iterations failed, more than the %d allowed: %v", len(failures), cfg.SoakIterations, cfg.SoakMaxFailures, failures)
	}
	return nil
}
