package main

// The soak service: four methods, one per call shape, whose messages carry
// their own identity and checksum so that both ends can check every message
// they receive (see msg). Messages travel as raw bytes through
// rpc.DefaultCodec ([]byte to send, *[]byte to receive).

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"time"

	"github.com/h2rpc/h2rpc/rpc"
)

const serviceName = "h2rpc.soak.Soak"

// The full method names.
const (
	echoMethod     = "/" + serviceName + "/Echo"     // unary
	downloadMethod = "/" + serviceName + "/Download" // server streaming
	uploadMethod   = "/" + serviceName + "/Upload"   // client streaming
	chatMethod     = "/" + serviceName + "/Chat"     // bidirectional
)

// A message is a header followed by filler:
//
//	off  0  magic    "SOAK"
//	off  4  crc      CRC-32C of bytes [8:]
//	off  8  call     the call's id, chosen by the client
//	off 16  seq      the message's position in its direction of the call
//	off 20  count    requests: how many responses to send; replies: how many requests were received
//	off 24  size     the size of each response
//	off 28  delay    milliseconds the server waits before each response
//	off 32  flags    flag* bits
//	off 36  reserved
//
// The receiver checks magic, crc, call and seq, so a message that is lost,
// duplicated, reordered, truncated, corrupted or delivered to the wrong call
// is noticed.
const (
	headerLen = 40
	magic     = 0x4b414f53 // "SOAK" little-endian
)

// Flags of a request.
const (
	// flagHold makes the server, once it has sent count responses, wait for
	// the call's context to end and return its error: the call can end only
	// by its deadline or by cancellation.
	flagHold = 1 << iota
	// flagGzipReplies makes the server compress its responses with gzip.
	flagGzipReplies
	// flagCompressible fills messages with a repeating pattern, which gzip
	// shrinks, instead of random bytes.
	flagCompressible
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// msg is the header of a message.
type msg struct {
	call  uint64
	seq   uint32
	count uint32
	size  uint32
	delay uint32
	flags uint32
}

// appendMsg appends m, padded with filler to total bytes (at least
// headerLen), to b.
func appendMsg(b []byte, m msg, total int) []byte {
	total = max(total, headerLen)
	start := len(b)
	b = append(b, make([]byte, total)...)
	p := b[start:]
	le := binary.LittleEndian
	le.PutUint32(p[0:], magic)
	le.PutUint64(p[8:], m.call)
	le.PutUint32(p[16:], m.seq)
	le.PutUint32(p[20:], m.count)
	le.PutUint32(p[24:], m.size)
	le.PutUint32(p[28:], m.delay)
	le.PutUint32(p[32:], m.flags)
	fill(p[headerLen:], m.call<<32|uint64(m.seq), m.flags&flagCompressible != 0)
	le.PutUint32(p[4:], crc32.Checksum(p[8:], castagnoli))
	return b
}

// fill fills p from seed: random bytes, or a repeating 256-byte pattern if
// compressible.
func fill(p []byte, seed uint64, compressible bool) {
	if len(p) == 0 {
		return
	}
	if !compressible {
		var key [32]byte
		binary.LittleEndian.PutUint64(key[:], seed)
		rand.NewChaCha8(key).Read(p) //nolint:errcheck // never fails
		return
	}
	n := copy(p, fmt.Sprintf("%016x ", seed))
	for i := n; i < min(len(p), 256); i++ {
		p[i] = byte(i) ^ byte(seed)
	}
	for n = min(len(p), 256); n < len(p); n *= 2 {
		copy(p[n:], p[:n])
	}
}

// parseMsg checks b's magic and checksum and returns its header.
func parseMsg(b []byte) (msg, error) {
	if len(b) < headerLen {
		return msg{}, fmt.Errorf("message of %d bytes, shorter than the %d-byte header", len(b), headerLen)
	}
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != magic {
		return msg{}, errors.New("message without the magic number")
	}
	if got, want := crc32.Checksum(b[8:], castagnoli), le.Uint32(b[4:]); got != want {
		return msg{}, fmt.Errorf("message of %d bytes fails its checksum (%08x, want %08x)", len(b), got, want)
	}
	return msg{
		call:  le.Uint64(b[8:]),
		seq:   le.Uint32(b[16:]),
		count: le.Uint32(b[20:]),
		size:  le.Uint32(b[24:]),
		delay: le.Uint32(b[28:]),
		flags: le.Uint32(b[32:]),
	}, nil
}

// checkMsg parses b and checks that it is message seq of call.
func checkMsg(b []byte, call uint64, seq uint32) (msg, error) {
	m, err := parseMsg(b)
	if err != nil {
		return m, err
	}
	if m.call != call {
		return m, fmt.Errorf("message of call %d arrived on call %d", m.call, call)
	}
	if m.seq != seq {
		return m, fmt.Errorf("message %d arrived where %d was due (lost, duplicated or reordered)", m.seq, seq)
	}
	return m, nil
}

// serviceDesc declares the soak service by hand, as generated code would.
var serviceDesc = rpc.ServiceDesc{
	ServiceName: serviceName,
	Methods:     []rpc.MethodDesc{{MethodName: "Echo", Handler: echoHandler}},
	Streams: []rpc.StreamDesc{
		{StreamName: "Download", Handler: downloadHandler, ServerStreams: true},
		{StreamName: "Upload", Handler: uploadHandler, ClientStreams: true},
		{StreamName: "Chat", Handler: chatHandler, ServerStreams: true, ClientStreams: true},
	},
}

// The stream descriptors a client opens calls with.
var (
	downloadDesc = &serviceDesc.Streams[0]
	uploadDesc   = &serviceDesc.Streams[1]
	chatDesc     = &serviceDesc.Streams[2]
)

// dataLoss is the status a handler fails a call with when a request message
// is wrong: the client counts it as a violation.
func dataLoss(err error) error { return rpc.Errorf(rpc.DataLoss, "server: %v", err) }

// wait sleeps for ms milliseconds or until ctx ends.
func wait(ctx context.Context, ms uint32) error {
	if ms == 0 {
		return ctx.Err()
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hold waits for ctx to end if req asks for it and returns the error the
// call should end with.
func hold(ctx context.Context, req msg) error {
	if req.flags&flagHold == 0 {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func replyCompression(ctx context.Context, req msg) error {
	if req.flags&flagGzipReplies == 0 {
		return nil
	}
	return rpc.SetSendCompressor(ctx, "gzip")
}

// reply is response seq to req.
func reply(req msg, seq, count uint32) []byte {
	return appendMsg(nil, msg{call: req.call, seq: seq, count: count, flags: req.flags}, int(req.size))
}

// echoHandler answers one request with one response of the size it asks.
func echoHandler(_ any, ctx context.Context, dec func(any) error, _ rpc.UnaryServerInterceptor) (any, error) {
	var b []byte
	if err := dec(&b); err != nil {
		return nil, err
	}
	req, err := checkMsg(b, mustCall(b), 0)
	if err != nil {
		return nil, dataLoss(err)
	}
	if err := replyCompression(ctx, req); err != nil {
		return nil, err
	}
	if err := wait(ctx, req.delay); err != nil {
		return nil, err
	}
	if err := hold(ctx, req); err != nil {
		return nil, err
	}
	return reply(req, 0, 1), nil
}

// mustCall returns the call id of b, or 0 if b is too short to have one;
// checkMsg then reports what is wrong with it.
func mustCall(b []byte) uint64 {
	if len(b) < headerLen {
		return 0
	}
	return binary.LittleEndian.Uint64(b[8:])
}

// downloadHandler answers one request with count responses, then holds if
// asked.
func downloadHandler(_ any, ss rpc.ServerStream) error {
	ctx := ss.Context()
	var b []byte
	if err := ss.RecvMsg(&b); err != nil {
		return err
	}
	req, err := checkMsg(b, mustCall(b), 0)
	if err != nil {
		return dataLoss(err)
	}
	if err := replyCompression(ctx, req); err != nil {
		return err
	}
	for i := range req.count {
		if err := wait(ctx, req.delay); err != nil {
			return err
		}
		if err := ss.SendMsg(reply(req, i, req.count)); err != nil {
			return err
		}
	}
	return hold(ctx, req)
}

// uploadHandler receives requests until the client ends, checking each, and
// answers with how many arrived.
func uploadHandler(_ any, ss rpc.ServerStream) error {
	ctx := ss.Context()
	var b []byte
	var first msg
	var n uint32
	for ; ; n++ {
		err := ss.RecvMsg(&b)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n == 0 {
			first.call = mustCall(b)
		}
		m, err := checkMsg(b, first.call, n)
		if err != nil {
			return dataLoss(err)
		}
		if n == 0 {
			first = m
			if err := replyCompression(ctx, first); err != nil {
				return err
			}
		}
	}
	if n == 0 {
		return rpc.Errorf(rpc.InvalidArgument, "no requests")
	}
	if err := hold(ctx, first); err != nil {
		return err
	}
	return ss.SendMsg(reply(first, 0, n))
}

// chatHandler answers each request with a response of the same seq, as
// they come.
func chatHandler(_ any, ss rpc.ServerStream) error {
	ctx := ss.Context()
	var b []byte
	var call uint64
	for n := uint32(0); ; n++ {
		err := ss.RecvMsg(&b)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if n == 0 {
			call = mustCall(b)
		}
		req, err := checkMsg(b, call, n)
		if err != nil {
			return dataLoss(err)
		}
		if n == 0 {
			if err := replyCompression(ctx, req); err != nil {
				return err
			}
		}
		if err := wait(ctx, req.delay); err != nil {
			return err
		}
		if err := ss.SendMsg(reply(req, n, 1)); err != nil {
			return err
		}
	}
}
