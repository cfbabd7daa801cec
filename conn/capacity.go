package conn

import "math"

// Streams reports how many streams we have open on the connection (counting
// NewStream calls granted a slot and those waiting for one) and the peer's
// SETTINGS_MAX_CONCURRENT_STREAMS: how many may be. limit is math.MaxUint32
// when the peer set no limit or has not sent its first SETTINGS yet (the
// streams opened meanwhile wait for it, see initialPeerMaxStreams). A
// client with more than one connection to a server uses it to open another
// when every slot is taken.
func (c *Conn) Streams() (open, limit uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	open = c.nLocal + uint32(c.slotWaiters.Len())
	if !c.gotPeerSettings {
		return open, math.MaxUint32
	}
	return open, c.peer.maxConcurrentStreams
}
