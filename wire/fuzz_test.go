package wire

import (
	"bytes"
	"errors"
	"testing"
)

// canonical re-encodes the message b field by field in the canonical form:
// minimal varints for tags, values and lengths, groups canonicalized inside.
// It returns the error Range reports for b.
func canonical(b []byte) ([]byte, error) {
	var out []byte
	err := Range(b, func(f Field) error {
		out = AppendTag(out, f.Num, f.Type)
		switch f.Type {
		case TypeVarint:
			out = AppendVarint(out, f.Bits)
		case TypeI32:
			out = AppendFixed32(out, uint32(f.Bits))
		case TypeI64:
			out = AppendFixed64(out, f.Bits)
		case TypeLen:
			out = AppendBytes(out, f.Bytes)
		case TypeSGroup:
			body, err := canonical(f.Bytes)
			if err != nil {
				return err // impossible: Range validated the body
			}
			out = AppendTag(append(out, body...), f.Num, TypeEGroup)
		}
		return nil
	})
	return out, err
}

// FuzzDecode feeds arbitrary bytes to the decoders. Invariants: nothing
// panics; Range and the Consume functions agree on where each field ends and
// on whether the input is well formed; the fields tile the input; and
// re-encoding the walked fields canonically gives a message no longer than
// the input that is byte-identical to it exactly when it has the same length
// (so canonical input is reproduced byte for byte), decodes to the same
// fields, and is its own canonical form.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add(everyType(f))
	f.Add(nestedGroups(5))
	f.Add(nestedGroups(MaxGroupDepth + 1))
	f.Add([]byte{0x08, 0x80, 0x00})                                                 // non-minimal varint
	f.Add([]byte{0x88, 0x00, 0x01})                                                 // non-minimal tag
	f.Add([]byte{0x0b, 0x10, 0x01, 0x8c, 0x80, 0x00})                               // non-minimal end-group tag
	f.Add([]byte{0x0a, 0x81, 0x00, 0x78})                                           // non-minimal length
	f.Add([]byte{0x12, 0x03, 0x08, 0x96, 0x01})                                     // an embedded message
	f.Add([]byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}) // 10-byte varint
	f.Add([]byte{0x0c})
	f.Add([]byte{0x0e, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		var fields []Field
		err := Range(in, func(f Field) error {
			fields = append(fields, f)
			return nil
		})

		// Walk the same input with ConsumeTag and ConsumeFieldValue.
		off, i := 0, 0
		var consumeErr error
		for off < len(in) {
			num, typ, n := ConsumeTag(in[off:])
			if n < 0 {
				consumeErr = ParseError(n)
				break
			}
			m := ConsumeFieldValue(num, typ, in[off+n:])
			if m < 0 {
				consumeErr = ParseError(m)
				break
			}
			if i >= len(fields) || fields[i].Num != num || fields[i].Type != typ || len(fields[i].Raw) != n+m {
				t.Fatalf("field %d at offset %d: Consume says %d %v of %d bytes, Range disagrees", i, off, num, typ, n+m)
			}
			off += n + m
			i++
		}
		if i != len(fields) {
			t.Fatalf("Range passed %d fields, the Consume walk found %d", len(fields), i)
		}
		if (err == nil) != (consumeErr == nil) || (err != nil && !errors.Is(err, consumeErr)) {
			t.Fatalf("Range error %v, Consume walk error %v", err, consumeErr)
		}
		if err != nil {
			return
		}
		if off != len(in) {
			t.Fatalf("fields cover %d of %d bytes", off, len(in))
		}

		enc, err := canonical(in)
		if err != nil {
			t.Fatalf("canonical: %v", err)
		}
		if len(enc) > len(in) {
			t.Fatalf("canonical form is longer (%d) than the input (%d)", len(enc), len(in))
		}
		if (len(enc) == len(in)) != bytes.Equal(enc, in) {
			t.Fatalf("canonical form has the input's length but not its bytes:\n in % x\nenc % x", in, enc)
		}
		again, err := canonical(enc)
		if err != nil || !bytes.Equal(again, enc) {
			t.Fatalf("canonical form is not a fixed point: %v\nenc   % x\nagain % x", err, enc, again)
		}
		encFields, err := collect(t, enc)
		if err != nil || len(encFields) != len(fields) {
			t.Fatalf("canonical form decodes to %d fields (%v), want %d", len(encFields), err, len(fields))
		}
		for i, g := range encFields {
			w := fields[i]
			if g.Num != w.Num || g.Type != w.Type || g.Bits != w.Bits || (w.Type == TypeLen && !bytes.Equal(g.Bytes, w.Bytes)) {
				t.Fatalf("field %d: canonical %+v, input %+v", i, g, w)
			}
		}
	})
}

func TestCanonicalInputIsReproduced(t *testing.T) {
	for _, b := range [][]byte{everyType(t), nestedGroups(MaxGroupDepth), AppendBytesField(nil, 1, make([]byte, 300))} {
		enc, err := canonical(b)
		if err != nil || !bytes.Equal(enc, b) {
			t.Errorf("canonical(% x) = % x, %v", b, enc, err)
		}
	}
}
