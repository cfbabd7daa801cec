package interop

// nginx (Debian's package) as a gRPC reverse proxy in front of h2rpc and in
// front of grpc-go, over h2c both sides (listen ... http2; grpc_pass
// grpc://):
//
//	OurClient_Proxy_OurServer: our client, in process, runs the standard
//	  and compression cases through nginx against our TestService;
//	GRPCGoClient_Proxy_OurServer: grpc-go's interop client does the same;
//	OurClient_Proxy_GRPCGoServer: our client through nginx against
//	  grpc-go's interop server, the standard cases only: that binary has
//	  no gzip decompressor installed;
//	H2load_Proxy_OurServer: 10000 unary calls from h2load, 100 at a time,
//	  through nginx to cmd/server; nginx runs one stream at a time on each
//	  upstream connection and reuses the connections (keepalive).
//
// nginx runs in the foreground (daemon off) as a child of the test, with a
// generated configuration in the test's temporary directory.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/rpc"
)

// proxyCases are the cases run through the proxies: the standard ones and
// our compression cases.
var proxyCases = append(append([]string(nil), peerCases...), compressionCases...)

// startNginx runs nginx as a gRPC proxy to upstream and returns the address
// it listens on.
func startNginx(t *testing.T, upstream string) string {
	t.Helper()
	nginx := lookPeer(t, "nginx")
	dir := t.TempDir()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the workers would otherwise be nobody, without access to dir
	}
	return startOnFreePort(t, func(addr string) *peerProcess {
		// Upstream connections are kept and reused (keepalive), as a
		// production configuration does: nginx runs one stream at a time
		// on each, one after another. keepalive_requests is raised on both
		// sides so that nginx does not close connections during h2load's
		// run (1000 requests by default).
		conf := fmt.Sprintf(`%[1]s
daemon off;
master_process on;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log stderr notice;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 1000000;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	upstream backend {
		server %[4]s;
		keepalive 32;
		keepalive_requests 1000000;
	}
	server {
		listen %[3]s http2;
		location / {
			grpc_pass grpc://backend;
		}
	}
}
`, user, dir, addr, upstream)
		file := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		p, _ := startPeer(t, dir, nginx, []string{"-p", dir, "-c", file, "-e", "stderr"}, nil)
		return p
	})
}

// runOurCases runs our client's cases, in process, against addr.
func runOurCases(t *testing.T, ty *tally, addr string, cases []string, cfg testservice.Config) {
	t.Helper()
	cc, err := testservice.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cfg.Dial = func() (*rpc.ClientConn, error) { return testservice.Dial(addr) }
	for _, name := range cases {
		ty.run(t, name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
			defer cancel()
			if err := testservice.RunCase(ctx, cc, name, cfg); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestNginxGRPCProxy(t *testing.T) {
	lookPeer(t, "nginx")
	testGRPCProxy(t, "nginx", startNginx)
}

// testGRPCProxy runs the cases through the proxy that start runs in front of
// an upstream: our client and grpc-go's to our server, ours to grpc-go's.
func testGRPCProxy(t *testing.T, proxyName string, start func(t *testing.T, upstream string) string) {
	newTally := tallies(t)

	t.Run("OurClient_Proxy_OurServer", func(t *testing.T) {
		ty := newTally("h2rpc client -> " + proxyName + " -> h2rpc server")
		proxy := start(t, startH2RPCTestService(t))
		runOurCases(t, ty, proxy, proxyCases, testservice.Config{LenientCompressionProbe: true})
	})

	t.Run("GRPCGoClient_Proxy_OurServer", func(t *testing.T) {
		ty := newTally("grpc-go client -> " + proxyName + " -> h2rpc server")
		grpcClient := sharedBuild(t, "grpc-go-interop-client", "google.golang.org/grpc/interop/client")
		host, port := hostPort(t, start(t, startH2RPCTestService(t)))
		for _, name := range peerCases {
			ty.run(t, name, func(t *testing.T) {
				runProcess(t, grpcClient, "--server_host="+host, "--server_port="+port, "--test_case="+name, "--use_tls=false")
			})
		}
	})

	t.Run("OurClient_Proxy_GRPCGoServer", func(t *testing.T) {
		ty := newTally("h2rpc client -> " + proxyName + " -> grpc-go server")
		grpcServer := sharedBuild(t, "grpc-go-interop-server", "google.golang.org/grpc/interop/server")
		proxy := start(t, startProcessServer(t, grpcServer))
		runOurCases(t, ty, proxy, peerCases, testservice.Config{})
	})

	// Many concurrent calls through the proxy on several connections.
	t.Run("H2load_Proxy_OurServer", func(t *testing.T) {
		h2load := lookPeer(t, "h2load")
		proxy := start(t, startOurServerBinary(t, sharedBuild(t, "h2rpc-interop-server", "./cmd/server")))
		req := &testpb.SimpleRequest{ResponseSize: 1000, Payload: &testpb.Payload{Body: make([]byte, 1000)}}
		resp := &testpb.SimpleResponse{Payload: &testpb.Payload{Body: make([]byte, 1000)}}
		h2loadRun(t, h2load, 10000, len(grpcFrame(t, resp)),
			"http://"+proxy+"/grpc.testing.TestService/UnaryCall",
			"-c", "4", "-m", "25", "-d", writeFile(t, "unary", grpcFrame(t, req)),
			"-H", "content-type: application/grpc", "-H", "te: trailers")
	})
}
