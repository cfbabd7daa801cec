package hpack

import "golang.org/x/net/http2/hpack"

// Field is one header field: Name, Value and Sensitive (encode as "never
// indexed", RFC 7541 §6.2.3). It is x/net's type, so fields pass between
// the packages without conversion.
type Field = hpack.HeaderField

// DefaultTableSize is the initial SETTINGS_HEADER_TABLE_SIZE of RFC 9113
// §6.5.2 and the largest dynamic table an Encoder will use.
const DefaultTableSize = 4096

// Encoder encodes header blocks for one connection. It holds the dynamic
// table the peer's decoder mirrors, so every block of the connection must go
// through the same Encoder, in the order the blocks are sent. It is not safe
// for concurrent use: the connection's writer owns it.
type Encoder struct {
	he *hpack.Encoder
	w  appendWriter // he writes here; w.b is the caller's dst during AppendBlock

	tableSize uint32 // the dynamic table size in force (≤ DefaultTableSize)
	pending   bool   // a size update must open the next block

	cache blockCache // the last blocks of indexed fields only
}

// blockCacheSize is how many recent blocks an Encoder remembers: a client's
// request headers, a server's response headers and trailers.
const blockCacheSize = 2

// appendWriter lets x/net's encoder write into the caller's buffer.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// NewEncoder returns an Encoder with the initial dynamic table size of 4096
// (RFC 9113 §6.5.2).
func NewEncoder() *Encoder {
	e := &Encoder{tableSize: DefaultTableSize}
	e.he = hpack.NewEncoder(&e.w)
	return e
}

// SetMaxTableSize applies the peer's SETTINGS_HEADER_TABLE_SIZE; call it when
// the SETTINGS frame arrives, before encoding another block (RFC 9113
// §4.3.1: the change "takes effect when the endpoint acknowledges
// settings", and the acknowledgement is sent at once). The Encoder uses min(n, 4096) bytes of dynamic
// table from now on and opens the next block with the dynamic table size
// update(s) RFC 7541 §4.2 requires ("This dynamic table size update MUST
// occur at the beginning of the first header block following the change to
// the dynamic table size"; if the size changed more than once in between,
// "the smallest maximum table size that occurs in that interval MUST be
// signaled", then the final one). A value that leaves the size as it is
// emits nothing.
func (e *Encoder) SetMaxTableSize(n uint32) {
	n = min(n, DefaultTableSize)
	if n == e.tableSize {
		return
	}
	// x/net evicts at once, remembers the smallest size since the last
	// update and writes min-then-final before the next field it encodes.
	e.he.SetMaxDynamicTableSize(n)
	e.tableSize = n
	e.pending = true
	e.cache.gen++
}

// TableSize reports the dynamic table size the Encoder uses.
func (e *Encoder) TableSize() uint32 { return e.tableSize }

// flushField is a field found whole in the static table (index 2), so
// encoding it writes one byte and leaves the dynamic table alone.
var flushField = Field{Name: ":method", Value: "GET"}

// AppendBlock appends one complete header block encoding fields, in order,
// to dst and returns the extended slice. The block opens with any pending
// dynamic table size update. Fields marked Sensitive are encoded "never
// indexed"; other fields that fit are added to the dynamic table. The
// Encoder keeps the fields' strings in its table; it does not validate them
// (the caller builds fields that follow RFC 9113 §8.2–8.3).
//
// Encoding the same fields again once they are all in the dynamic table is a
// copy: the Encoder remembers the last blocks made only of indexed
// representations, which stay valid until the table changes.
func (e *Encoder) AppendBlock(dst []byte, fields ...Field) []byte {
	if !e.pending {
		if b, ok := e.cache.byFields(fields); ok {
			return append(dst, b...)
		}
	}
	start := len(dst)
	dst = e.writeFields(e.startBlock(dst), fields)
	if !allIndexed(dst[start:]) {
		e.cache.gen++ // it may have added to the table
		return dst
	}
	e.cache.put(blockCacheSize, 0, fields, dst[start:])
	return dst
}

// allIndexed reports whether block consists only of indexed header field
// representations (RFC 7541 §6.1: a first octet with the high bit set, then
// an integer with a 7-bit prefix, §5.1).
func allIndexed(block []byte) bool {
	for i := 0; i < len(block); {
		b := block[i]
		i++
		if b&0x80 == 0 {
			return false
		}
		if b&0x7f == 0x7f { // the index continues in 7-bit groups
			for i < len(block) && block[i]&0x80 != 0 {
				i++
			}
			i++
		}
	}
	return true
}

// startBlock appends the start of a new header block to dst: the pending
// dynamic table size update, if any, else nothing.
func (e *Encoder) startBlock(dst []byte) []byte {
	if !e.pending {
		return dst
	}
	e.pending = false
	// x/net writes the update only before a field, so encode a field that
	// is a static-table hit one byte long, and drop that byte: the update
	// goes out even if the block has no fields, and before any run.
	e.w.b = dst
	_ = e.he.WriteField(flushField)
	dst = e.w.b[:len(e.w.b)-1]
	e.w.b = nil
	return dst
}

func (e *Encoder) writeFields(dst []byte, fields []Field) []byte {
	e.w.b = dst
	for _, f := range fields {
		// The writer never fails, so neither does WriteField.
		_ = e.he.WriteField(f)
	}
	dst = e.w.b
	e.w.b = nil // do not keep the caller's buffer
	return dst
}
