package conn

import (
	"time"

	"github.com/h2rpc/h2rpc/frame"
)

// Keepalive enforcement (grpc doc/keepalive.md, proposal A8): a server
// tells a client that pings too often to stop, with GOAWAY
// ENHANCE_YOUR_CALM and the debug data "too_many_pings", which grpc clients
// take as a request to double their keepalive interval.

// maxPingStrikes is how many PINGs in a row may come too early; the next
// one ends the connection (grpc-go's maxPingStrikes).
const maxPingStrikes = 2

// idlePingInterval is the least time between PINGs while no stream is open,
// when the policy does not permit pings without streams (grpc's two hours).
const idlePingInterval = 2 * time.Hour

// pingPolicy is Config's MinPingInterval and PermitPingsWithoutStreams.
type pingPolicy struct {
	minInterval    time.Duration // 0: not enforced
	withoutStreams bool
}

// pingStrikes is a server connection's record of the client's PINGs.
type pingStrikes struct {
	last    time.Time // when the last PING came
	strikes int       // PINGs in a row that came too early
	// dataSent is set when we sent DATA since the last PING: a PING that
	// follows our DATA is never too early, as a peer measuring the
	// bandwidth-delay product sends one per round trip of DATA (grpc-go's
	// server forgives such PINGs too).
	dataSent bool
}

// checkPingLocked applies the ping policy to a PING (not an ACK) that just
// arrived; an error ends the connection.
func (c *Conn) checkPingLocked() error {
	p := c.cfg.pingPolicy
	if c.role != roleServer || p.minInterval <= 0 {
		return nil
	}
	now := time.Now()
	least := p.minInterval
	if !p.withoutStreams && len(c.streams) == 0 {
		least = max(least, idlePingInterval)
	}
	ps := &c.pingStrikes
	if ps.dataSent {
		ps.dataSent = false
		ps.strikes = 0
	} else if !ps.last.IsZero() && now.Sub(ps.last) < least {
		ps.strikes++
	} else {
		ps.strikes = 0
	}
	ps.last = now
	if ps.strikes > maxPingStrikes {
		return &frame.ConnError{Code: frame.ErrCodeEnhanceYourCalm, Reason: "too_many_pings"}
	}
	return nil
}

// Activity reports the streams open on the connection and, on a server,
// the id of the last stream the client opened (0 on a client): a server
// connection whose id has not moved and that has no stream open has been
// idle since it was last looked at. A server uses it to close idle
// connections.
func (c *Conn) Activity() (open int, lastID uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.role == roleServer {
		return len(c.streams), c.peerIDs.Last()
	}
	return len(c.streams), 0
}
