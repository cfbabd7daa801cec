package hpack

// BlockBuffer reassembles one header block from a HEADERS (or PUSH_PROMISE)
// frame's fragment and the CONTINUATION fragments that follow it, with a
// hard bound on the block's size and on the number of CONTINUATION frames,
// so a CONTINUATION flood (CVE-2023-45288) ends with an error after at most
// Limits.MaxBlockSize bytes and Limits.MaxContinuations frames instead of
// buffering forever.
//
// A connection needs one BlockBuffer: RFC 9113 §6.10 forbids interleaving,
// so at most one block is open at a time. It is not safe for concurrent
// use: the connection's reader owns it. Every error it returns is a
// connection error (see the error variables for the codes).
type BlockBuffer struct {
	maxSize          uint32
	maxContinuations uint32

	buf           []byte
	streamID      uint32
	continuations uint32
	open          bool
}

// keepCap is the largest buffer a BlockBuffer keeps between blocks; a larger
// one, grown for an unusually big block, is released so an idle connection
// does not pin it.
const keepCap = 16 << 10

// NewBlockBuffer returns a BlockBuffer bounded by l.MaxBlockSize and
// l.MaxContinuations (zero fields take their defaults).
func NewBlockBuffer(l Limits) *BlockBuffer {
	l = l.withDefaults()
	return &BlockBuffer{maxSize: l.MaxBlockSize, maxContinuations: l.MaxContinuations}
}

// Start takes the fragment of a HEADERS or PUSH_PROMISE frame (padding
// removed). If endHeaders is set the block is complete: done is true and
// block is fragment itself, not copied. Otherwise the fragment is copied and
// the block stays open for Continue; done is false.
func (b *BlockBuffer) Start(streamID uint32, fragment []byte, endHeaders bool) (block []byte, done bool, err error) {
	if b.open {
		// RFC 9113 §6.10: a header block is a contiguous sequence of
		// frames; another HEADERS before END_HEADERS breaks it.
		return nil, false, ErrBlockSequence
	}
	if uint64(len(fragment)) > uint64(b.maxSize) {
		return nil, false, ErrBlockTooLarge
	}
	if endHeaders {
		return fragment, true, nil
	}
	b.open = true
	b.streamID = streamID
	b.continuations = 0
	b.buf = append(b.buf[:0], fragment...)
	return nil, false, nil
}

// Continue takes the fragment of a CONTINUATION frame. When endHeaders is set
// it returns the whole block, done is true and the BlockBuffer is ready for
// the next Start; the block is valid until then.
func (b *BlockBuffer) Continue(streamID uint32, fragment []byte, endHeaders bool) (block []byte, done bool, err error) {
	// RFC 9113 §6.10: "A CONTINUATION frame MUST be preceded by a HEADERS,
	// PUSH_PROMISE or CONTINUATION frame without the END_HEADERS flag set. A
	// recipient that observes violation of this rule MUST respond with a
	// connection error (Section 5.4.1) of type PROTOCOL_ERROR."
	if !b.open || streamID != b.streamID {
		return nil, false, ErrBlockSequence
	}
	b.continuations++
	if b.continuations > b.maxContinuations {
		b.Reset()
		return nil, false, ErrTooManyContinuations
	}
	if uint64(len(b.buf))+uint64(len(fragment)) > uint64(b.maxSize) {
		b.Reset()
		return nil, false, ErrBlockTooLarge
	}
	b.buf = append(b.buf, fragment...)
	if !endHeaders {
		return nil, false, nil
	}
	b.open = false
	block = b.buf
	if cap(b.buf) > keepCap {
		b.buf = nil // the caller's block stays valid; the memory goes with it
	}
	return block, true, nil
}

// InProgress reports whether a block is open and, if so, for which stream:
// until it ends, RFC 9113 §6.10 allows only CONTINUATION frames on that
// stream.
func (b *BlockBuffer) InProgress() (streamID uint32, ok bool) {
	return b.streamID, b.open
}

// Reset drops any open block.
func (b *BlockBuffer) Reset() {
	b.open = false
	b.streamID = 0
	b.continuations = 0
	if cap(b.buf) > keepCap {
		b.buf = nil
	} else {
		b.buf = b.buf[:0]
	}
}
