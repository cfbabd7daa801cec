package conn

import (
	"math"
	"time"

	"github.com/h2rpc/h2rpc/frame"
)

// Config holds the settings a connection advertises and the limits it
// enforces. A nil *Config, or a zero field, takes the documented default.
// A Config may be shared by many connections; it is read when the connection
// starts and not retained.
type Config struct {
	// MaxConcurrentStreams is the SETTINGS_MAX_CONCURRENT_STREAMS we
	// advertise: how many streams the peer may have open at once. A peer
	// that opens more gets RST_STREAM REFUSED_STREAM (RFC 9113 §5.1.2).
	// Default 250.
	MaxConcurrentStreams uint32
	// InitialWindowSize is the per-stream receive window we advertise
	// (SETTINGS_INITIAL_WINDOW_SIZE): at most this much unread DATA is
	// buffered per stream. Default 512 KiB; at most 2^31-1.
	InitialWindowSize uint32
	// ConnWindowSize is the connection's receive window, announced with a
	// WINDOW_UPDATE on stream 0 after the preface: how much DATA the peer
	// may send ahead of the credit we return; at least 65535. Zero (the
	// default) sizes it by the bandwidth-delay product the connection
	// measures with timed PINGs: it starts at 256 KiB and grows, as the
	// link's round trips show it limits a transfer, up to 1 MiB
	// (DefaultConnWindowSize). Any other value holds the window fixed.
	ConnWindowSize uint32
	// MaxBufferedData bounds the DATA received and not yet read, summed
	// over the connection's streams. While the unread total stays under
	// MaxBufferedData - ConnWindowSize, connection credit goes back to the
	// peer as DATA arrives, so streams nobody reads (each holds at most a
	// stream window) do not starve the others; past it, credit goes back
	// only as the application reads, so the total never exceeds
	// MaxBufferedData. Default 4 × ConnWindowSize (4 MiB; with the
	// measured window, 4 × the most it grows to); values below
	// ConnWindowSize are raised to it, which returns connection credit
	// only as the application reads.
	MaxBufferedData int
	// MaxFrameSize is the SETTINGS_MAX_FRAME_SIZE we advertise: the largest
	// frame payload we accept; 16384..16777215. Default 128 KiB for a
	// client (a 64 KiB message and its prefix in one DATA frame), 16384
	// for a server. A DATA frame over 16 KiB is read as its bytes arrive,
	// through a buffer of at most 64 KiB, or straight into a waiting
	// ReadFull's buffer; other frames are buffered whole, so any peer can
	// make the reader hold up to this much per connection: a server,
	// which takes connections from anyone, keeps the protocol's default.
	MaxFrameSize uint32
	// MaxHeaderListSize is the SETTINGS_MAX_HEADER_LIST_SIZE we advertise
	// and enforce while decoding (name+value+32 per field). A list over it,
	// however many fields or however long one value, fails only its stream:
	// 431 for a request, RST_STREAM PROTOCOL_ERROR for a response; the block
	// is still decoded, to keep HPACK in step. Default 16 KiB.
	MaxHeaderListSize uint32
	// HeaderTableSize is the SETTINGS_HEADER_TABLE_SIZE we advertise: the
	// dynamic table the peer's encoder may use. Default 4096. Zero means the
	// default; to advertise a table of size 0 use DisableHeaderTable.
	HeaderTableSize uint32
	// DisableHeaderTable advertises SETTINGS_HEADER_TABLE_SIZE 0.
	DisableHeaderTable bool

	// SettingsAckTimeout bounds how long the peer may take to acknowledge
	// our SETTINGS; after it the connection ends with SETTINGS_TIMEOUT
	// (RFC 9113 §6.5.3). Default 10s.
	SettingsAckTimeout time.Duration
	// PrefaceTimeout bounds how long the peer may take to send its
	// connection preface and first SETTINGS frame (RFC 9113 §3.4). Default 10s.
	PrefaceTimeout time.Duration
	// CloseTimeout bounds the final write of a closing connection (the
	// GOAWAY and whatever is queued) when the peer does not read. Default 1s.
	CloseTimeout time.Duration

	// MaxControlBytes bounds the control frames (SETTINGS and PING
	// acknowledgements, WINDOW_UPDATE, RST_STREAM, GOAWAY) queued and not
	// yet written because the peer does not read them. A peer that floods
	// SETTINGS or PING and never reads the answers hits it and the
	// connection ends with ENHANCE_YOUR_CALM. Default 64 KiB.
	MaxControlBytes int
	// MaxHandlers bounds the server's Handler goroutines on the
	// connection, counting those of streams already reset that have not
	// returned yet. A stream opened while that many run waits, open, for
	// one of them to return (oldest first); if it is reset meanwhile its
	// handler never starts. This is the defence against Rapid Reset
	// (CVE-2023-44487) and MadeYouReset: resetting streams gains a peer no
	// more running handlers than opening them. Default
	// MaxConcurrentStreams + MaxConcurrentStreams/4 (at least +1), room for
	// the handlers of reset streams to unwind.
	MaxHandlers int
	// MaxPeerResets and ResetInterval are a last resort against a peer
	// that churns streams only to cost us the reader's work: more than
	// MaxPeerResets streams it opened and then reset, or whose stream
	// errors it provoked, within ResetInterval end the connection with
	// ENHANCE_YOUR_CALM. MaxHandlers already bounds what resets gain, so
	// the default is far above any honest rate (calls whose deadlines
	// expire before their handlers finish reset every stream): 100,000
	// per 1s.
	MaxPeerResets int
	ResetInterval time.Duration
	// MaxHeaderBlockSize bounds an encoded header block reassembled from
	// HEADERS and CONTINUATION frames, and MaxContinuations the number of
	// CONTINUATION frames in one block (CVE-2023-45288). Either exceeded ends
	// the connection with ENHANCE_YOUR_CALM: such a block is not decoded, so
	// the HPACK state is lost, so MaxHeaderBlockSize must stay well above
	// MaxHeaderListSize: a list over that limit fails only its stream if
	// its block can still be decoded. Its default follows: four times
	// MaxHeaderListSize, and at least 64 KiB. MaxContinuations defaults to
	// 32.
	MaxHeaderBlockSize uint32
	MaxContinuations   uint32
	// MaxEmptyDataFrames bounds consecutive DATA frames that carry no data
	// and do not end the stream (each costs us work and the peer nothing);
	// beyond it the connection ends with ENHANCE_YOUR_CALM. Default 100.
	MaxEmptyDataFrames int

	// Trace, if set, is called as each connection starts; the Tracer it
	// returns (nil: none) sees every frame the connection writes and
	// reads. Without one, tracing costs a nil check per batch written and
	// per frame read.
	Trace func(ConnInfo) Tracer
	// MinPingInterval, on a server, is the least time a client must leave
	// between two PINGs (grpc's keepalive enforcement policy, MinTime);
	// without PermitPingsWithoutStreams, a PING while no stream is open
	// counts as too early unless two hours passed. Past maxPingStrikes
	// early PINGs in a row the connection ends with GOAWAY
	// ENHANCE_YOUR_CALM "too_many_pings" (grpc doc/keepalive.md). Zero
	// (the default) enforces nothing.
	MinPingInterval           time.Duration
	PermitPingsWithoutStreams bool
}

// Defaults of the zero Config fields.
const (
	DefaultMaxConcurrentStreams = 250
	DefaultInitialWindowSize    = 512 << 10
	DefaultConnWindowSize       = 1 << 20                   // the most a measured connection window grows to
	DefaultMaxBufferedData      = 4 * DefaultConnWindowSize // with the default ConnWindowSize
	DefaultMaxFrameSize         = frame.DefaultMaxFrameSize // a server's
	DefaultClientMaxFrameSize   = 128 << 10
	DefaultMaxHeaderListSize    = 16 << 10
	DefaultHeaderTableSize      = 4096
	DefaultSettingsAckTimeout   = 10 * time.Second
	DefaultPrefaceTimeout       = 10 * time.Second
	DefaultCloseTimeout         = time.Second
	DefaultMaxControlBytes      = 64 << 10
	DefaultMaxPeerResets        = 100000
	DefaultResetInterval        = time.Second
	DefaultMaxHeaderBlockSize   = 64 << 10
	DefaultMaxContinuations     = 32
	DefaultMaxEmptyDataFrames   = 100
)

// bdpStartWindow is the connection window a measured one starts at: about
// what a fast local link needs, so that less data waits in the sockets (see
// flowcontrol.BDP).
const bdpStartWindow = 256 << 10

// settings is a Config with the defaults filled in and the values clamped to
// what RFC 9113 allows.
type settings struct {
	maxConcurrentStreams uint32
	initialWindowSize    uint32
	connWindowSize       uint32 // the connection window we start with
	connWindowMax        uint32 // the most it grows to; connWindowSize: held fixed
	arrivalCredit        int64  // MaxBufferedData - ConnWindowSize: unread bytes whose credit returns on arrival
	maxFrameSize         uint32
	maxHeaderListSize    uint32
	headerTableSize      uint32
	settingsAckTimeout   time.Duration
	prefaceTimeout       time.Duration
	closeTimeout         time.Duration
	maxControlBytes      int
	maxPeerResets        int
	resetInterval        time.Duration
	maxHandlers          int
	maxHeaderBlockSize   uint32
	maxContinuations     uint32
	maxEmptyDataFrames   int
	trace                func(ConnInfo) Tracer
	// tracer is the connection's Tracer (nil: none), set as it starts.
	tracer     Tracer
	pingPolicy pingPolicy
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// defaultHeaderBlockSize is MaxHeaderBlockSize's default for a
// MaxHeaderListSize of listSize (0: its default): four times it, as the
// defaults are, and never below DefaultMaxHeaderBlockSize.
func defaultHeaderBlockSize(listSize uint32) uint32 {
	n := 4 * uint64(orDefault(listSize, DefaultMaxHeaderListSize))
	return uint32(min(max(n, DefaultMaxHeaderBlockSize), math.MaxUint32))
}

func (cfg *Config) resolve(r role) settings {
	if cfg == nil {
		cfg = &Config{}
	}
	defFrame := uint32(DefaultMaxFrameSize)
	if r == roleClient {
		defFrame = DefaultClientMaxFrameSize
	}
	s := settings{
		maxConcurrentStreams: orDefault(cfg.MaxConcurrentStreams, DefaultMaxConcurrentStreams),
		initialWindowSize:    min(orDefault(cfg.InitialWindowSize, DefaultInitialWindowSize), frame.MaxWindowSize),
		connWindowSize:       min(max(orDefault(cfg.ConnWindowSize, DefaultConnWindowSize), 65535), frame.MaxWindowSize),
		maxFrameSize:         min(max(orDefault(cfg.MaxFrameSize, defFrame), frame.DefaultMaxFrameSize), frame.MaxAllowedFrameSize),
		maxHeaderListSize:    orDefault(cfg.MaxHeaderListSize, DefaultMaxHeaderListSize),
		headerTableSize:      orDefault(cfg.HeaderTableSize, DefaultHeaderTableSize),
		settingsAckTimeout:   orDefault(cfg.SettingsAckTimeout, DefaultSettingsAckTimeout),
		prefaceTimeout:       orDefault(cfg.PrefaceTimeout, DefaultPrefaceTimeout),
		closeTimeout:         orDefault(cfg.CloseTimeout, DefaultCloseTimeout),
		maxControlBytes:      orDefault(cfg.MaxControlBytes, DefaultMaxControlBytes),
		maxPeerResets:        orDefault(cfg.MaxPeerResets, DefaultMaxPeerResets),
		resetInterval:        orDefault(cfg.ResetInterval, DefaultResetInterval),
		maxHeaderBlockSize:   orDefault(cfg.MaxHeaderBlockSize, defaultHeaderBlockSize(cfg.MaxHeaderListSize)),
		maxContinuations:     orDefault(cfg.MaxContinuations, DefaultMaxContinuations),
		maxEmptyDataFrames:   orDefault(cfg.MaxEmptyDataFrames, DefaultMaxEmptyDataFrames),
		trace:                cfg.Trace,
	}
	if cfg.DisableHeaderTable {
		s.headerTableSize = 0
	}
	s.connWindowMax = s.connWindowSize
	if cfg.ConnWindowSize == 0 {
		s.connWindowSize = bdpStartWindow
	}
	s.pingPolicy = pingPolicy{minInterval: cfg.MinPingInterval, withoutStreams: cfg.PermitPingsWithoutStreams}
	maxBuffered := int64(cfg.MaxBufferedData)
	if maxBuffered <= 0 {
		maxBuffered = 4 * int64(s.connWindowMax)
	}
	s.arrivalCredit = max(maxBuffered-int64(s.connWindowMax), 0)
	streams := int(min(s.maxConcurrentStreams, 1<<20))
	s.maxHandlers = max(orDefault(cfg.MaxHandlers, streams+max(streams/4, 1)), 1)
	return s
}
