package wirecompat

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/h2rpc/h2rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
)

// edgeUint64s are every power of two, one either side, and some random
// values: all varint length boundaries.
func edgeUint64s() []uint64 {
	vs := []uint64{0, math.MaxUint64}
	for k := 0; k < 64; k++ {
		vs = append(vs, 1<<k-1, 1<<k, 1<<k+1)
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 1000 {
		vs = append(vs, r.Uint64()>>r.UintN(64))
	}
	return vs
}

func TestEncodersMatchProtowire(t *testing.T) {
	for _, v := range edgeUint64s() {
		if got, want := wire.AppendVarint(nil, v), protowire.AppendVarint(nil, v); !bytes.Equal(got, want) {
			t.Errorf("AppendVarint(%d) = % x, protowire % x", v, got, want)
		}
		if got, want := wire.SizeVarint(v), protowire.SizeVarint(v); got != want {
			t.Errorf("SizeVarint(%d) = %d, protowire %d", v, got, want)
		}
		s := int64(v)
		if got, want := wire.EncodeZigZag(s), protowire.EncodeZigZag(s); got != want {
			t.Errorf("EncodeZigZag(%d) = %d, protowire %d", s, got, want)
		}
		if got, want := wire.DecodeZigZag(v), protowire.DecodeZigZag(v); got != want {
			t.Errorf("DecodeZigZag(%d) = %d, protowire %d", v, got, want)
		}
		if got, want := wire.AppendFixed64(nil, v), protowire.AppendFixed64(nil, v); !bytes.Equal(got, want) {
			t.Errorf("AppendFixed64(%d) = % x, protowire % x", v, got, want)
		}
		if got, want := wire.AppendFixed32(nil, uint32(v)), protowire.AppendFixed32(nil, uint32(v)); !bytes.Equal(got, want) {
			t.Errorf("AppendFixed32(%d) = % x, protowire % x", uint32(v), got, want)
		}
	}
	for _, num := range []wire.Number{1, 2, 15, 16, 2047, 2048, 19000, 19999, 262143, 262144, wire.MaxNumber - 1, wire.MaxNumber} {
		for typ := wire.TypeVarint; typ <= wire.TypeI32; typ++ {
			got := wire.AppendTag(nil, num, typ)
			want := protowire.AppendTag(nil, protowire.Number(num), protowire.Type(typ))
			if !bytes.Equal(got, want) {
				t.Errorf("AppendTag(%d, %v) = % x, protowire % x", num, typ, got, want)
			}
		}
		if got, want := wire.SizeTag(num), protowire.SizeTag(protowire.Number(num)); got != want {
			t.Errorf("SizeTag(%d) = %d, protowire %d", num, got, want)
		}
	}
	if got, want := wire.MaxNumber, wire.Number(protowire.MaxValidNumber); got != want {
		t.Errorf("MaxNumber = %d, protowire %d", got, want)
	}
	for _, n := range []int{0, 1, 127, 128, 16383, 16384, 1 << 21} {
		v := bytes.Repeat([]byte{'b'}, n)
		if got, want := wire.AppendBytes(nil, v), protowire.AppendBytes(nil, v); !bytes.Equal(got, want) {
			t.Errorf("AppendBytes(%d bytes) differs", n)
		}
		if got, want := wire.AppendString(nil, string(v)), protowire.AppendString(nil, string(v)); !bytes.Equal(got, want) {
			t.Errorf("AppendString(%d bytes) differs", n)
		}
		if got, want := wire.SizeBytes(n), protowire.SizeBytes(n); got != want {
			t.Errorf("SizeBytes(%d) = %d, protowire %d", n, got, want)
		}
	}
}

// protowireErrors maps protowire's parse errors to ours, by message: the
// codes are internal to both packages, the categories are the same.
var protowireErrors = map[string]error{
	"unexpected EOF":                   wire.ErrTruncated,
	"invalid field number":             wire.ErrFieldNumber,
	"variable length integer overflow": wire.ErrOverflow,
	"cannot parse reserved wire type":  wire.ErrWireType,
	"mismatching end group marker":     wire.ErrEndGroup,
	"parse error":                      wire.ErrDepth, // recursion depth
}

// protowireError returns our error for protowire's error code m.
func protowireError(m int) error {
	// protobuf-go prefixes "proto:" and, to discourage exactly this kind of
	// matching, a space that is randomly U+0020 or U+00A0.
	msg := strings.TrimLeft(strings.TrimPrefix(protowire.ParseError(m).Error(), "proto:"), " \u00a0")
	err, ok := protowireErrors[msg]
	if !ok {
		panic("unmapped protowire error: " + protowire.ParseError(m).Error())
	}
	return err
}

// sameOutcome compares our n with protowire's m for one Consume call: equal
// lengths, or both negative with errors of the same category.
func sameOutcome(t *testing.T, what string, in []byte, n, m int) {
	t.Helper()
	if n >= 0 || m >= 0 {
		if n != m {
			t.Fatalf("%s(% x): wire n=%d (%v), protowire n=%d (%v)", what, in, n, wire.ParseError(n), m, protowire.ParseError(m))
		}
		return
	}
	want := protowireError(m)
	if !errors.Is(wire.ParseError(n), want) {
		t.Fatalf("%s(% x): wire error %v, protowire error %v", what, in, wire.ParseError(n), protowire.ParseError(m))
	}
}

// exceptional reports whether b, a message, holds something on which wire
// is deliberately stricter than protowire: a field number above MaxNumber
// (protowire's ConsumeTag accepts up to 2^31-1) or groups nested deeper than
// wire.MaxGroupDepth (protowire allows 10,000). It walks b with protowire's
// own functions.
func exceptional(b []byte, depth int) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		if num > protowire.MaxValidNumber {
			return true
		}
		b = b[n:]
		if typ == protowire.StartGroupType {
			if depth+1 > wire.MaxGroupDepth {
				return true
			}
			// Walk the group's fields one level down.
			body, m := protowire.ConsumeGroup(num, b)
			if m < 0 {
				return exceptional(b, depth+1) // the error may lie behind an exception
			}
			if exceptional(body, depth+1) {
				return true
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return false
		}
		b = b[m:]
	}
	return false
}

// FuzzConsumeVsProtowire is a differential fuzz target: every Consume
// function, and a whole-message walk, must agree with protowire on the
// value, the length and the category of error, except where wire is
// documented to be stricter (see exceptional).
func FuzzConsumeVsProtowire(f *testing.F) {
	for _, v := range []uint64{0, 127, 128, 1 << 63, math.MaxUint64} {
		f.Add(protowire.AppendVarint(nil, v))
	}
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02})
	f.Add([]byte{0x0b, 0x10, 0x01, 0x8c, 0x80, 0x00})
	f.Add([]byte{0x0b, 0x13, 0x1c, 0x0c})
	f.Add([]byte{0x0a, 0x03, 0x08, 0x96, 0x01, 0x0e})
	f.Add([]byte{0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00}) // field 2^29+..., beyond MaxNumber
	f.Add(bytes.Repeat([]byte{0x0b}, 120))
	f.Fuzz(func(t *testing.T, in []byte) {
		v, n := wire.ConsumeVarint(in)
		pv, m := protowire.ConsumeVarint(in)
		sameOutcome(t, "ConsumeVarint", in, n, m)
		if n >= 0 && v != pv {
			t.Fatalf("ConsumeVarint(% x) = %d, protowire %d", in, v, pv)
		}

		u32, n := wire.ConsumeFixed32(in)
		pu32, m := protowire.ConsumeFixed32(in)
		sameOutcome(t, "ConsumeFixed32", in, n, m)
		if u32 != pu32 {
			t.Fatalf("ConsumeFixed32(% x) = %d, protowire %d", in, u32, pu32)
		}
		u64, n := wire.ConsumeFixed64(in)
		pu64, m := protowire.ConsumeFixed64(in)
		sameOutcome(t, "ConsumeFixed64", in, n, m)
		if u64 != pu64 {
			t.Fatalf("ConsumeFixed64(% x) = %d, protowire %d", in, u64, pu64)
		}
		bs, n := wire.ConsumeBytes(in)
		pbs, m := protowire.ConsumeBytes(in)
		sameOutcome(t, "ConsumeBytes", in, n, m)
		if !bytes.Equal(bs, pbs) {
			t.Fatalf("ConsumeBytes(% x) = % x, protowire % x", in, bs, pbs)
		}

		num, typ, n := wire.ConsumeTag(in)
		pnum, ptyp, m := protowire.ConsumeTag(in)
		switch {
		case n >= 0:
			if m != n || protowire.Number(num) != pnum || protowire.Type(typ) != ptyp {
				t.Fatalf("ConsumeTag(% x) = %d %v %d, protowire %d %d %d", in, num, typ, n, pnum, ptyp, m)
			}
		case m >= 0 && errors.Is(wire.ParseError(n), wire.ErrFieldNumber) && pnum > protowire.MaxValidNumber:
			// Stricter by design: numbers above 2^29-1 do not fit a tag.
		case m >= 0 && errors.Is(wire.ParseError(n), wire.ErrWireType) && ptyp > 5:
			// Stricter by design: protowire rejects types 6 and 7 later, in ConsumeFieldValue.
		default:
			sameOutcome(t, "ConsumeTag", in, n, m)
		}

		// Depth 1: ConsumeGroup below reads the input as a group's body.
		if exceptional(in, 1) {
			return
		}
		// Values of every wire type, under field number 1 (groups end with
		// 0x0c).
		for typ := wire.Type(0); typ <= 7; typ++ {
			n := wire.ConsumeFieldValue(1, typ, in)
			m := protowire.ConsumeFieldValue(1, protowire.Type(typ), in)
			sameOutcome(t, "ConsumeFieldValue("+typ.String()+")", in, n, m)
		}
		body, n := wire.ConsumeGroup(1, in)
		pbody, m := protowire.ConsumeGroup(1, in)
		sameOutcome(t, "ConsumeGroup", in, n, m)
		if !bytes.Equal(body, pbody) {
			t.Fatalf("ConsumeGroup(% x) body % x, protowire % x", in, body, pbody)
		}

		// The whole input as a message: Range against protowire.ConsumeField.
		off := 0
		err := wire.Range(in, func(f wire.Field) error {
			pnum, ptyp, m := protowire.ConsumeField(in[off:])
			if m < 0 {
				t.Fatalf("field at %d: wire read %d %v, protowire failed: %v", off, f.Num, f.Type, protowire.ParseError(m))
			}
			if protowire.Number(f.Num) != pnum || protowire.Type(f.Type) != ptyp || len(f.Raw) != m {
				t.Fatalf("field at %d: wire %d %v %d bytes, protowire %d %d %d bytes", off, f.Num, f.Type, len(f.Raw), pnum, ptyp, m)
			}
			off += m
			return nil
		})
		if err == nil {
			if off != len(in) {
				t.Fatalf("Range stopped at %d of %d without error", off, len(in))
			}
			return
		}
		_, _, m = protowire.ConsumeField(in[off:])
		if m >= 0 {
			t.Fatalf("Range failed at %d (%v), protowire read a %d-byte field there", off, err, m)
		}
		if want := protowireError(m); !errors.Is(err, want) {
			t.Fatalf("Range error %v, protowire %v", err, protowire.ParseError(m))
		}
	})
}
