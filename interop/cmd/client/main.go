// Command client is an h2rpc client for gRPC's interoperability tests: it
// runs one standard test case against a grpc.testing.TestService server,
// with the flags of grpc-go's interop/client.
//
//	client --server_host 127.0.0.1 --server_port 10000 --test_case large_unary
//	client --use_tls --use_test_ca --ca_file ca.pem --server_host_override foo.test --test_case all
//
// It exits 0 if the case passed and 1, with the reason on stderr, if not.
// --test_case=all runs every case it knows, in order.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/h2rpc/h2rpc/h2tls"
	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/rpc"
)

func main() {
	host := flag.String("server_host", "localhost", "the server host name")
	port := flag.Int("server_port", 10000, "the server port number")
	hostOverride := flag.String("server_host_override", "", "the :authority to send and, over TLS, the server name to verify, if not server_host")
	testCase := flag.String("test_case", "large_unary", "the case to run, or \"all\": "+strings.Join(testservice.Cases(), ", "))
	useTLS := flag.Bool("use_tls", false, "connect over TLS instead of h2c")
	useTestCA := flag.Bool("use_test_ca", false, "verify the server against --ca_file instead of the system roots")
	caFile := flag.String("ca_file", "", "the PEM file of the CA --use_test_ca trusts")
	iterations := flag.Int("soak_iterations", 10, "iterations of rpc_soak and channel_soak")
	maxFailures := flag.Int("soak_max_failures", 0, "soak iterations allowed to fail")
	maxLatency := flag.Int("soak_per_iteration_max_acceptable_latency_ms", 1000, "slowest acceptable soak iteration, in ms")
	overall := flag.Int("soak_overall_timeout_seconds", 10, "time limit of a soak case, in seconds")
	minBetween := flag.Int("soak_min_time_ms_between_rpcs", 0, "minimum time between soak iterations, in ms")
	reqSize := flag.Int("soak_request_size", 271828, "request payload of a soak iteration, in bytes")
	respSize := flag.Int("soak_response_size", 314159, "response payload of a soak iteration, in bytes")
	lenient := flag.Bool("lenient_compression_probe", false, "let the compression cases go on when the server does not implement CompressedRequest (grpc-go's interop server does not)")
	flag.Parse()
	if flag.NArg() > 0 {
		fail(fmt.Sprintf("unexpected arguments %q", flag.Args()))
	}
	addr := net.JoinHostPort(*host, strconv.Itoa(*port))
	var opts []rpc.DialOption
	if *hostOverride != "" {
		opts = append(opts, rpc.WithAuthority(*hostOverride))
	}
	if *useTLS {
		cfg := &tls.Config{ServerName: *host}
		if *hostOverride != "" {
			cfg.ServerName = *hostOverride
		}
		if *useTestCA {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				fail("--use_test_ca: " + err.Error())
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				fail("--ca_file " + *caFile + ": no PEM certificate in it")
			}
		}
		opts = append(opts, h2tls.Client(cfg))
	}
	dial := func() (*rpc.ClientConn, error) { return testservice.Dial(addr, opts...) }
	cc, err := dial()
	if err != nil {
		fail(err.Error())
	}
	defer cc.Close()
	cfg := testservice.Config{
		Dial:                       dial,
		SoakIterations:             *iterations,
		SoakMaxFailures:            *maxFailures,
		SoakPerIterationMaxLatency: time.Duration(*maxLatency) * time.Millisecond,
		SoakOverallTimeout:         time.Duration(*overall) * time.Second,
		SoakMinTimeBetweenRPCs:     time.Duration(*minBetween) * time.Millisecond,
		SoakRequestSize:            *reqSize,
		SoakResponseSize:           *respSize,
		LenientCompressionProbe:    *lenient,
	}
	cases := []string{*testCase}
	if *testCase == "all" {
		cases = testservice.Cases()
	}
	failed := 0
	for _, name := range cases {
		if err := testservice.RunCase(context.Background(), cc, name, cfg); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL", err)
			failed++
			continue
		}
		fmt.Println("PASS", name)
	}
	if failed > 0 {
		cc.Close()
		os.Exit(1)
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "client:", msg)
	os.Exit(1)
}
