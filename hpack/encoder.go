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
}

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
// the SETTINGS frame arrives. The Encoder uses min(n, 4096) bytes of dynamic
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
func (e *Encoder) AppendBlock(dst []byte, fields ...Field) []byte {
	e.w.b = dst
	if e.pending {
		e.pending = false
		e.flushSizeUpdate()
	}
	for _, f := range fields {
		// The writer never fails, so neither does WriteField.
		_ = e.he.WriteField(f)
	}
	dst = e.w.b
	e.w.b = nil // do not keep the caller's buffer
	return dst
}

// flushSizeUpdate writes the pending size update(s) at the start of the
// block. x/net writes them only before a field, so encode a field that is
// one byte long and a static-table hit, and drop that byte: the update is
// written even if the block has no fields, and before any pre-encoded run.
func (e *Encoder) flushSizeUpdate() {
	_ = e.he.WriteField(flushField)
	e.w.b = e.w.b[:len(e.w.b)-1]
}
