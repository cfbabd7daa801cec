package conn

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/h2rpc/h2rpc/frame"
)

// Stats are a connection's counters at one moment (Conn.Stats).
type Stats struct {
	// StreamsOpen counts the streams open now, ours and the peer's.
	StreamsOpen int
	// BytesSent and BytesReceived count the octets written to and read
	// from the connection (frame headers and the client preface
	// included); FramesSent and FramesReceived count the frames.
	BytesSent, BytesReceived   int64
	FramesSent, FramesReceived int64
	// SendWindow is the connection-level credit the peer gave us: how many
	// more DATA octets we may send now. RecvWindow is the credit the peer
	// has from us; RecvBuffered counts DATA octets received that the
	// application has not read yet.
	SendWindow, RecvWindow, RecvBuffered int64
	// RTT is the round trip of the last Ping that was acknowledged; zero
	// before the first.
	RTT time.Duration
	// GoAwaysSent and GoAwaysReceived count GOAWAY frames.
	GoAwaysSent, GoAwaysReceived int64
}

// StreamStats are a stream's flow-control counters at one moment
// (Stream.Stats).
type StreamStats struct {
	// SendWindow is the credit the peer gave the stream; RecvWindow the
	// credit it has from us; RecvBuffered the DATA octets received and not
	// yet read.
	SendWindow, RecvWindow, RecvBuffered int64
}

// counters are the connection's always-on counters: atomics, updated by
// the writer role holder and the reader without taking Conn.mu.
type counters struct {
	bytesSent, bytesRecv     atomic.Int64
	framesSent, framesRecv   atomic.Int64
	goAwaysSent, goAwaysRecv atomic.Int64
	rtt                      atomic.Int64 // nanoseconds
}

// wrote counts a batch handed to the socket. The batch is whole frames
// (after the client preface, on a client's first write): their headers are
// walked, not parsed. segs are the payloads written from elsewhere, each
// before b's byte at its offset (writer.writeVec); frame headers are all
// in b.
func (n *counters) wrote(b []byte, segs []seg) {
	total := len(b)
	for _, sg := range segs {
		total += len(sg.p)
	}
	n.bytesSent.Add(int64(total))
	pos := 0
	if len(b) >= len(frame.ClientPreface) && string(b[:len(frame.ClientPreface)]) == frame.ClientPreface {
		pos = len(frame.ClientPreface)
	}
	var frames, goAways int64
	for len(b)-pos >= frame.HeaderLen {
		frames++
		if frame.Type(b[pos+3]) == frame.TypeGoAway {
			goAways++
		}
		l := int(binary.BigEndian.Uint32(b[pos:pos+4]) >> 8)
		pos += frame.HeaderLen
		// Skip the payload: bytes of b, and the segs placed among them.
		for l > 0 {
			if len(segs) > 0 && segs[0].off == pos {
				l -= len(segs[0].p)
				segs = segs[1:]
				continue
			}
			next := len(b)
			if len(segs) > 0 {
				next = segs[0].off
			}
			k := min(l, next-pos)
			if k <= 0 {
				break
			}
			pos += k
			l -= k
		}
		if l > 0 {
			break
		}
	}
	n.framesSent.Add(frames)
	if goAways > 0 {
		n.goAwaysSent.Add(goAways)
	}
}

// read counts a frame read.
func (n *counters) read(h frame.Header) {
	n.bytesRecv.Add(frame.HeaderLen + int64(h.Length))
	n.framesRecv.Add(1)
	if h.Type == frame.TypeGoAway {
		n.goAwaysRecv.Add(1)
	}
}

// Stats returns the connection's counters. It may be called at any time,
// from any goroutine, during and after the connection's life.
func (c *Conn) Stats() Stats {
	s := Stats{
		BytesSent:       c.counters.bytesSent.Load(),
		BytesReceived:   c.counters.bytesRecv.Load(),
		FramesSent:      c.counters.framesSent.Load(),
		FramesReceived:  c.counters.framesRecv.Load(),
		GoAwaysSent:     c.counters.goAwaysSent.Load(),
		GoAwaysReceived: c.counters.goAwaysRecv.Load(),
		RTT:             time.Duration(c.counters.rtt.Load()),
	}
	if c.role == roleServer {
		s.BytesReceived += int64(len(frame.ClientPreface)) * min(1, s.FramesReceived)
	}
	c.mu.Lock()
	s.StreamsOpen = len(c.streams)
	s.SendWindow = c.sendWin.Available()
	s.RecvWindow = c.recvWin.Advertised()
	s.RecvBuffered = c.recvWin.Buffered()
	c.mu.Unlock()
	return s
}

// Stats returns the stream's flow-control counters; safe from any
// goroutine.
func (s *Stream) Stats() StreamStats {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return StreamStats{SendWindow: s.sendWin.Available(), RecvWindow: s.recvWin.Advertised(), RecvBuffered: s.recvWin.Buffered()}
}
