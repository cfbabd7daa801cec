package prometheus_test

import (
	"context"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/h2rpc/h2rpc/examples/prometheus"
	"github.com/h2rpc/h2rpc/internal/leakcheck"
	"github.com/h2rpc/h2rpc/rpc"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var echoDesc = rpc.ServiceDesc{
	ServiceName: "test.Echo",
	Methods: []rpc.MethodDesc{{MethodName: "Unary", Handler: func(srv any, ctx context.Context, dec func(any) error, _ rpc.UnaryServerInterceptor) (any, error) {
		var req []byte
		if err := dec(&req); err != nil {
			return nil, err
		}
		if len(req) == 0 {
			return nil, rpc.Errorf(rpc.InvalidArgument, "empty")
		}
		return req, nil
	}}},
}

// TestScrape makes calls and scrapes the metrics page.
func TestScrape(t *testing.T) {
	m := prometheus.NewMetrics()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(rpc.ServerStats(m))
	srv.RegisterService(&echoDesc, struct{}{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Stop()
		<-served
	}()
	cc, err := rpc.Dial(ln.Addr().String(), rpc.WithInsecure(), rpc.WithStats(m))
	if err != nil {
		t.Fatal(err)
	}
	var reply []byte
	for range 3 {
		if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("hello"), &reply); err != nil {
			t.Fatal(err)
		}
	}
	if err := cc.Invoke(context.Background(), "/test.Echo/Unary", []byte{}, &reply); rpc.CodeOf(err) != rpc.InvalidArgument {
		t.Fatalf("empty request: %v", err)
	}
	cc.Close()

	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	page := string(body)
	for _, want := range []string{
		`h2rpc_call_duration_seconds_count{side="client",method="/test.Echo/Unary",code="OK"} 3`,
		`h2rpc_call_duration_seconds_count{side="client",method="/test.Echo/Unary",code="InvalidArgument"} 1`,
		`h2rpc_call_duration_seconds_bucket{side="client",method="/test.Echo/Unary",code="OK",le="+Inf"} 3`,
		`h2rpc_message_bytes_total{side="client",direction="sent",method="/test.Echo/Unary"} 35`,
		`# TYPE h2rpc_connections gauge`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("metrics lack %s:\n%s", want, page)
		}
	}
}
