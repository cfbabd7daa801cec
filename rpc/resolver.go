package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
)

// Address is one backend a resolver reports.
type Address struct {
	// Addr is what the dialer dials: "host:port" or an IP "ip:port" for
	// TCP, a socket path (or "@name", an abstract socket) for Unix.
	Addr string
	// Network is "tcp" (also when empty) or "unix".
	Network string
	// Attributes carry what the resolver knows about the backend (a zone,
	// a weight); balancers may read them. Treat as read-only.
	Attributes map[string]string
}

func (a Address) network() string {
	if a.Network == "" {
		return "tcp"
	}
	return a.Network
}

// key identifies the backend an address names: two addresses with the same
// key share a subchannel.
func (a Address) key() string { return a.network() + "!" + a.Addr }

// Target is a Dial target split as grpc doc/naming.md writes it,
// "scheme://authority/endpoint" or "scheme:endpoint".
type Target struct {
	Scheme    string // "dns", "unix", "passthrough", or a registered scheme
	Authority string // "" when the target names none
	Endpoint  string // what the scheme resolves, e.g. "host:port"
}

// A Resolver turns targets of one scheme into backend addresses and keeps
// them current. RegisterResolver adds a scheme; WithResolver sets the
// resolver of one ClientConn.
//
// Watch runs on a goroutine of its own, started on the ClientConn's first
// call (or Connect). It reports t's addresses with r.Update (or its failure
// to find them with r.Fail) and again whenever they change, and returns when
// ctx ends (the ClientConn closes) or once it has nothing more to report. A
// receive from r.Refresh() means a connection failed and the addresses may
// be stale: a resolver that polls should look again (rate-limited as it
// sees fit).
type Resolver interface {
	Watch(ctx context.Context, t Target, r *Resolution)
}

// Resolution is how a resolver reports to its ClientConn. Its methods are
// safe for concurrent use.
type Resolution struct {
	update  func([]Address) // the ClientConn's updateAddresses
	fail    func(error)     // the ClientConn's resolverFailed
	refresh chan struct{}   // capacity 1
	// setConfig installs a service config (nil: none of the
	// resolver's); nil with WithDisableResolverServiceConfig.
	setConfig func(*serviceConfig)
}

// Update reports the current list of addresses. An empty list is a
// failure: calls wait (wait-for-ready) or fail with UNAVAILABLE.
func (r *Resolution) Update(addrs []Address) {
	if len(addrs) == 0 {
		r.fail(errors.New("the resolver found no addresses"))
		return
	}
	r.update(slices.Clone(addrs))
}

// Fail reports that the addresses could not be found. The ClientConn keeps
// the backends it has, if any; without any, calls fail with UNAVAILABLE
// (or wait, with WaitForReady) until an Update.
func (r *Resolution) Fail(err error) { r.fail(err) }

// Refresh returns a channel that receives when the ClientConn asks for a
// fresh resolution: a connection to a backend failed or ended.
func (r *Resolution) Refresh() <-chan struct{} { return r.refresh }

// requestRefresh asks the resolver to look again, without blocking.
func (r *Resolution) requestRefresh() {
	select {
	case r.refresh <- struct{}{}:
	default:
	}
}

var (
	resolversMu sync.RWMutex
	resolvers   = map[string]Resolver{}
)

// RegisterResolver makes Dial use r for targets "scheme:..." or
// "scheme://authority/...". It replaces the resolver of that scheme, built-in
// ones included ("dns", "static"); "unix", "unix-abstract" and
// "passthrough" are fixed. Call it at init time.
func RegisterResolver(scheme string, r Resolver) {
	resolversMu.Lock()
	defer resolversMu.Unlock()
	resolvers[scheme] = r
}

// registeredResolver returns the resolver of scheme: RegisterResolver's,
// else a built-in one, else nil. The built-in ones are not registered at
// init: that would link the DNS resolver and the service-config parser
// behind it (encoding/json's decoder among them) into every program, a
// server that never dials included.
func registeredResolver(scheme string) Resolver {
	resolversMu.RLock()
	r, ok := resolvers[scheme]
	resolversMu.RUnlock()
	if ok {
		return r
	}
	switch scheme {
	case "dns":
		return defaultDNS
	case "static":
		return staticScheme{}
	}
	return nil
}

// defaultDNS is the "dns" scheme's resolver unless one is registered.
var defaultDNS = &DNSResolver{}

// fixedResolver reports one list of addresses and is done: passthrough,
// unix, unix-abstract, an IP literal, and StaticResolver.
type fixedResolver []Address

func (f fixedResolver) Watch(_ context.Context, _ Target, r *Resolution) { r.Update(f) }

// StaticResolver returns a resolver that reports addrs ("host:port" each)
// and never changes: for tests and deployments with a fixed set of
// backends. The same list is written as a target "static:///a:1,b:2".
func StaticResolver(addrs ...string) Resolver {
	f := make(fixedResolver, len(addrs))
	for i, a := range addrs {
		f[i] = Address{Addr: a}
	}
	return f
}

// staticScheme resolves "static:///host:port,host:port".
type staticScheme struct{}

func (staticScheme) Watch(_ context.Context, t Target, r *Resolution) {
	var addrs []Address
	for _, a := range strings.Split(t.Endpoint, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, Address{Addr: a})
		}
	}
	r.Update(addrs)
}

// ManualResolver is a resolver a test drives: every ClientConn watching it
// gets each list given to Update, and the last one when it starts watching.
type ManualResolver struct {
	// deliver orders the deliveries: a watcher that starts while an Update
	// runs gets the lists in the order they were given, the last one last.
	// mu guards the fields and is never held while delivering, so a watch
	// ends (its ClientConn closes) even while an Update delivers.
	deliver  sync.Mutex
	mu       sync.Mutex
	addrs    []Address                // the last Update
	watchers map[*Resolution]struct{} // the ClientConns watching
}

// NewManualResolver returns a ManualResolver reporting addrs
// ("host:port" each) until the first Update.
func NewManualResolver(addrs ...string) *ManualResolver {
	m := &ManualResolver{watchers: map[*Resolution]struct{}{}}
	for _, a := range addrs {
		m.addrs = append(m.addrs, Address{Addr: a})
	}
	return m
}

// Update reports addrs to every watching ClientConn.
func (m *ManualResolver) Update(addrs ...Address) {
	m.deliver.Lock()
	defer m.deliver.Unlock()
	m.mu.Lock()
	m.addrs = slices.Clone(addrs)
	ws := make([]*Resolution, 0, len(m.watchers))
	for w := range m.watchers {
		ws = append(ws, w)
	}
	m.mu.Unlock()
	for _, w := range ws {
		w.Update(addrs)
	}
}

// Watch implements Resolver.
func (m *ManualResolver) Watch(ctx context.Context, _ Target, r *Resolution) {
	m.deliver.Lock()
	m.mu.Lock()
	m.watchers[r] = struct{}{}
	addrs := m.addrs
	m.mu.Unlock()
	if len(addrs) > 0 {
		r.Update(addrs)
	}
	m.deliver.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.watchers, r)
		m.mu.Unlock()
	}()
	<-ctx.Done() // a refresh changes nothing: the test pushes updates
}

// DNSResolver resolves "dns:[//server/]host[:port]" targets with the
// system's resolver, or with the DNS server the target names. It looks
// again every Interval, and when a connection fails, but not more often than
// MinInterval. A target whose host is an IP address is reported once.
//
// With each lookup of the addresses it looks up the service config in the
// TXT record "_grpc_config.<host>" (grpc proposal A2: the attribute
// grpc_config=, a JSON list of choices selected by clientLanguage,
// percentage and clientHostname), unless the ClientConn ignores its
// resolver's configs (WithDisableResolverServiceConfig). No record means
// no config; a failed lookup or an invalid record keeps the config the
// ClientConn has.
type DNSResolver struct {
	// Interval is the period of re-resolution. Default 30 minutes.
	Interval time.Duration
	// MinInterval is the least time between two lookups (grpc's
	// min_time_between_resolutions). Default 30 seconds.
	MinInterval time.Duration
	// Lookup, if set, replaces the lookup (for tests): it returns the IP
	// addresses of host.
	Lookup func(ctx context.Context, host string) ([]string, error)
	// LookupTXT, if set, replaces the lookup of TXT records (for tests):
	// it returns the records of name, each record's strings joined. With
	// Lookup set and LookupTXT nil, no TXT record is looked up.
	LookupTXT func(ctx context.Context, name string) ([]string, error)
}

// Default DNSResolver intervals.
const (
	DefaultDNSInterval    = 30 * time.Minute
	DefaultDNSMinInterval = 30 * time.Second
)

// Watch implements Resolver.
func (d *DNSResolver) Watch(ctx context.Context, t Target, r *Resolution) {
	host, port, err := splitHostPortDefault(t.Endpoint, defaultPort)
	if err != nil {
		r.Fail(err)
		return
	}
	if net.ParseIP(host) != nil {
		r.Update([]Address{{Addr: net.JoinHostPort(host, port)}})
		return
	}
	lookup, lookupTXT := d.Lookup, d.LookupTXT
	if lookup == nil {
		res := net.DefaultResolver
		if t.Authority != "" {
			h, p, err := splitHostPortDefault(t.Authority, "53")
			if err != nil {
				r.Fail(fmt.Errorf("DNS server: %w", err))
				return
			}
			server := net.JoinHostPort(h, p)
			res = &net.Resolver{
				PreferGo: true,
				Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, network, server)
				},
			}
		}
		lookup = res.LookupHost
		if lookupTXT == nil {
			lookupTXT = res.LookupTXT
		}
	}
	var config *dnsConfig // dnsconfig.go
	if lookupTXT != nil && r.setConfig != nil {
		config = &dnsConfig{lookupTXT: lookupTXT, sel: newDNSConfigSelector()}
	}
	interval := orDefault(d.Interval, DefaultDNSInterval)
	minInterval := orDefault(d.MinInterval, DefaultDNSMinInterval)
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-r.Refresh():
			// Rate-limited: the next lookup waits for MinInterval since
			// the last one.
			timer.Reset(max(0, minInterval-time.Since(last)))
			continue
		}
		last = time.Now()
		ips, err := lookup(ctx, host)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.Fail(fmt.Errorf("dns: %w", err))
			timer.Reset(minInterval)
			continue
		}
		addrs := make([]Address, len(ips))
		for i, ip := range ips {
			addrs[i] = Address{Addr: net.JoinHostPort(ip, port)}
		}
		if config != nil {
			// Before the addresses: their backends are made under the
			// config's balancer.
			config.update(ctx, host, r)
		}
		r.Update(addrs)
		timer.Reset(interval)
	}
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
