package rpc

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
)

// target is a parsed Dial target (grpc doc/naming.md).
type target struct {
	network   string // "tcp" or "unix"
	address   string // what net.Dial takes: "host:port", a socket path, "@name"
	authority string // the default :authority
	dnsServer string // "host:port" of the DNS server to ask ("dns://server/..."); "" for the system's
}

// defaultPort is the port of a dns target that names none, as in grpc
// doc/naming.md ("If not specified, 443 is used") and grpc-go.
const defaultPort = "443"

// parseTarget parses a target of grpc doc/naming.md:
//
//	host[:port]                      dns, the default scheme (port 443 if none)
//	dns:[//dns-server/]host[:port]   dns; the server is "ip[:port]" (port 53)
//	unix:path, unix:///abs/path      a Unix socket; :authority "localhost"
//	unix-abstract:name               a Linux abstract socket; :authority "localhost"
//	passthrough:///address           the address as is, no default port
//
// IPv6 literals go in brackets when a port follows ("[::1]:50051"). A
// scheme we do not know is an error, as is a "scheme://authority" where the
// scheme takes none.
func parseTarget(s string) (target, error) {
	scheme, rest, hasScheme := strings.Cut(s, ":")
	switch {
	case !hasScheme:
		return parseDNS("", s)
	case scheme == "dns", scheme == "passthrough", scheme == "unix", scheme == "unix-abstract":
	case strings.HasPrefix(rest, "//"):
		return target{}, fmt.Errorf("unknown scheme %q (known: dns, unix, unix-abstract, passthrough)", scheme)
	default:
		// "host:port", "[::1]:443": no scheme, as grpc-go reads them.
		return parseDNS("", s)
	}
	// "scheme://authority/endpoint" or "scheme:endpoint".
	authority, endpoint, hasAuthority := "", rest, false
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		hasAuthority = true
		var slash bool
		authority, endpoint, slash = strings.Cut(after, "/")
		if !slash {
			return target{}, fmt.Errorf("no endpoint after the authority %q (write %s:///%s to name no authority)", authority, scheme, authority)
		}
		if scheme == "unix" {
			endpoint = "/" + endpoint // "unix:///abs/path": the third slash starts the path
		}
	}
	if hasAuthority && authority != "" && scheme != "dns" {
		if scheme == "unix" {
			return target{}, fmt.Errorf("the unix scheme takes no authority (%q): an absolute path takes three slashes, unix:///%s%s", authority, authority, endpoint)
		}
		return target{}, fmt.Errorf("the %s scheme takes no authority (%q)", scheme, authority)
	}
	switch scheme {
	case "dns":
		return parseDNS(authority, endpoint)
	case "passthrough":
		// Checked in Dial: a WithDialer dialer may take any address.
		if endpoint == "" {
			return target{}, errors.New("no address")
		}
		return target{network: "tcp", address: endpoint, authority: endpoint}, nil
	case "unix":
		if endpoint == "" {
			return target{}, errors.New("no socket path")
		}
		return target{network: "unix", address: endpoint, authority: "localhost"}, nil
	}
	// unix-abstract
	if runtime.GOOS != "linux" && runtime.GOOS != "android" {
		return target{}, fmt.Errorf("abstract Unix sockets are Linux-only, not on %s", runtime.GOOS)
	}
	if endpoint == "" {
		return target{}, errors.New("no abstract socket name")
	}
	// Go's net names an abstract socket with a leading '@'.
	return target{network: "unix", address: "@" + endpoint, authority: "localhost"}, nil
}

// parseDNS parses the host[:port] of a dns target; server is the DNS
// server named in its authority, if any.
func parseDNS(server, hostport string) (target, error) {
	host, port, err := splitHostPortDefault(hostport, defaultPort)
	if err != nil {
		return target{}, err
	}
	t := target{network: "tcp", address: net.JoinHostPort(host, port), authority: hostport}
	switch {
	case strings.Contains(host, ":") && !strings.HasPrefix(hostport, "["):
		t.authority = "[" + host + "]" // a bare IPv6 literal: RFC 3986 brackets it
	case strings.HasPrefix(hostport, ":"):
		t.authority = "localhost" + hostport // as net.Dial reads ":port"
	}
	if server != "" {
		h, p, err := splitHostPortDefault(server, "53")
		if err != nil {
			return target{}, fmt.Errorf("DNS server: %w", err)
		}
		t.dnsServer = net.JoinHostPort(h, p)
	}
	return t, nil
}

// splitHostPortDefault splits "host:port", "[v6]:port", "host", "v6" or
// "[v6]", giving port def to those without one. ":port" means localhost.
func splitHostPortDefault(s, def string) (host, port string, err error) {
	if s == "" {
		return "", "", errors.New("no address")
	}
	if ip := net.ParseIP(s); ip != nil {
		return s, def, nil // an IPv6 literal without brackets has no port
	}
	if h, p, err := net.SplitHostPort(s); err == nil {
		if p == "" {
			return "", "", errors.New("no port after the colon")
		}
		if strings.ContainsAny(h, "/[] ") {
			return "", "", fmt.Errorf("%q is not a host name", h)
		}
		if h == "" {
			h = "localhost"
		}
		return h, p, nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") && net.ParseIP(s[1:len(s)-1]) != nil {
		return s[1 : len(s)-1], def, nil
	}
	if strings.Contains(s, ":") {
		_, _, err := net.SplitHostPort(s)
		return "", "", err
	}
	if strings.ContainsAny(s, "/[] ") {
		return "", "", fmt.Errorf("%q is not a host name", s)
	}
	return s, def, nil
}
