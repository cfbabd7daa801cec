package trace

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// Relay is a recording proxy: for each connection accepted on ln it dials
// upstream, copies the bytes both ways unchanged, and records the frames
// they carry as one connection of w. It speaks HTTP/2 over cleartext (h2c
// with prior knowledge, as gRPC does), so any client and server of that
// kind can be traced without changing either.
//
// Relay returns when ctx is done (nil) or ln fails (the error); it closes
// ln and every relayed connection and waits for its goroutines first.
func Relay(ctx context.Context, ln net.Listener, dial func(context.Context) (net.Conn, error), w *Writer) error {
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait()
	}()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		down, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("trace: relay: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			relayConn(ctx, down, dial, w)
		}()
	}
}

// relayConn relays one accepted connection until both directions end or
// ctx is done.
func relayConn(ctx context.Context, down net.Conn, dial func(context.Context) (net.Conn, error), w *Writer) {
	defer down.Close()
	up, err := dial(ctx)
	if err != nil {
		return
	}
	defer up.Close()
	rec := w.Conn(Proxy)
	stop := context.AfterFunc(ctx, func() {
		down.Close()
		up.Close()
	})
	defer stop()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		pipe(up, down, rec, Client)
	}()
	pipe(down, up, rec, Server)
	wg.Done()
	wg.Wait()
}

// pipe copies src to dst, recording each chunk as sent by from, and passes
// on the end of src as a half-close of dst (or a close, if dst cannot
// half-close) so an orderly shutdown stays orderly.
func pipe(dst, src net.Conn, rec *Recorder, from Endpoint) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			rec.Bytes(from, buf[:n]) // what from sent, whether or not it is delivered
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			var hc interface{ CloseWrite() error }
			if errors.As(err, new(net.Error)) || !asHalfCloser(dst, &hc) {
				dst.Close()
				return
			}
			hc.CloseWrite()
			return
		}
	}
}

func asHalfCloser(c net.Conn, hc *interface{ CloseWrite() error }) bool {
	h, ok := c.(interface{ CloseWrite() error })
	if ok {
		*hc = h
	}
	return ok
}
