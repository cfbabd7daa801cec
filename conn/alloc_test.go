package conn_test

import (
	"context"
	"io"
	"testing"

	"github.com/h2rpc/h2rpc/conn"
)

// TestUnaryExchangeAllocs pins the allocations of one unary-shaped exchange
// (BenchmarkUnaryExchange's), client and server together, with a
// cancellable context on an unwatched stream as the RPC layer's unary calls
// use: today 3 (the two Streams, the test handler's buffer; the handler
// runs on the server's reading goroutine), budget 3. The watcher the caller
// registers on its context while it reads its own response (two
// allocations) is kept between calls under one context (lead.go,
// leadKeep), so a warm exchange makes none. The race detector makes
// sync.Pool drop items, so the test runs without -race only (make test
// runs it so).
func TestUnaryExchangeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector; run without -race")
	}
	client, _ := pair(t, nil, nil, unaryHandler)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := request("/bench.Service/Unary")
	payload := make([]byte, 16)
	var buf [64]byte
	exchange := func() {
		s, err := client.OpenStream(ctx, req, payload, conn.EndStream|conn.Unwatched)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadHeaders(); err != nil {
			t.Fatal(err)
		}
		for {
			_, err := s.Read(buf[:])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 10 {
		exchange() // settle the handshake and the HPACK tables
	}
	allocs := testing.AllocsPerRun(200, exchange)
	t.Logf("%.1f allocations per exchange, both sides", allocs)
	if allocs > 3 {
		t.Errorf("%.1f allocations per unary exchange, over the budget of 3", allocs)
	}
}
