package wire

import "unicode/utf8"

// ValidUTF8 reports whether s is valid UTF-8, as utf8.Valid and
// utf8.ValidString do. Generated messages call it for every string field
// they read, and such strings are mostly short and ASCII, so it tests
// ASCII first; only a string holding a byte of 0x80 or more is then checked
// rune by rune by package utf8.
func ValidUTF8[T string | []byte](s T) bool {
	if ASCII(s) {
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

// ASCII reports whether every byte of s is below 0x80, which makes s valid
// UTF-8. It ORs s together eight bytes at a time, with no branch per word,
// and tests the high bits once. Generated AppendWire methods call it on
// every checked string field of a message before writing any, and call
// ValidUTF8 on a field only when one of them is not ASCII.
func ASCII[T string | []byte](s T) bool {
	var acc uint64
	// Overlapping words by size class, as memmove copies: for a string of
	// up to 64 bytes no loop, so no exit branch to mispredict; the words
	// are ORed as a tree, not a chain, so the ORs do not wait on each other.
	switch n := len(s); {
	case n < 8:
		for i := 0; i < n; i++ {
			acc |= uint64(s[i])
		}
	case n <= 16:
		acc = word(s) | word(s[n-8:])
	case n <= 32:
		acc = (word(s) | word(s[8:])) | (word(s[n-16:]) | word(s[n-8:]))
	case n <= 64:
		acc = ((word(s) | word(s[8:])) | (word(s[16:]) | word(s[24:]))) |
			((word(s[n-32:]) | word(s[n-24:])) | (word(s[n-16:]) | word(s[n-8:])))
	default:
		acc = word(s[n-8:]) // the tail, overlapping the last full word
		for i := 0; i < n-8; i += 8 {
			acc |= word(s[i:])
		}
	}
	return acc&0x8080808080808080 == 0
}

// word returns the first eight bytes of s as one little-endian word; the
// compiler turns the byte loads into a single load.
func word[T string | []byte](s T) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
