package rpc

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/h2rpc/h2rpc/conn"
)

// Options are functional on all three levels (ServerOption, DialOption,
// CallOption) so that what comes later (retry policies, balancers, TLS
// credentials) adds options, not parameters.

// A ServerOption configures a Server.
type ServerOption func(*serverOptions)

type serverOptions struct {
	connConfig *conn.Config
	codecs     map[string]Codec
	maxRecv    int
	maxSend    int
	unaryInt   UnaryServerInterceptor
	streamInt  StreamServerInterceptor
	logf       logFunc // nil: log nothing
	sec        serverSecurity
	stats      StatsHandler // nil: report nothing
	keepalive  ServerKeepaliveParams
}

// ServerKeepalive makes the server close connections gracefully (GOAWAY,
// then the calls in flight finish) when they are idle or old (see
// ServerKeepaliveParams). The ping policy a server enforces is
// conn.Config's MinPingInterval and PermitPingsWithoutStreams.
func ServerKeepalive(p ServerKeepaliveParams) ServerOption {
	return func(o *serverOptions) { o.keepalive = p }
}

// ServerLogger makes the server log to l what otherwise only its clients
// would see: a handler's panic, with its stack (ERROR); a message its codec
// could not marshal or unmarshal, or a response it could not send (ERROR); a
// request read with the "proto" codec because its content-subtype names none
// (WARN); a connection that failed, by cause (WARN for a protocol error by
// either side, DEBUG for a connection that just ended). Default nil: the
// server logs nothing.
func ServerLogger(l *slog.Logger) ServerOption {
	return func(o *serverOptions) {
		o.logf = nil
		if l != nil {
			o.logf = func(level slog.Level, msg string, args ...any) {
				l.Log(context.Background(), level, msg, args...)
			}
		}
	}
}

// A logFunc logs one record. The server holds the ServerLogger as this
// closure, not as the *slog.Logger, so that only a program that sets a
// logger links slog's handlers (and the JSON encoder behind them); the
// default server logs nothing and calls none of it.
type logFunc func(level slog.Level, msg string, args ...any)

// ServerConnConfig sets the HTTP/2 settings and limits of the server's
// connections (see conn.Config; nil means conn's defaults).
func ServerConnConfig(cfg *conn.Config) ServerOption {
	return func(o *serverOptions) { o.connConfig = cfg }
}

// ServerCodec adds a codec the server uses for requests whose content-type
// names its subtype (application/grpc+NAME; plain application/grpc is
// "proto"). It replaces a codec of the same name, DefaultCodec included.
// A request whose subtype names no codec is read with the "proto" codec,
// as grpc-go's server does (ServerLogger logs it).
func ServerCodec(c Codec) ServerOption {
	return func(o *serverOptions) { o.codecs[c.Name()] = c }
}

// MaxRecvMsgSize sets the largest request message the server accepts
// (after decompression). Default DefaultMaxRecvMsgSize; larger messages fail
// the call with RESOURCE_EXHAUSTED.
func MaxRecvMsgSize(n int) ServerOption { return func(o *serverOptions) { o.maxRecv = n } }

// MaxSendMsgSize sets the largest response message the server sends.
// Default DefaultMaxSendMsgSize; larger messages fail the call with
// RESOURCE_EXHAUSTED.
func MaxSendMsgSize(n int) ServerOption { return func(o *serverOptions) { o.maxSend = n } }

// ChainUnaryInterceptor adds unary interceptors: the first is outermost.
func ChainUnaryInterceptor(ints ...UnaryServerInterceptor) ServerOption {
	return func(o *serverOptions) {
		for _, i := range ints {
			o.unaryInt = chainUnaryServer(o.unaryInt, i)
		}
	}
}

// ChainStreamInterceptor adds streaming interceptors: the first is outermost.
func ChainStreamInterceptor(ints ...StreamServerInterceptor) ServerOption {
	return func(o *serverOptions) {
		for _, i := range ints {
			o.streamInt = chainStreamServer(o.streamInt, i)
		}
	}
}

// A DialOption configures a ClientConn.
type DialOption func(*dialOptions)

type dialOptions struct {
	dialer     func(ctx context.Context, addr string) (net.Conn, error)
	connConfig *conn.Config
	authority  string
	userAgent  string
	backoff    BackoffConfig
	callOpts   []CallOption
	unaryInt   UnaryClientInterceptor
	streamInt  StreamClientInterceptor
	sec        clientSecurity
	stats      StatsHandler // nil: report nothing
	resolver   Resolver
	balancer   Balancer
	maxConns   int
	extraIdle  time.Duration
	keepalive  KeepaliveParams
	outlier    *OutlierConfig
	health     *string
	// serviceConfig is WithServiceConfig's JSON; noResolverConfig
	// ignores the resolver's.
	serviceConfig    *string
	noResolverConfig bool
	// noRetry: WithDisableRetry; the retry buffers: WithRetryBuffer.
	noRetry                      bool
	retryCallBuffer, retryBuffer int
}

// WithResolver makes the ClientConn resolve its target with r instead of
// the resolver of the target's scheme; the target may then be any string
// ("scheme://authority/endpoint" is split for r; the endpoint is the
// default :authority).
func WithResolver(r Resolver) DialOption { return func(o *dialOptions) { o.resolver = r } }

// WithBalancer sets how calls are spread over the target's backends:
// PickFirst(false) (the default), RoundRobin, LeastRequest or one of the
// application's.
func WithBalancer(b Balancer) DialOption { return func(o *dialOptions) { o.balancer = b } }

// WithMaxConnsPerBackend lets the ClientConn open up to n connections to
// one backend: when every stream slot of its connections is taken (the
// server's SETTINGS_MAX_CONCURRENT_STREAMS), the next call opens another
// and waits for it instead of queueing for a slot (grpc proposal A105). An extra connection that
// has had no stream for idle (DefaultExtraConnIdle if 0) is closed. Default
// n is 1.
func WithMaxConnsPerBackend(n int, idle time.Duration) DialOption {
	return func(o *dialOptions) { o.maxConns, o.extraIdle = n, idle }
}

// DefaultExtraConnIdle is how long an extra connection to a backend (see
// WithMaxConnsPerBackend) may carry no stream before it is closed.
const DefaultExtraConnIdle = 30 * time.Second

// WithKeepalive makes the ClientConn ping its connections (see
// KeepaliveParams).
func WithKeepalive(p KeepaliveParams) DialOption { return func(o *dialOptions) { o.keepalive = p } }

// WithHealthCheck makes every backend watch its server's health for
// service ("" names the whole server) with grpc.health.v1.Health/Watch on
// its connection (client-side health checking, grpc's
// doc/health-checking.md): a backend takes calls only while its server
// reports SERVING, and counts as TRANSIENT_FAILURE while it reports
// anything else. A server that does not implement the health service
// (UNIMPLEMENTED) is taken as healthy.
func WithHealthCheck(service string) DialOption {
	return func(o *dialOptions) { o.health = &service }
}

// WithOutlierDetection makes the ClientConn take failing backends out of
// the balancer's picks for a while (see OutlierConfig).
func WithOutlierDetection(c OutlierConfig) DialOption {
	return func(o *dialOptions) { o.outlier = &c }
}

// WithDialer sets how the ClientConn opens its network connections. f
// receives the target's TCP address ("host:port"), or for a Unix socket its
// "unix:" target form ("unix:///abs/path", "unix:rel/path",
// "unix-abstract:name"). Default: a net.Dialer on the target's network.
func WithDialer(f func(ctx context.Context, addr string) (net.Conn, error)) DialOption {
	return func(o *dialOptions) { o.dialer = f }
}

// WithConnConfig sets the HTTP/2 settings and limits of the client's
// connections (see conn.Config; nil means conn's defaults).
func WithConnConfig(cfg *conn.Config) DialOption {
	return func(o *dialOptions) { o.connConfig = cfg }
}

// WithAuthority sets the :authority of every call. Default: the target's
// host[:port] as written, or "localhost" for a Unix socket (see Dial).
func WithAuthority(a string) DialOption { return func(o *dialOptions) { o.authority = a } }

// WithUserAgent puts ua before this library's own "h2rpc/VERSION" in the
// user-agent header.
func WithUserAgent(ua string) DialOption { return func(o *dialOptions) { o.userAgent = ua } }

// WithBackoff sets the reconnection backoff.
func WithBackoff(b BackoffConfig) DialOption { return func(o *dialOptions) { o.backoff = b } }

// WithDefaultCallOptions sets options applied to every call before the
// call's own.
func WithDefaultCallOptions(opts ...CallOption) DialOption {
	return func(o *dialOptions) { o.callOpts = append(o.callOpts, opts...) }
}

// WithCodec makes c the default codec of the ClientConn's calls
// (shorthand for WithDefaultCallOptions(CallCodec(c))).
func WithCodec(c Codec) DialOption { return WithDefaultCallOptions(CallCodec(c)) }

// WithCompressor makes the ClientConn's calls compress their messages with
// the registered compressor name (shorthand for
// WithDefaultCallOptions(UseCompressor(name))).
func WithCompressor(name string) DialOption { return WithDefaultCallOptions(UseCompressor(name)) }

// WithChainUnaryInterceptor adds unary client interceptors: the first is
// outermost.
func WithChainUnaryInterceptor(ints ...UnaryClientInterceptor) DialOption {
	return func(o *dialOptions) {
		for _, i := range ints {
			o.unaryInt = chainUnaryClient(o.unaryInt, i)
		}
	}
}

// WithChainStreamInterceptor adds streaming client interceptors: the first
// is outermost.
func WithChainStreamInterceptor(ints ...StreamClientInterceptor) DialOption {
	return func(o *dialOptions) {
		for _, i := range ints {
			o.streamInt = chainStreamClient(o.streamInt, i)
		}
	}
}

// BackoffConfig shapes the delay between failed connection attempts: the
// n-th consecutive failure waits min(BaseDelay×Multiplier^(n-1), MaxDelay),
// spread by ±Jitter (grpc doc/connection-backoff.md). A successful
// connection resets it.
type BackoffConfig struct {
	BaseDelay  time.Duration // default 1s
	Multiplier float64       // default 1.6
	Jitter     float64       // default 0.2
	MaxDelay   time.Duration // default 120s
	// MinConnectTimeout bounds one connection attempt. Default 20s.
	MinConnectTimeout time.Duration
}

// DefaultBackoffConfig is the backoff of grpc doc/connection-backoff.md.
var DefaultBackoffConfig = BackoffConfig{BaseDelay: time.Second, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 120 * time.Second, MinConnectTimeout: DefaultMinConnectTimeout}

// A CallOption configures one call.
type CallOption func(*callInfo)

type callInfo struct {
	codec        Codec
	compressor   string
	maxRecv      int
	maxSend      int
	waitForReady bool
	header       *MD
	trailer      *MD
	peer         *Peer
	// pinned, if set, is the connection the call goes on, bypassing the
	// balancer (a backend's health watch).
	pinned *conn.Conn
	// sendSet and recvSet: a call option set maxSend, maxRecv.
	sendSet, recvSet bool
	// mc is the config of the call's method, if it has one.
	mc *methodConfig
	// attempt, if set, is the attempt of a retried or hedged call.
	attempt *attemptInfo
}

// CallCodec sets the codec of a call; its Name is the content-subtype sent.
func CallCodec(c Codec) CallOption { return func(ci *callInfo) { ci.codec = c } }

// UseCompressor compresses the call's request messages with the registered
// compressor name ("gzip"); "" or "identity" sends them uncompressed.
func UseCompressor(name string) CallOption { return func(ci *callInfo) { ci.compressor = name } }

// MaxCallRecvMsgSize sets the largest response message the call accepts
// (after decompression). Default DefaultMaxRecvMsgSize.
func MaxCallRecvMsgSize(n int) CallOption {
	return func(ci *callInfo) { ci.maxRecv, ci.recvSet = n, true }
}

// MaxCallSendMsgSize sets the largest request message the call sends.
func MaxCallSendMsgSize(n int) CallOption {
	return func(ci *callInfo) { ci.maxSend, ci.sendSet = n, true }
}

// WaitForReady makes a call that finds no usable connection wait (within
// its context) for the ClientConn to connect, through backoff, instead of
// failing at once with UNAVAILABLE.
func WaitForReady(wait bool) CallOption { return func(ci *callInfo) { ci.waitForReady = wait } }

// Header stores the response header metadata of the call in *md when the
// call ends (for a streaming call: when RecvMsg returns an error).
func Header(md *MD) CallOption { return func(ci *callInfo) { ci.header = md } }

// Trailer stores the response trailer metadata of the call in *md when the
// call ends (for a streaming call: when RecvMsg returns an error).
func Trailer(md *MD) CallOption { return func(ci *callInfo) { ci.trailer = md } }
