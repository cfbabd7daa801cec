// Package linger holds the one way h2rpc closes a connection whose last
// write must reach the peer: conn after a graceful GOAWAY, h2tls after a
// failed handshake's alert.
package linger

import (
	"io"
	"net"
	"time"
)

// Linger half-closes nc and reads and drops what the peer still sends until
// it closes too, for at most d, so that what we wrote last (a GOAWAY, an
// alert) reaches the peer instead of being lost to the RST a close with
// unread data makes. It does not close nc. A net.Conn that cannot
// half-close is left as it is.
func Linger(nc net.Conn, d time.Duration) {
	cw, ok := nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	if nc.SetReadDeadline(time.Now().Add(d)) == nil {
		io.Copy(io.Discard, nc)
	}
}
