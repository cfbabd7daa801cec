package hpack

import (
	"errors"

	"golang.org/x/net/http2/hpack"
)

// Kind says which RFC 9113 §8.3 pseudo-header rules a block must follow.
type Kind uint8

const (
	// Request is the header section of a request (§8.3.1).
	Request Kind = iota
	// Response is the header section of a response, informational or
	// final (§8.3.2).
	Response
	// Trailers is a trailer section: no pseudo-header fields (§8.1).
	Trailers
)

func (k Kind) String() string {
	switch k {
	case Request:
		return "request"
	case Response:
		return "response"
	case Trailers:
		return "trailers"
	}
	return "unknown kind"
}

// Defaults for the zero fields of Limits.
const (
	DefaultMaxHeaderListSize = 16 << 10
	DefaultMaxBlockSize      = 64 << 10
	DefaultMaxContinuations  = 32
)

// Limits bound what a Decoder and a BlockBuffer accept. A zero field takes
// its default. The connection advertises MaxTableSize and MaxHeaderListSize
// in its SETTINGS; read the effective values back with Decoder.Limits.
type Limits struct {
	// MaxTableSize is the SETTINGS_HEADER_TABLE_SIZE we advertise: the
	// largest dynamic table the peer's encoder may use. Default 4096
	// (DefaultTableSize). It is in force once the peer acknowledges it:
	// call Decoder.SetMaxTableSize then (which is also how to go to 0).
	MaxTableSize uint32
	// MaxHeaderListSize is our SETTINGS_MAX_HEADER_LIST_SIZE: the largest
	// header list, counted as in RFC 9113 §6.5.2 (name + value + 32 per
	// field), that Decode returns. Default 16 KiB.
	MaxHeaderListSize uint32
	// MaxBlockSize bounds an encoded header block reassembled from HEADERS
	// and CONTINUATION fragments. Default 64 KiB.
	MaxBlockSize uint32
	// MaxContinuations bounds the CONTINUATION frames of one block. Default 32.
	MaxContinuations uint32
}

func (l Limits) withDefaults() Limits {
	if l.MaxTableSize == 0 {
		l.MaxTableSize = DefaultTableSize
	}
	if l.MaxHeaderListSize == 0 {
		l.MaxHeaderListSize = DefaultMaxHeaderListSize
	}
	if l.MaxBlockSize == 0 {
		l.MaxBlockSize = DefaultMaxBlockSize
	}
	if l.MaxContinuations == 0 {
		l.MaxContinuations = DefaultMaxContinuations
	}
	return l
}

// Decoder decodes the header blocks of one connection. It holds the dynamic
// table the peer's encoder fills, so every block the peer sends must go
// through Decode, in order, even blocks for streams that will be refused or
// reset (RFC 9113 §4.3: "A receiver MUST terminate the connection with a
// connection error ... of type COMPRESSION_ERROR if it does not decompress a
// field block"). It is not safe for concurrent use: the connection's reader
// owns it.
type Decoder struct {
	hd     *hpack.Decoder
	limits Limits

	allowed    uint32 // the largest table size update we accept
	tableSize  uint32 // the table size the peer's encoder last declared
	needUpdate bool   // the next block must open with a size update (RFC 9113 §4.3.1)

	cache blockCache // the last blocks of indexed fields only, decoded

	// State of the block being decoded, set by Decode, used by onField.
	dst      []Field
	listSize uint64
	err      error // first stream-level error of the block; fields are no longer stored
	check    checker
}

// decodedCacheSize is how many recent blocks a Decoder remembers: a
// server's request headers for a few methods, a client's response headers
// and trailers.
const decodedCacheSize = 4

// maxCachedBlock and maxCachedFields bound the blocks a Decoder
// remembers, so that its cache holds a few KiB at most whatever the peer
// sends (a gRPC request block is about ten fields).
const (
	maxCachedBlock  = 256
	maxCachedFields = 16
)

// NewDecoder returns a Decoder that enforces l (zero fields take defaults).
//
// The dynamic table starts at 4096 bytes (RFC 9113 §4.3.1: "When a
// connection is established, the dynamic table size for the HPACK decoder
// and encoder at both endpoints starts at 4,096 bytes"). Until
// SetMaxTableSize is called the Decoder accepts size updates up to
// max(4096, l.MaxTableSize), so a peer that applies our first SETTINGS
// before we see its acknowledgement is not punished.
func NewDecoder(l Limits) *Decoder {
	l = l.withDefaults()
	d := &Decoder{
		limits:    l,
		allowed:   max(DefaultTableSize, l.MaxTableSize),
		tableSize: DefaultTableSize,
	}
	d.hd = hpack.NewDecoder(DefaultTableSize, d.onField)
	d.hd.SetAllowedMaxDynamicTableSize(d.allowed)
	d.setMaxStringLength()
	return d
}

// Limits reports the limits in force, defaults filled in.
func (d *Decoder) Limits() Limits { return d.limits }

// SetMaxTableSize puts our SETTINGS_HEADER_TABLE_SIZE n in force; call it
// when the peer acknowledges a SETTINGS frame that carried it, the first one
// included (RFC 9113 §4.3.1: "Any change to the maximum value set using
// SETTINGS_HEADER_TABLE_SIZE takes effect when the endpoint acknowledges
// settings"). From then on a size update larger than n is a compression
// error. If n is below the table size the peer's encoder last declared, the
// next block must open with a size update (RFC 9113 §4.3.1: "An endpoint
// MUST treat a field block that follows an acknowledgment of the reduction
// to the maximum dynamic table size as a connection error (Section 5.4.1)
// of type COMPRESSION_ERROR if it does not start with a conformant Dynamic
// Table Size Update instruction"). This is also how to run without a
// dynamic table: advertise 0 and call SetMaxTableSize(0) on the
// acknowledgement.
func (d *Decoder) SetMaxTableSize(n uint32) {
	d.limits.MaxTableSize = n
	d.allowed = n
	d.cache.gen++
	d.hd.SetAllowedMaxDynamicTableSize(n)
	if n < d.tableSize {
		d.needUpdate = true
	}
}

// setMaxStringLength lets x/net's decoder read every string a block within
// MaxBlockSize can hold: the longest is the whole block, Huffman-coded at
// five bits a byte, so 8/5 of MaxBlockSize decoded. Any lower limit would
// stop decoding in the middle of a block, which loses the dynamic table and
// so the connection, for what is only a header list over our limit: a
// stream error once decoded (see onField). x/net decodes a string only
// while emitting or to insert it into the table, so a long one costs at
// most that much memory, once, for the block being decoded.
func (d *Decoder) setMaxStringLength() {
	d.hd.SetMaxStringLength(int(min(uint64(d.limits.MaxBlockSize)*8/5+8, 1<<31-1)))
}

// Decode decodes one complete header block of the given kind, appends its
// fields to dst and returns the extended slice. The fields' strings do not
// refer to block; names and values found in the static or dynamic table are
// shared with it rather than copied.
//
// Errors:
//   - *CompressionError (errors.Is ErrCompression): the block is not valid
//     HPACK; the connection must end with COMPRESSION_ERROR.
//   - ErrBlockTooLarge: len(block) > Limits.MaxBlockSize; nothing decoded,
//     so the connection must end (ENHANCE_YOUR_CALM).
//   - ErrHeaderListTooLarge: the list exceeds Limits.MaxHeaderListSize.
//   - *MalformedError (errors.Is ErrMalformed): an RFC 9113 §8.2/§8.3 rule.
//
// After the first two the table no longer matches the peer's and the
// Decoder must not be used again; a compression error found anywhere in the
// block wins over the other errors. The last two are stream errors: the
// dynamic table is up to date and the connection can go on. Whichever of
// them is met first is returned, and decoding stops storing fields there,
// so memory stays bounded whatever the block expands to. On any error the
// returned slice holds dst plus the fields stored before the error: reuse
// its capacity, but do not act on its contents.
//
// Decoding a block again that is all indexed representations, while the
// dynamic table has not changed, is a copy of the fields decoded last time:
// the Decoder remembers the last few such blocks.
func (d *Decoder) Decode(block []byte, kind Kind, dst []Field) ([]Field, error) {
	if uint64(len(block)) > uint64(d.limits.MaxBlockSize) {
		return dst, ErrBlockTooLarge
	}
	if !d.needUpdate {
		// A block that decoded without error as kind decodes the same
		// and passes the same checks while the table stands.
		if fields, ok := d.cache.byBlock(block, kind); ok {
			return append(dst, fields...), nil
		}
	}
	indexed := allIndexed(block)
	if !indexed {
		d.cache.gen++ // it may change the table, whatever comes of it
	}
	updates, declared := leadingSizeUpdates(block)
	if d.needUpdate && updates == 0 {
		return dst, &CompressionError{Err: errMissingSizeUpdate}
	}
	d.dst = dst
	d.listSize = 0
	d.err = nil
	d.check = checker{kind: kind}
	d.hd.SetEmitEnabled(true)
	_, err := d.hd.Write(block)
	if cerr := d.hd.Close(); err == nil {
		err = cerr // a block cut short in the middle of a field
	}
	out := d.dst
	d.dst = nil // do not keep the caller's slice
	if err != nil {
		return out, &CompressionError{Err: err}
	}
	if updates > 0 { // x/net accepted them: they are in force
		d.tableSize = declared
		d.needUpdate = false
	}
	switch {
	case d.err != nil:
		return out, d.err
	}
	if err := d.check.finish(); err != nil {
		return out, err
	}
	if indexed && len(block) <= maxCachedBlock && len(out)-len(dst) <= maxCachedFields {
		d.cache.put(decodedCacheSize, kind, out[len(dst):], block)
	}
	return out, nil
}

// onField receives each field from x/net's decoder, in order, while emitting
// is enabled.
func (d *Decoder) onField(f Field) {
	// RFC 9113 §6.5.2: "The value is based on the uncompressed size of
	// header fields, including the length of the name and value in octets
	// plus an overhead of 32 octets for each header field."
	d.listSize += uint64(len(f.Name)) + uint64(len(f.Value)) + 32
	if d.listSize > uint64(d.limits.MaxHeaderListSize) {
		d.stop(ErrHeaderListTooLarge)
		return
	}
	if err := d.check.field(f); err != nil {
		d.stop(err)
		return
	}
	d.dst = append(d.dst, f)
}

// stop records the block's stream-level error and tells x/net to stop
// emitting: it goes on decoding for the table's sake but no longer decodes
// strings that are not indexed.
func (d *Decoder) stop(err error) {
	d.err = err
	d.hd.SetEmitEnabled(false)
}

var errMissingSizeUpdate = errors.New("field block after a reduced SETTINGS_HEADER_TABLE_SIZE does not start with a dynamic table size update")

// leadingSizeUpdates reads the dynamic table size updates (RFC 7541 §6.3,
// first byte 001xxxxx) at the start of block and returns how many there are
// and the last size. It stops at anything it cannot read; x/net's decoder
// reports the error.
func leadingSizeUpdates(block []byte) (n int, size uint32) {
	for len(block) > 0 && block[0]&0xe0 == 0x20 {
		v, rest, ok := readInt(block, 5)
		if !ok || v > 1<<32-1 {
			break
		}
		n, size, block = n+1, uint32(v), rest
	}
	return n, size
}

// readInt reads an RFC 7541 §5.1 integer with an n-bit prefix.
func readInt(p []byte, n uint) (v uint64, rest []byte, ok bool) {
	mask := uint64(1)<<n - 1
	v = uint64(p[0]) & mask
	p = p[1:]
	if v < mask {
		return v, p, true
	}
	for shift := uint(0); len(p) > 0 && shift < 35; shift += 7 {
		b := p[0]
		p = p[1:]
		v += uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			return v, p, true
		}
	}
	return 0, nil, false
}
