package conn

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/h2rpc/h2rpc/flowcontrol"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
	"github.com/h2rpc/h2rpc/stream"
)

// Handler serves one stream opened by the peer. The server calls it on a new
// goroutine per stream. When it returns, a stream it did not end is reset.
type Handler func(s *Stream)

type role uint8

const (
	roleClient role = iota
	roleServer
)

func (r role) String() string {
	if r == roleClient {
		return "client"
	}
	return "server"
}

// Conn is one HTTP/2 connection in the client or the server role.
//
// Concurrency: the reader goroutine (readLoop) reads and applies frames,
// or a goroutine waiting for its stream's frames does while the reader is
// parked (lead.go);
// frames are queued on w, the writer (writer.go), and written by whoever
// holds its right to write: an application goroutine inline, or a flusher
// goroutine that lives while there is something to write. Every mutable
// field below mu is guarded by mu; the fields above it are immutable after
// construction or owned as their comments say.
type Conn struct {
	nc      net.Conn
	role    role
	cfg     settings
	handler Handler // server only

	done    chan struct{}  // closed under mu by failLocked when the connection ends
	drainCh chan struct{}  // guarded by mu: made by drainChanLocked, closed by startDrainLocked: no new streams
	reading sync.WaitGroup // done when the last reader goroutine ends
	// baseCtx, the parent of every server stream's context, is cancelled
	// when the connection ends. Made by start on the server (immutable
	// from then), on demand by Context on the client (guarded by mu).
	baseCtx    context.Context
	baseCancel context.CancelFunc
	onEnd      []func() // guarded by mu: OnEnd's functions, started by failLocked

	// Owned by the holder of the read role: the reader goroutine, or a
	// leading goroutine (lead.go), one at a time, handed over under mu.
	fr           *frame.Reader
	dec          *hpack.Decoder
	block        *hpack.BlockBuffer // the HEADERS+CONTINUATION block being assembled
	blockEnd     bool               // the open block's HEADERS had END_STREAM
	blockErr     *frame.StreamError // the open block's HEADERS had a stream error
	emptyData    int                // consecutive empty DATA frames without END_STREAM
	part         dataPart           // the DATA frame whose data arrives in parts (reader.go)
	fields       []hpack.Field      // scratch space for a decoded block (decodeLocked)
	readOn       func()             // c.readMoved, made once so that moving allocates nothing (idle.go)
	onLeaderDone func()             // c.onLeaderContextDone, made once (lead.go)

	// w is the write side: the queues of frames to send and the right to
	// write them. Its fields are guarded by mu or owned as it says
	// (writer.go); nothing else touches them.
	w writer

	// counters are atomics (see stats.go).
	counters counters

	mu sync.Mutex
	// err is why the connection ended; nil while it runs. Guarded by mu.
	err error
	// streams holds the open streams (not yet closed both ways nor reset).
	// Guarded by mu.
	streams map[uint32]*Stream
	// closed remembers how recently closed streams ended, to tell the §5.1
	// closed-state cases apart. Guarded by mu.
	closed closedStreams
	// enc encodes every header block we send, in wire order. Guarded by mu.
	enc *hpack.Encoder
	// sendWin is the connection send window; recvWin the connection receive
	// window. Guarded by mu.
	sendWin flowcontrol.SendWindow
	recvWin flowcontrol.RecvWindow
	// unread counts the DATA bytes in the streams' receive buffers, not yet
	// read nor dropped; the connection credit of those past
	// cfg.arrivalCredit is withheld from the peer until they leave
	// (lifecycle.go). Guarded by mu.
	unread int64
	// peer holds the peer's settings as applied so far. Guarded by mu.
	peer peerSettings
	// ids hands out the ids of the streams we open (client); peerIDs checks
	// those the peer opens (RFC 9113 §5.1.1). Guarded by mu.
	ids     stream.IDAllocator
	peerIDs stream.PeerIDs
	// idLimit is the largest id OpenStream uses: frame.MaxStreamID, lowered
	// by tests to reach exhaustion quickly. Guarded by mu.
	idLimit uint32
	// nLocal counts our open streams and granted OpenStream slots; nPeer the
	// peer's open streams. Guarded by mu.
	nLocal, nPeer uint32
	// slotWaiters queues *slotWaiter for OpenStream calls waiting under the
	// peer's MAX_CONCURRENT_STREAMS. Guarded by mu.
	slotWaiters list.List
	// handlers counts running Handler goroutines; waiting queues the
	// streams opened while MaxHandlers ran, oldest first (handlers.go).
	// Guarded by mu.
	handlers int
	waiting  []*Stream
	// draining is set once no new streams are taken (GOAWAY either way, ids
	// exhausted); goAwaySent once we queued a GOAWAY, with goAwayLastID; and
	// goAwayRecv holds the peer's GOAWAY. Guarded by mu.
	draining     bool
	goAwaySent   bool
	goAwayLastID uint32
	goAwayRecv   *GoAwayError
	// settingsTimer fires if the peer does not ACK our SETTINGS in time;
	// nil once acknowledged. Guarded by mu.
	settingsTimer *time.Timer
	// deadlines orders the server streams with a deadline (SetDeadline);
	// deadlineTimer fires at the earliest, made on first use. Guarded by
	// mu.
	deadlines     deadlineHeap
	deadlineTimer *time.Timer
	// gotPeerSettings is set once the peer's first SETTINGS was applied.
	// Guarded by mu.
	gotPeerSettings bool
	// pings maps the payload of each PING we sent to the channel closed by
	// its ACK (nil until the first Ping); pingSeq makes payloads unique.
	// Guarded by mu.
	pings   map[[8]byte]chan struct{}
	pingSeq uint64
	// bdp grows the connection receive window by the measured
	// bandwidth-delay product, unless Config.ConnWindowSize fixed it
	// (cfg.connWindowMax == cfg.connWindowSize). Guarded by mu.
	bdp flowcontrol.BDP
	// gates holds idle wait gates for reuse (see waitLocked). Guarded by mu.
	gates []chan struct{}
	// resetCount counts peer resets (and stream errors we sent) since
	// resetStart, for the Rapid Reset defence. Guarded by mu.
	resetCount int
	resetStart time.Time
	// idleDeadline is set while the read deadline that moves an idle
	// connection's reader is set, until a reader saw it pass; idleArmed
	// while moreover no stream opened since it was set (see idle.go).
	// Guarded by mu.
	idleArmed, idleDeadline bool
	// movesFullAt is when the allowance of reader moves (two, refilled one
	// per idleMoveEvery) is full again. Guarded by mu.
	movesFullAt time.Time
	// pingStrikes enforces the ping policy (keepalive.go). Guarded by mu.
	pingStrikes pingStrikes
	// drained is set when a draining connection closed because its last
	// stream ended (linger.go). Guarded by mu.
	drained bool
	// The read role (lead.go). readRole says who holds it; leader is the
	// stream of the goroutine leading, inRead set while it is in Read,
	// interrupted once its Read was interrupted by a read deadline in the
	// past; waiters counts the goroutines in waitLocked; woken is the last
	// stream whose goroutine waiting on its read gate was woken; leads
	// counts the leads (for tests); leaderCtxDone stops a leader whose
	// context ended (lead.go, onLeaderContextDone). The background reader
	// parks on park, made when it first parks and dropped when it takes the
	// role back after a quiet spell. Guarded by mu.
	readRole            uint8
	inRead, interrupted bool
	leaderCtxDone       bool
	waiters             int32
	leads               uint32
	leader, woken       *Stream
	park                *readerPark
	// keep holds a lead watcher between streams whose contexts end
	// together (lead.go, leadKeep), made when the first is stopped.
	// Guarded by mu.
	keep *leadKeep
	// Handlers run on the reading goroutine (inline.go, server):
	// inlineNext is the new stream the background reader kept to run its
	// Handler itself; inlineStream the stream whose Handler runs so, while
	// the background reader's place is vacant; inline the watchdog, made
	// at the first such run. Guarded by mu.
	inlineNext, inlineStream *Stream
	inline                   *inlineWatch
}

// initialPeerMaxStreams is how many streams a client opens before the
// server's first SETTINGS frame arrives. RFC 9113 §6.5.2 says "initially,
// there is no limit", but streams opened beyond the server's real limit in
// that first round trip are refused; so one goes at once (a lone first call
// waits for nothing) and the rest wait, each under its own context, for the
// SETTINGS to say how many may go, as grpc-go's client waits for the
// server's preface before it uses a connection. A server that sends no
// SETTINGS is dropped after Config.PrefaceTimeout, which fails the waiters.
// The first SETTINGS frame sets the real value (unlimited if absent).
const initialPeerMaxStreams = 1

// peerSettings are the peer's SETTINGS as applied (RFC 9113 §6.5.2 initial
// values until its first SETTINGS frame).
type peerSettings struct {
	headerTableSize      uint32
	maxConcurrentStreams uint32
	initialWindowSize    uint32
	maxFrameSize         uint32
	maxHeaderListSize    uint32 // 0: unlimited
}

type slotWaiter struct {
	ch      chan struct{} // capacity 1: the slot was granted
	granted bool          // guarded by Conn.mu
}

// Client starts the client side of an HTTP/2 connection over nc: it queues
// the connection preface and our SETTINGS and starts the reader and writer
// goroutines. It does not wait for the server's SETTINGS. The Conn owns nc
// from now on and closes it when the connection ends.
func Client(nc net.Conn, cfg *Config) (*Conn, error) {
	return start(nc, cfg, roleClient, nil)
}

// Server starts the server side of an HTTP/2 connection over nc (with prior
// knowledge: the client preface comes first), calling h on a new goroutine
// for every stream the client opens. The preface is read on the reader
// goroutine: a peer that does not send it and its first SETTINGS within
// Config.PrefaceTimeout is dropped. The Conn owns nc from now on.
func Server(nc net.Conn, cfg *Config, h Handler) (*Conn, error) {
	if h == nil {
		return nil, errors.New("conn: Server needs a Handler")
	}
	return start(nc, cfg, roleServer, h)
}

func start(nc net.Conn, cfg *Config, r role, h Handler) (*Conn, error) {
	if nc == nil {
		return nil, errors.New("conn: nil net.Conn")
	}
	s := cfg.resolve(r)
	s.tracer = s.newTracer(r == roleClient, nc)
	c := &Conn{
		nc:      nc,
		role:    r,
		cfg:     s,
		handler: h,
		done:    make(chan struct{}),
		streams: make(map[uint32]*Stream),
		enc:     hpack.NewEncoder(),
		peer: peerSettings{
			headerTableSize:      4096,
			maxConcurrentStreams: initialPeerMaxStreams,
			initialWindowSize:    flowcontrol.DefaultWindow,
			maxFrameSize:         frame.DefaultMaxFrameSize,
		},
	}
	if r == roleServer {
		c.baseCtx, c.baseCancel = context.WithCancel(context.Background())
	}
	c.w.init(c)
	c.fr = frame.NewReader(nc)
	c.fr.SetMaxFrameSize(s.maxFrameSize)
	// Large DATA frames in parts, as their bytes arrive, unless a Tracer
	// must see each frame whole.
	c.fr.SetSplitData(s.tracer == nil)
	// Until the peer acknowledges our SETTINGS it may use the default
	// 4096-byte table; the advertised size applies from the ACK on.
	c.dec = hpack.NewDecoder(hpack.Limits{
		MaxTableSize:      hpack.DefaultTableSize,
		MaxHeaderListSize: s.maxHeaderListSize,
		MaxBlockSize:      s.maxHeaderBlockSize,
		MaxContinuations:  s.maxContinuations,
	})
	c.block = hpack.NewBlockBuffer(c.dec.Limits())
	c.sendWin.Init(flowcontrol.DefaultWindow)
	// RFC 9113 §6.9.2: the connection window starts at 65535 and "can only be
	// changed using WINDOW_UPDATE frames": announce the rest after SETTINGS.
	c.recvWin.Init(flowcontrol.DefaultWindow)
	connInc := c.recvWin.Resize(int32(s.connWindowSize))
	c.bdp.Init(s.connWindowSize, s.connWindowMax)
	// Servers never open streams (we do not push): their IDAllocator stays
	// zero, which hands out nothing.
	c.peerIDs = stream.NewPeerIDs(r == roleServer)
	if r == roleClient {
		c.ids = stream.NewIDAllocator(true)
		c.idLimit = frame.MaxStreamID
	}
	c.w.prefaceLocked(r == roleClient, c.ourSettings(), connInc)
	c.settingsTimer = time.AfterFunc(s.settingsAckTimeout, c.onSettingsTimeout)
	c.readOn = c.readMoved
	c.onLeaderDone = c.onLeaderContextDone
	c.reading.Add(1)
	go c.readLoop()
	c.mu.Lock()
	c.w.kickLocked() // the preface and SETTINGS
	c.mu.Unlock()
	return c, nil
}

// ourSettings lists the SETTINGS we send first (RFC 9113 §3.4, §6.5.2).
func (c *Conn) ourSettings() []frame.Setting {
	s := []frame.Setting{
		{ID: frame.SettingMaxConcurrentStreams, Val: c.cfg.maxConcurrentStreams},
		{ID: frame.SettingInitialWindowSize, Val: c.cfg.initialWindowSize},
		{ID: frame.SettingMaxFrameSize, Val: c.cfg.maxFrameSize},
		{ID: frame.SettingMaxHeaderListSize, Val: c.cfg.maxHeaderListSize},
	}
	if c.cfg.headerTableSize != hpack.DefaultTableSize {
		s = append(s, frame.Setting{ID: frame.SettingHeaderTableSize, Val: c.cfg.headerTableSize})
	}
	if c.role == roleClient {
		// We never accept server push.
		s = append(s, frame.Setting{ID: frame.SettingEnablePush, Val: 0})
	}
	return s
}

// onSettingsTimeout runs on a timer goroutine when the peer did not ACK our
// SETTINGS in time.
func (c *Conn) onSettingsTimeout() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.settingsTimer == nil {
		return // acknowledged just in time
	}
	// RFC 9113 §6.5.3: "If the sender of a SETTINGS frame does not receive an
	// acknowledgment within a reasonable amount of time, it MAY issue a
	// connection error of type SETTINGS_TIMEOUT."
	c.failLocked(&frame.ConnError{Code: frame.ErrCodeSettingsTimeout, Reason: "SETTINGS not acknowledged in time"})
}

// Done returns a channel closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// OnEnd arranges for f to run in a goroutine of its own once the
// connection ends (once Done is closed), or at once if it has ended. It
// does what context.AfterFunc on Context does without the context: a
// connection that lives long holds f, not a context, its channel and the
// map of its children.
func (c *Conn) OnEnd(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		go f()
		return
	}
	c.onEnd = append(c.onEnd, f)
}

// Context returns a context that is cancelled when the connection ends
// (when Done is closed). A server's stream contexts derive from it. For
// cleanup when the connection ends, OnEnd costs less.
func (c *Conn) Context() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.baseCtx == nil {
		c.baseCtx, c.baseCancel = context.WithCancel(context.Background())
		if c.err != nil {
			c.baseCancel()
		}
	}
	return c.baseCtx
}

// Err reports why the connection ended, or nil while it runs. A
// *frame.ConnError is a protocol error (ours or, from the peer's GOAWAY, a
// *GoAwayError); ErrClosed means Close or a completed Shutdown.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Available reports whether OpenStream may succeed: false once the connection
// is draining (GOAWAY either way, stream ids exhausted) or closed, and always
// false on the server.
func (c *Conn) Available() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.role == roleClient && c.err == nil && !c.draining
}

// RemoteAddr returns the peer's network address, and LocalAddr ours: the
// RPC layer's peer identity on the client, whose net.Conn the dialer made
// and Client took over.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns our network address (see RemoteAddr).
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Close closes the connection now: it queues GOAWAY (NO_ERROR), fails every
// stream with ErrClosed, writes what is queued (for at most
// Config.CloseTimeout), closes the net.Conn and waits for the connection's
// goroutines to end. It returns nil, or the reason the connection had already
// ended with if that was an error.
func (c *Conn) Close() error {
	c.mu.Lock()
	prev := c.err
	c.failLocked(ErrClosed)
	c.mu.Unlock()
	<-c.w.done
	c.reading.Wait()
	if prev == nil || errors.Is(prev, ErrClosed) {
		return nil
	}
	return prev
}

// Shutdown closes the connection gracefully: it sends GOAWAY (NO_ERROR, with
// the last stream the peer opened), takes no new streams, lets the open
// streams finish and then closes. If ctx ends first it closes at once and
// returns ctx's error.
func (c *Conn) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	if c.err == nil {
		c.sendGoAwayLocked(frame.ErrCodeNo, "")
		c.startDrainLocked()
		c.closeIfDrainedLocked()
	}
	c.needReaderLocked()
	c.mu.Unlock()
	select {
	case <-c.done:
		<-c.w.done
		c.reading.Wait()
		return nil
	case <-ctx.Done():
		c.Close()
		return ctx.Err()
	}
}

// Ping sends a PING and waits for the peer's acknowledgement, ctx's end or
// the connection's: the one end-to-end check that a connection is alive
// (a keepalive; the RPC layer does not send them today).
func (c *Conn) Ping(ctx context.Context) error {
	sent := time.Now()
	c.mu.Lock()
	if c.err != nil {
		err := c.closedErrLocked()
		c.mu.Unlock()
		return err
	}
	c.pingSeq++
	var data [8]byte
	for i := range data {
		data[i] = byte(c.pingSeq >> (8 * i))
	}
	ack := make(chan struct{})
	if c.pings == nil {
		c.pings = make(map[[8]byte]chan struct{})
	}
	c.pings[data] = ack
	c.w.pingLocked(false, data)
	c.w.kickLocked()
	c.needReaderLocked()
	c.mu.Unlock()
	select {
	case <-ack:
		c.counters.rtt.Store(int64(time.Since(sent)))
		return nil
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.closedErrLocked()
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pings, data)
		c.mu.Unlock()
		return ctx.Err()
	}
}

// closedErrLocked is the error stream operations return once the
// connection has ended.
func (c *Conn) closedErrLocked() error {
	if c.err == nil || errors.Is(c.err, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, c.err)
}

// sendGoAwayLocked queues a GOAWAY naming the last stream the peer opened
// that we process (RFC 9113 §6.8). A second GOAWAY may only lower the id.
func (c *Conn) sendGoAwayLocked(code frame.ErrCode, debug string) {
	last := c.peerIDs.Last()
	if c.goAwaySent && c.goAwayLastID < last {
		last = c.goAwayLastID
	}
	c.goAwaySent = true
	c.goAwayLastID = last
	c.w.goAwayLocked(last, code, debug)
	c.w.kickLocked()
}

// startDrainLocked stops taking new streams.
func (c *Conn) startDrainLocked() {
	if c.draining {
		return
	}
	c.draining = true
	if c.drainCh != nil {
		close(c.drainCh)
	}
}

// drainChanLocked returns a channel closed once the connection takes no
// new streams, made on first use: few connections ever wait for a slot.
func (c *Conn) drainChanLocked() <-chan struct{} {
	if c.drainCh == nil {
		c.drainCh = make(chan struct{})
		if c.draining {
			close(c.drainCh)
		}
	}
	return c.drainCh
}

// closeIfDrainedLocked ends a draining connection once no stream is left.
func (c *Conn) closeIfDrainedLocked() {
	if c.draining && c.err == nil && len(c.streams) == 0 && c.nLocal == 0 {
		if c.goAwayRecv != nil && c.goAwayRecv.Code != frame.ErrCodeNo {
			c.failLocked(c.goAwayRecv)
			return
		}
		c.drained = true // closed by draining, not by Close: see linger.go
		c.failLocked(ErrClosed)
	}
}

// failLocked ends the connection with cause: it queues GOAWAY (with the code
// and reason of a *frame.ConnError), fails every stream and waiter, and lets
// the writer flush and close the net.Conn within CloseTimeout. Only the first
// call counts.
func (c *Conn) failLocked(cause error) {
	if c.err != nil {
		return
	}
	c.err = cause
	var ce *frame.ConnError
	switch {
	case errors.As(cause, &ce):
		// RFC 9113 §5.4.1: "An endpoint that encounters a connection error
		// SHOULD first send a GOAWAY frame ... with the stream identifier of
		// the last stream that it successfully received from its peer."
		c.sendGoAwayLocked(ce.Code, ce.Reason)
	case errors.Is(cause, ErrClosed):
		if !c.goAwaySent {
			c.sendGoAwayLocked(frame.ErrCodeNo, "")
		}
	}
	if c.baseCancel != nil {
		c.baseCancel() // first, so that Context is done once Done is
	}
	close(c.done)
	for _, f := range c.onEnd {
		go f()
	}
	c.onEnd = nil
	c.needReaderLocked() // lead.go: the background reader sees the end
	if c.leader != nil && c.inRead {
		c.interruptLeaderLocked()
	}
	c.startDrainLocked()
	if c.settingsTimer != nil {
		c.settingsTimer.Stop()
		c.settingsTimer = nil
	}
	if c.deadlineTimer != nil {
		c.deadlineTimer.Stop()
	}
	if c.inline != nil && c.inline.timer != nil {
		c.inline.timer.Stop()
	}
	serr := c.closedErrLocked()
	for _, s := range c.streams {
		c.abortStreamLocked(s, serr)
	}
	clear(c.streams)
	c.dropKeptLeadLocked() // lead.go
	// Bound the final flush: a peer that does not read must not hold us.
	c.nc.SetWriteDeadline(time.Now().Add(c.cfg.closeTimeout))
	c.w.failedLocked()
}

// grantSlotsLocked hands free MAX_CONCURRENT_STREAMS slots to waiting
// OpenStream calls, oldest first.
func (c *Conn) grantSlotsLocked() {
	for c.nLocal < c.peer.maxConcurrentStreams && c.slotWaiters.Len() > 0 {
		w := c.slotWaiters.Remove(c.slotWaiters.Front()).(*slotWaiter)
		w.granted = true
		c.nLocal++
		w.ch <- struct{}{}
	}
}

// releaseSlotLocked returns a slot taken by OpenStream.
func (c *Conn) releaseSlotLocked() {
	c.nLocal--
	c.grantSlotsLocked()
	c.closeIfDrainedLocked()
}

// acquireSlotLocked waits for a slot under the peer's
// MAX_CONCURRENT_STREAMS. It unlocks mu while waiting and returns with mu
// held.
func (c *Conn) acquireSlotLocked(ctx context.Context) error {
	if err := c.newStreamErrLocked(); err != nil {
		return err
	}
	if c.nLocal < c.peer.maxConcurrentStreams && c.slotWaiters.Len() == 0 {
		c.nLocal++
		return nil
	}
	w := &slotWaiter{ch: make(chan struct{}, 1)}
	e := c.slotWaiters.PushBack(w)
	drained := c.drainChanLocked()
	c.needReaderLocked()
	c.mu.Unlock()
	var werr error
	select {
	case <-w.ch:
	case <-ctx.Done():
		werr = ctx.Err()
	case <-drained:
		werr = ErrNotAvailable
	}
	c.mu.Lock()
	if werr == nil {
		// The slot was granted, but the connection may have started
		// draining or ended before we took mu back: a stream opened now
		// would be past the GOAWAY, or never failed by failLocked.
		werr = c.newStreamErrLocked()
		if werr == nil {
			return nil
		}
	}
	if w.granted {
		c.releaseSlotLocked()
	} else {
		c.slotWaiters.Remove(e)
	}
	if err := c.newStreamErrLocked(); err != nil {
		return err
	}
	return werr
}

// newStreamErrLocked says why OpenStream cannot open a stream, or nil.
func (c *Conn) newStreamErrLocked() error {
	switch {
	case c.err != nil:
		return c.closedErrLocked()
	case c.goAwayRecv != nil:
		return c.goAwayRecv
	case c.draining:
		return ErrNotAvailable
	}
	return nil
}
