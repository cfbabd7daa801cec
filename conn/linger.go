package conn

import (
	"errors"

	"github.com/h2rpc/h2rpc/internal/linger"
)

// closeNetConn closes the net.Conn after the final flush. A server that
// ended gracefully (its GOAWAY sent, its last stream done; not Close)
// half-closes first and reads what the client still sends until the client
// closes too, for at most Config.CloseTimeout. Closing a socket with unread data makes the
// kernel send RST, and a RST makes the client's kernel drop what it had not
// read yet, our GOAWAY included: the streams the client opened just before
// it would then fail as a broken connection rather than be retried as
// streams the GOAWAY refused (net/http's server lingers the same way).
func (c *Conn) closeNetConn() {
	c.mu.Lock()
	graceful := c.role == roleServer && c.goAwaySent && c.drained && errors.Is(c.err, ErrClosed)
	c.mu.Unlock()
	if graceful {
		// The reader goroutine, if still running, reads too; either way
		// the bytes are dropped (the connection has ended).
		linger.Linger(c.nc, c.cfg.closeTimeout)
	}
	c.nc.Close()
}
