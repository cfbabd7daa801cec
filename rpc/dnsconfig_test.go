package rpc

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

func TestDNSConfigChoose(t *testing.T) {
	sel := &dnsConfigSelector{roll: 50, hostname: func() string { return "client-1" }}
	const sc = `{"loadBalancingConfig": [{"round_robin": {}}]}`
	for _, c := range []struct {
		name    string
		records []string
		want    string
		err     bool
	}{
		{"no record", nil, "", false},
		{"another attribute", []string{"v=spf1 -all"}, "", false},
		{"one choice", []string{"v=spf1", `grpc_config=[{"serviceConfig": ` + sc + `}]`}, sc, false},
		{"language", []string{`grpc_config=[{"clientLanguage": ["java"], "serviceConfig": {"a": 1}}, {"clientLanguage": ["c++", "GO"], "serviceConfig": ` + sc + `}]`}, sc, false},
		{"no language matches", []string{`grpc_config=[{"clientLanguage": ["java"], "serviceConfig": {}}]`}, "", false},
		{"percentage above the roll", []string{`grpc_config=[{"percentage": 50, "serviceConfig": ` + sc + `}]`}, sc, false},
		{"percentage below the roll", []string{`grpc_config=[{"percentage": 49, "serviceConfig": {}}, {"serviceConfig": ` + sc + `}]`}, sc, false},
		{"hostname", []string{`grpc_config=[{"clientHostname": ["client-2"], "serviceConfig": {}}, {"clientHostname": ["client-1"], "serviceConfig": ` + sc + `}]`}, sc, false},
		{"hostname is case sensitive", []string{`grpc_config=[{"clientHostname": ["Client-1"], "serviceConfig": {}}]`}, "", false},
		{"unknown field", []string{`grpc_config=[{"serviceConfig": {}, "clientLang": ["go"]}]`}, "", true},
		{"percentage 101", []string{`grpc_config=[{"percentage": 101, "serviceConfig": {}}]`}, "", true},
		{"percentage 5.5", []string{`grpc_config=[{"percentage": 5.5, "serviceConfig": {}}]`}, "", true},
		{"serviceConfig not an object", []string{`grpc_config=[{"serviceConfig": "x"}]`}, "", true},
		{"serviceConfig missing", []string{`grpc_config=[{"percentage": 100}]`}, "", true},
		{"invalid later choice", []string{`grpc_config=[{"serviceConfig": {}}, {"percentage": -1, "serviceConfig": {}}]`}, "", true},
		{"not a list", []string{`grpc_config={"serviceConfig": {}}`}, "", true},
		{"too large", []string{grpcConfigAttr + "[" + strings.Repeat(" ", maxDNSConfig) + "]"}, "", true},
	} {
		got, err := sel.choose(c.records)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("%s: %q, %v; want %q (error %v)", c.name, got, err, c.want, c.err)
		}
	}
}

// The DNS resolver's TXT record carries a retry policy the ClientConn
// follows; with WithDisableResolverServiceConfig no TXT record is looked
// up.
func TestDNSServiceConfig(t *testing.T) {
	e, f := faultEnv(t, "")
	_, port, _ := net.SplitHostPort(e.lis.Addr().String())
	for _, disabled := range []bool{false, true} {
		var txtLookups atomic.Int32
		d := &DNSResolver{
			Lookup: func(ctx context.Context, host string) ([]string, error) {
				if host != "svc.test" {
					t.Errorf("looked up %q", host)
				}
				return []string{"127.0.0.1"}, nil
			},
			LookupTXT: func(ctx context.Context, name string) ([]string, error) {
				txtLookups.Add(1)
				if name != "_grpc_config.svc.test" {
					t.Errorf("looked up the TXT records of %q", name)
				}
				js := strings.ReplaceAll(retryConfig, "\n", "")
				return []string{"other=1", `grpc_config=[{"clientLanguage": ["java"], "serviceConfig": {}}, {"serviceConfig": ` + js + `}]`}, nil
			},
		}
		opts := []DialOption{WithInsecure(), WithResolver(d)}
		if disabled {
			opts = append(opts, WithDisableResolverServiceConfig())
		}
		cc, err := Dial("dns:///svc.test:"+port, opts...)
		if err != nil {
			t.Fatal(err)
		}
		// The first call waits for the resolution, which reports the
		// config first.
		f.set(func(f *faultServer) { f.failFirst = 2 })
		var reply []byte
		err = cc.Invoke(context.Background(), "/test.Echo/Unary", []byte("hi"), &reply)
		n, _ := f.seen()
		cc.Close()
		if disabled {
			wantCode(t, err, Unavailable)
			if n != 1 || txtLookups.Load() != 0 {
				t.Errorf("disabled: %d attempts and %d TXT lookups, want 1 and 0", n, txtLookups.Load())
			}
			continue
		}
		if err != nil || n != 3 {
			t.Errorf("with the TXT record's retry policy: %v after %d attempts, want success after 3", err, n)
		}
	}
}

// A localhost name has no TXT record to ask for (RFC 6761, 6.3).
func TestDNSConfigNotForLocalhost(t *testing.T) {
	for _, host := range []string{"localhost", "LOCALHOST.", "svc.localhost"} {
		d := &dnsConfig{sel: &dnsConfigSelector{roll: 1}, lookupTXT: func(ctx context.Context, name string) ([]string, error) {
			t.Errorf("looked up the TXT records of %q", name)
			return nil, nil
		}}
		d.update(context.Background(), host, &Resolution{})
	}
}

// A TXT record comes from the network: whatever it holds, choosing
// returns a config or an error.
func FuzzDNSServiceConfig(f *testing.F) {
	f.Add(`grpc_config=[{"clientLanguage": ["go"], "percentage": 10, "clientHostname": ["h"], "serviceConfig": {}}]`)
	f.Add(`grpc_config=[{"serviceConfig": {"loadBalancingConfig": [{"round_robin": {}}]}}]`)
	f.Fuzz(func(t *testing.T, record string) {
		sel := &dnsConfigSelector{roll: 50, hostname: func() string { return "h" }}
		js, err := sel.choose([]string{record})
		if err == nil && js != "" && !strings.HasPrefix(strings.TrimSpace(js), "{") {
			t.Errorf("%q: chose %q, not an object", record, js)
		}
	})
}
