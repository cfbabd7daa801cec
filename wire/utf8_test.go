package wire_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/h2rpc/h2rpc/wire"
)

// ValidUTF8 agrees with package utf8, and ASCII with a byte-by-byte test,
// on every length around the word boundaries and size classes, with the bad
// or multi-byte sequence at every position.
func TestValidUTF8(t *testing.T) {
	inserts := []string{"", "é", "€", "𝄞", "\x80", "\xff", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}
	for n := 0; n <= 80; n++ { // the size classes of 8, 16, 32 and 64 bytes, and the loop past them
		for _, ins := range inserts {
			for at := 0; at <= n; at++ {
				s := strings.Repeat("a", at) + ins + strings.Repeat("b", n-at)
				want := utf8.ValidString(s)
				if got := wire.ValidUTF8(s); got != want {
					t.Errorf("ValidUTF8(%q) = %v, want %v", s, got, want)
				}
				if got := wire.ValidUTF8([]byte(s)); got != want {
					t.Errorf("ValidUTF8([]byte(%q)) = %v, want %v", s, got, want)
				}
				ascii := ins == "" || ins[0] < 0x80
				if got := wire.ASCII(s); got != ascii {
					t.Errorf("ASCII(%q) = %v, want %v", s, got, ascii)
				}
				if got := wire.ASCII([]byte(s)); got != ascii {
					t.Errorf("ASCII([]byte(%q)) = %v, want %v", s, got, ascii)
				}
			}
		}
	}
}

func TestValidUTF8Allocs(t *testing.T) {
	s := strings.Repeat("héllo wörld ", 8)
	b := []byte(s)
	ok := true
	if n := testing.AllocsPerRun(100, func() {
		ok = wire.ValidUTF8(s) && wire.ValidUTF8(b) && !wire.ValidUTF8(b[:2])
	}); n != 0 || !ok {
		t.Errorf("ValidUTF8: %v allocs, results ok=%v", n, ok)
	}
}

func FuzzValidUTF8(f *testing.F) {
	f.Add([]byte("Learned how HTTP/2 flow control windows work"))
	f.Add([]byte("h\xc3\xa9llo\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := wire.ValidUTF8(b), utf8.Valid(b); got != want {
			t.Errorf("ValidUTF8(%q) = %v, want %v", b, got, want)
		}
		if got, want := wire.ValidUTF8(string(b)), utf8.Valid(b); got != want {
			t.Errorf("ValidUTF8(string %q) = %v, want %v", b, got, want)
		}
		ascii := true
		for _, c := range b {
			ascii = ascii && c < 0x80
		}
		if got := wire.ASCII(b); got != ascii {
			t.Errorf("ASCII(%q) = %v, want %v", b, got, ascii)
		}
	})
}
