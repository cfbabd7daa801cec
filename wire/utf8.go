package wire

import "unicode/utf8"

// ValidUTF8 reports whether s is valid UTF-8, as utf8.Valid and
// utf8.ValidString do. Generated messages call it for every string field
// they write or read, and such strings are mostly short and ASCII, so it
// first ORs s together eight bytes at a time, with no branch per word, and
// tests the high bits once; only a string holding a byte of 0x80 or more is
// then checked rune by rune by package utf8.
func ValidUTF8[T string | []byte](s T) bool {
	var acc uint64
	if n := len(s); n >= 8 {
		acc = word(s[n-8:]) // the tail, overlapping the last full word
		for i := 0; i < n-8; i += 8 {
			acc |= word(s[i:])
		}
	} else {
		for i := 0; i < n; i++ {
			acc |= uint64(s[i])
		}
	}
	if acc&0x8080808080808080 == 0 {
		return true
	}
	switch x := any(s).(type) {
	case string:
		return utf8.ValidString(x)
	case []byte:
		return utf8.Valid(x)
	}
	return false // unreachable: T is string or []byte
}

// word returns the first eight bytes of s as one little-endian word; the
// compiler turns the byte loads into a single load.
func word[T string | []byte](s T) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
