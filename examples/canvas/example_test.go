package canvas_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/h2rpc/h2rpc/examples/canvas"
	"github.com/h2rpc/h2rpc/rpc"
)

// serve starts a server of one unary method (/canvas.S/M for service S and
// method M) on loopback; stop ends it.
func serve(service, method string, h func(ctx context.Context, req []byte) ([]byte, error)) (addr string, stop func()) {
	srv := rpc.NewServer()
	srv.RegisterService(&rpc.ServiceDesc{
		ServiceName: service,
		Methods: []rpc.MethodDesc{{MethodName: method, Handler: func(_ any, ctx context.Context, dec func(any) error, _ rpc.UnaryServerInterceptor) (any, error) {
			var req []byte
			if err := dec(&req); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}}},
	}, nil)
	return start(srv)
}

func start(srv *rpc.Server) (string, func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	return lis.Addr().String(), func() {
		srv.Stop()
		<-served
	}
}

func dial(target string, opts []rpc.DialOption) *rpc.ClientConn {
	cc, err := rpc.Dial(target, append([]rpc.DialOption{rpc.WithInsecure()}, opts...)...)
	if err != nil {
		panic(err)
	}
	return cc
}

// The read path: one of three backends takes a second; hedged after 50ms
// to another backend, every read is answered by a fast one. In service
// each read has 300ms; here it has 5s, as a loaded machine running the
// examples can stall a read past 300ms. The slow backend answers well
// within 5s, so a read that was not hedged would show up as answered by
// it.
func Example_readPath() {
	var addrs []string
	for _, name := range []string{"slow", "fast-1", "fast-2"} {
		addr, stop := serve("canvas.Profiles", "Get", func(ctx context.Context, req []byte) ([]byte, error) {
			if name == "slow" {
				select {
				case <-time.After(time.Second):
				case <-ctx.Done(): // the hedge won: this attempt was cancelled
					return nil, ctx.Err()
				}
			}
			return []byte(name), nil
		})
		defer stop()
		addrs = append(addrs, addr)
	}
	config := strings.Replace(canvas.ReadPathConfig, `"timeout": "0.3s"`, `"timeout": "5s"`, 1)
	if config == canvas.ReadPathConfig {
		panic("ReadPathConfig has no 0.3s timeout to relax")
	}
	cc := dial("static:///"+strings.Join(addrs, ","), []rpc.DialOption{rpc.WithServiceConfig(config)})
	defer cc.Close()
	fast := 0
	for range 20 {
		var reply []byte
		if err := cc.Invoke(context.Background(), "/canvas.Profiles/Get", []byte("user-42"), &reply); err != nil {
			fmt.Println(err)
			continue
		}
		if strings.HasPrefix(string(reply), "fast") {
			fast++
		}
	}
	fmt.Printf("20 reads, %d answered by a fast backend\n", fast)
	// Output: 20 reads, 20 answered by a fast backend
}

// The write path: the server fails the capture with UNAVAILABLE. Nothing
// retries it: whether the money moved is for the caller to find out, with
// its idempotency key.
func Example_writePath() {
	var mu sync.Mutex
	attempts := 0
	addr, stop := serve("canvas.Payments", "Capture", func(ctx context.Context, req []byte) ([]byte, error) {
		mu.Lock()
		attempts++
		mu.Unlock()
		return nil, rpc.Errorf(rpc.Unavailable, "ledger unreachable after the charge was sent")
	})
	defer stop()
	cc := dial(addr, canvas.WritePath())
	defer cc.Close()
	ctx := rpc.AppendToOutgoingContext(context.Background(), "idempotency-key", "capture-7f3a")
	var reply []byte
	err := cc.Invoke(ctx, "/canvas.Payments/Capture", []byte("order 7f3a: 12.00 EUR"), &reply)
	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("%v after %d attempt\n", rpc.CodeOf(err), attempts)
	// Output: Unavailable after 1 attempt
}

// The feed: a server stream with no timeout; the subscriber says where to
// resume from.
func Example_feed() {
	srv := rpc.NewServer()
	srv.RegisterService(&rpc.ServiceDesc{
		ServiceName: "canvas.Feed",
		Streams: []rpc.StreamDesc{{StreamName: "Watch", ServerStreams: true, Handler: func(_ any, ss rpc.ServerStream) error {
			var from []byte
			if err := ss.RecvMsg(&from); err != nil {
				return err
			}
			for i := 1; i <= 3; i++ {
				if err := ss.SendMsg([]byte(fmt.Sprintf("event %d after %s", i, from))); err != nil {
					return err
				}
			}
			return nil
		}}},
	}, nil)
	addr, stop := start(srv)
	defer stop()
	cc := dial(addr, canvas.Feed())
	defer cc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := cc.NewStream(ctx, &rpc.StreamDesc{ServerStreams: true}, "/canvas.Feed/Watch")
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.SendMsg([]byte("event 0")); err != nil {
		fmt.Println(err)
		return
	}
	for {
		var ev []byte
		if err := s.RecvMsg(&ev); err != nil {
			if err != io.EOF {
				fmt.Println(err)
			}
			break
		}
		fmt.Println(string(ev))
	}
	// Output:
	// event 1 after event 0
	// event 2 after event 0
	// event 3 after event 0
}

// The importer: the server sheds the first attempt of every batch with
// UNAVAILABLE; each batch is retried after a backoff and imported, and the
// budget, refilled by the successes, never runs dry.
func Example_importer() {
	var mu sync.Mutex
	seen := map[string]int{}
	addr, stop := serve("canvas.Importer", "Import", func(ctx context.Context, req []byte) ([]byte, error) {
		key := string(req[:8]) // the batch number: an attempt again is the same batch
		mu.Lock()
		seen[key]++
		n := seen[key]
		mu.Unlock()
		if n == 1 {
			return nil, rpc.Errorf(rpc.Unavailable, "shedding load")
		}
		return []byte("ok"), nil
	})
	defer stop()
	cc := dial(addr, canvas.Importer())
	defer cc.Close()
	imported := 0
	for i := range 5 {
		batch := fmt.Appendf(nil, "batch-%02d", i)
		batch = append(batch, make([]byte, 64<<10)...)
		var reply []byte
		if err := cc.Invoke(context.Background(), "/canvas.Importer/Import", batch, &reply); err != nil {
			fmt.Println(err)
			continue
		}
		imported++
	}
	mu.Lock()
	attempts := 0
	for _, n := range seen {
		attempts += n
	}
	mu.Unlock()
	tokens, max := cc.RetryTokens()
	fmt.Printf("%d batches imported in %d attempts; retry budget %.1f of %.0f\n", imported, attempts, tokens, max)
	// Output: 5 batches imported in 10 attempts; retry budget 17.5 of 20
}
