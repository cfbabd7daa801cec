package hpack

import (
	"bytes"
	"slices"
)

// blockCache remembers the last few header blocks made only of indexed
// representations (RFC 7541 §6.1) with the fields they stand for. Such a
// block neither carries literals nor changes the dynamic table, so the
// same fields encode to the same bytes, and the same bytes decode to the
// same fields, until the table changes. gen counts the changes the table
// may have seen (a block that was not all indexed, a size change); an
// entry holds while gen is what it was when the entry was made. The
// Encoder looks blocks up by their fields, the Decoder by their bytes.
type blockCache struct {
	gen     uint64
	entries []cachedBlock // made by the first put
	next    int           // the entry to replace next
}

type cachedBlock struct {
	gen    uint64
	kind   Kind // the Decoder's: the kind the block was checked as
	fields []Field
	b      []byte // nil in an entry not yet used
}

// byFields returns the bytes of a valid entry for fields.
func (c *blockCache) byFields(fields []Field) ([]byte, bool) {
	for i := range c.entries {
		if cb := &c.entries[i]; cb.gen == c.gen && cb.b != nil && slices.Equal(cb.fields, fields) {
			return cb.b, true
		}
	}
	return nil, false
}

// byBlock returns the fields of a valid entry for block, checked as kind.
func (c *blockCache) byBlock(block []byte, kind Kind) ([]Field, bool) {
	for i := range c.entries {
		if cb := &c.entries[i]; cb.gen == c.gen && cb.kind == kind && cb.b != nil && bytes.Equal(cb.b, block) {
			return cb.fields, true
		}
	}
	return nil, false
}

// put remembers block, all indexed, standing for fields as kind, in place
// of the oldest of size entries.
func (c *blockCache) put(size int, kind Kind, fields []Field, block []byte) {
	if c.entries == nil {
		c.entries = make([]cachedBlock, size)
	}
	cb := &c.entries[c.next]
	c.next = (c.next + 1) % len(c.entries)
	cb.gen, cb.kind = c.gen, kind
	cb.fields = append(cb.fields[:0], fields...)
	cb.b = append(cb.b[:0], block...)
}
