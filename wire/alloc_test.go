package wire

import (
	"testing"
)

// appendEveryType encodes the everyType message into b.
func appendEveryType(b []byte) []byte {
	b = AppendInt32Field(b, 1, -2)
	b = AppendDoubleField(b, 2, 1.5)
	b = AppendStringField(b, 3, "héllo")
	b = AppendTag(b, 4, TypeSGroup)
	b = AppendUint32Field(b, 5, 7)
	b = AppendTag(b, 4, TypeEGroup)
	b = AppendFloatField(b, 6, -0.25)
	b = AppendInt32Field(b, 1, 3)
	b = AppendSint64Field(b, 7, -300)
	b = AppendBytesField(b, 8, []byte("raw"))
	return b
}

func TestEncodeDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	m := rawMessage(make([]byte, 200)) // needs a 2-byte length: exercises the move
	allocs := testing.AllocsPerRun(100, func() {
		b := appendEveryType(buf[:0])
		b = AppendVarint(b, 1<<63)
		var err error
		if _, err = AppendMessageField(b[:0], 9, &m); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("encoding into a buffer with capacity: %v allocations, want 0", allocs)
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	b := appendEveryType(nil)
	groups := nestedGroups(3)[1:]
	var sum uint64
	allocs := testing.AllocsPerRun(100, func() {
		err := Range(b, func(f Field) error {
			sum += f.Bits + uint64(len(f.Bytes))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, n := ConsumeGroup(1, groups); n < 0 {
			t.Fatal(ParseError(n))
		}
	})
	if allocs != 0 {
		t.Errorf("Range: %v allocations, want 0", allocs)
	}
	if sum == 0 {
		t.Error("callback saw nothing")
	}
}

// BenchmarkAppend encodes a 10-field message into a reused buffer.
// Budget: 0 allocations.
func BenchmarkAppend(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendEveryType(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkRange walks the same message's fields.
// Budget: 0 allocations.
func BenchmarkRange(b *testing.B) {
	msg := appendEveryType(nil)
	var sum uint64
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		_ = Range(msg, func(f Field) error {
			sum += f.Bits
			return nil
		})
	}
	_ = sum
}
