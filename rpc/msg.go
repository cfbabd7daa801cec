package rpc

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
)

// Length-prefixed messages (PROTOCOL-HTTP2.md, Requests):
//
//	Length-Prefixed-Message → Compressed-Flag Message-Length Message
//	Compressed-Flag → 0 / 1            # 1 byte
//	Message-Length → {length of Message} # 4 bytes, big endian
//
// DATA frame boundaries have no relation to message boundaries, so the
// reader works on the stream's byte sequence, never on frames.

const (
	msgHeaderLen = 5
	// DefaultMaxRecvMsgSize is the largest message a call accepts unless
	// told otherwise (MaxRecvMsgSize): 4 MiB, as in other gRPC
	// implementations.
	DefaultMaxRecvMsgSize = 4 << 20
	// DefaultMaxSendMsgSize is the largest message a call sends unless told
	// otherwise (MaxSendMsgSize): no limit beyond the 4-byte length.
	DefaultMaxSendMsgSize = 1<<32 - 1 - msgHeaderLen
)

// Buffers: messages are marshalled into, and read into, pooled buffers. A
// buffer grown past maxPooledBuf is left to the garbage collector so one
// large message does not pin memory forever.
const maxPooledBuf = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// encodeMsg appends one length-prefixed message holding v's encoding to
// dst, compressed with comp when comp is not nil. scratch, when not nil, is
// a spare buffer compression may use. A message longer than maxSize fails
// with RESOURCE_EXHAUSTED.
func encodeMsg(dst []byte, codec Codec, v any, comp Compressor, scratch *[]byte, maxSize int) ([]byte, error) {
	b, _, err := encodeMsgLen(dst, codec, v, comp, scratch, maxSize)
	return b, err
}

// encodeMsgLen is encodeMsg that also returns the message's uncompressed
// length, for stats.
func encodeMsgLen(dst []byte, codec Codec, v any, comp Compressor, scratch *[]byte, maxSize int) ([]byte, int, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0)
	var err error
	if ac, ok := codec.(AppendCodec); ok {
		dst, err = ac.AppendMarshal(dst, v)
	} else {
		var data []byte
		data, err = codec.Marshal(v)
		dst = append(dst, data...)
	}
	if err != nil {
		return dst[:start], 0, statusf(Internal, "grpc: error while marshaling: %v", err)
	}
	plainLen := len(dst) - start - msgHeaderLen
	if comp != nil {
		plain := dst[start+msgHeaderLen:]
		var out []byte
		if scratch != nil {
			out = (*scratch)[:0]
		}
		out, err = comp.AppendCompressed(out, plain)
		if err != nil {
			return dst[:start], 0, statusf(Internal, "grpc: error while compressing with %s: %v", comp.Name(), err)
		}
		dst = append(dst[:start+msgHeaderLen], out...)
		if scratch != nil {
			*scratch = out[:0]
		}
		dst[start] = 1
	}
	n := len(dst) - start - msgHeaderLen
	if n > maxSize {
		return dst[:start], 0, statusf(ResourceExhausted, "grpc: trying to send message larger than max (%d vs. %d)", n, maxSize)
	}
	binary.BigEndian.PutUint32(dst[start+1:], uint32(n))
	return dst, plainLen, nil
}

// minRawMsg is the smallest message sent as it is behind its prefix (see
// rawMsg) rather than copied after it into the send buffer: below it the
// copy costs less than framing from two slices.
const minRawMsg = 16 << 10

// rawMsg returns the bytes of m, with hdr set to their uncompressed
// message prefix, when they can be sent as they are: codec is DefaultCodec,
// comp is nil, and m is a []byte or *[]byte of at least minRawMsg bytes
// and at most maxSize. That spares copying a large message into the send
// buffer only to put five bytes in front of it.
func rawMsg(hdr *[msgHeaderLen]byte, codec Codec, m any, comp Compressor, maxSize int) ([]byte, bool) {
	if comp != nil {
		return nil, false
	}
	if _, ok := codec.(defaultCodec); !ok {
		return nil, false
	}
	var b []byte
	switch m := m.(type) {
	case []byte:
		b = m
	case *[]byte:
		b = *m
	default:
		return nil, false
	}
	if len(b) < minRawMsg || len(b) > maxSize {
		return nil, false
	}
	hdr[0] = 0
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(b)))
	return b, true
}

// msgReader reads length-prefixed messages from one stream's DATA bytes.
// It is used by one goroutine at a time (the one receiving on the call).
type msgReader struct {
	r       io.Reader
	maxSize int
	// decomp decompresses messages flagged compressed; nil when the peer
	// sent no grpc-encoding (or "identity"), in which case a compressed
	// message is an error. encoding is the peer's grpc-encoding, for errors.
	decomp   Compressor
	encoding string

	hdr [msgHeaderLen]byte
	buf *[]byte // pooled; the message returned by next lives here
	out *[]byte // pooled; decompressed messages live here
}

var errTruncatedMsg = errors.New("stream ended inside a length-prefixed message")

// next reads one message and returns its bytes, valid until the next call
// or release. At a clean end of the stream it returns io.EOF. A message cut
// short by the end of the stream is INTERNAL; a message over the size limit
// is RESOURCE_EXHAUSTED; errors of the underlying reader are returned as
// they are, for the caller to map.
func (m *msgReader) next() ([]byte, error) {
	b, _, err := m.nextInto(nil)
	return b, err
}

// nextInto is next, except that an uncompressed message is read straight
// into *into when into is not nil (reusing its array when large enough),
// which spares the copy DefaultCodec's Unmarshal would make; direct reports
// that it did so, and then *into holds the message. On an error *into keeps
// its length, though its array may have been written.
func (m *msgReader) nextInto(into *[]byte) (b []byte, direct bool, err error) {
	if n, err := readFull(m.r, m.hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF || (err == io.EOF && n > 0) {
			return nil, false, &Status{Code: Internal, Message: "grpc: " + errTruncatedMsg.Error(), cause: errTruncatedMsg}
		}
		return nil, false, err
	}
	flag := m.hdr[0]
	length := binary.BigEndian.Uint32(m.hdr[1:])
	if uint64(length) > uint64(m.maxSize) {
		return nil, false, statusf(ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", length, m.maxSize)
	}
	if flag > 1 {
		return nil, false, statusf(Internal, "grpc: invalid compressed-flag %d in message header", flag)
	}
	if flag == 1 && m.decomp == nil {
		// "If the Message-Encoding header is omitted then the
		// Compressed-Flag must be 0" (PROTOCOL-HTTP2.md); such a message
		// "MUST fail with INTERNAL status" (doc/compression.md, test case 6).
		if m.encoding == "" || m.encoding == "identity" {
			return nil, false, newStatus(Internal, "grpc: compressed flag set with identity or empty grpc-encoding")
		}
		return nil, false, statusf(Internal, "grpc: message compressed with unsupported grpc-encoding %q (supported: %s)", m.encoding, acceptEncoding())
	}
	if flag == 0 && into != nil {
		d := *into
		if cap(d) < int(length) {
			d = make([]byte, length)
		}
		d = d[:length]
		if _, err := readFull(m.r, d); err != nil {
			return nil, false, truncated(err)
		}
		*into = d
		return d, true, nil
	}
	if m.buf == nil {
		m.buf = getBuf()
	}
	b = *m.buf
	if cap(b) < int(length) {
		b = make([]byte, length)
	}
	b = b[:length]
	*m.buf = b
	if _, err := readFull(m.r, b); err != nil {
		return nil, false, truncated(err)
	}
	if flag == 0 {
		return b, false, nil
	}
	if m.out == nil {
		m.out = getBuf()
	}
	out, err := m.decomp.AppendDecompressed((*m.out)[:0], b, m.maxSize)
	*m.out = out[:0]
	if err == ErrTooLarge {
		return nil, false, statusf(ResourceExhausted, "grpc: received message after decompression larger than max %d", m.maxSize)
	}
	if err != nil {
		return nil, false, statusf(Internal, "grpc: failed to decompress the message with %s: %v", m.encoding, err)
	}
	return out, false, nil
}

// wire describes the message nextInto returned last, from its prefix,
// which stays in hdr until the next call: its length on the wire (prefix
// included) and whether it was compressed.
func (m *msgReader) wire() (length int, compressed bool) {
	return msgHeaderLen + int(binary.BigEndian.Uint32(m.hdr[1:])), m.hdr[0] == 1
}

// fullReader is a reader that fills a buffer of known size in one call,
// as *conn.Stream does: the bytes go straight into the buffer and the
// caller wakes once, not per DATA frame.
type fullReader interface {
	ReadFull(p []byte) (int, error)
}

// readFull is io.ReadFull, through r's own ReadFull when it has one.
func readFull(r io.Reader, p []byte) (int, error) {
	if fr, ok := r.(fullReader); ok {
		return fr.ReadFull(p)
	}
	return io.ReadFull(r, p)
}

// truncated maps an error reading a message's body: the stream ending
// inside it is INTERNAL; other errors are the caller's to map.
func truncated(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &Status{Code: Internal, Message: "grpc: " + errTruncatedMsg.Error(), cause: errTruncatedMsg}
	}
	return err
}

// release returns the reader's buffers to the pool.
func (m *msgReader) release() {
	if m.buf != nil {
		putBuf(m.buf)
		m.buf = nil
	}
	if m.out != nil {
		putBuf(m.out)
		m.out = nil
	}
}
