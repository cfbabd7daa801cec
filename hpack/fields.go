package hpack

import "strconv"

// pseudo-header bits for checker.seen.
const (
	pseudoMethod uint8 = 1 << iota
	pseudoScheme
	pseudoAuthority
	pseudoPath
	pseudoStatus
)

// checker applies the RFC 9113 §8.2 and §8.3 rules to one block's fields as
// they are decoded. The zero value with kind set is ready to use.
type checker struct {
	kind    Kind
	regular bool  // a regular field has been seen
	seen    uint8 // pseudo-header fields seen
	method  string
	scheme  string
	path    string
}

func malformed(reason string) error { return &MalformedError{Reason: reason} }

// field checks one field in block order.
func (c *checker) field(f Field) error {
	if len(f.Name) == 0 {
		// RFC 9110 §5.1: a field name is a token, at least one character.
		return malformed("empty field name (RFC 9110 §5.1)")
	}
	if f.Name[0] == ':' {
		if err := c.pseudo(f); err != nil {
			return err
		}
	} else {
		if err := c.regularField(f); err != nil {
			return err
		}
	}
	// RFC 9113 §8.2.1: "A field value MUST NOT contain the zero value (ASCII
	// NUL, 0x00), line feed (ASCII LF, 0x0a), or carriage return (ASCII CR,
	// 0x0d) at any position." and "A field value MUST NOT start or end with
	// an ASCII whitespace character (ASCII SP or HTAB, 0x20 or 0x09)."
	if !validValue(f.Value) {
		return malformed("invalid character in the value of " + quoteName(f.Name) + " (RFC 9113 §8.2.1)")
	}
	return nil
}

func (c *checker) pseudo(f Field) error {
	// RFC 9113 §8.3: "Pseudo-header fields MUST NOT appear in a trailer
	// section."
	if c.kind == Trailers {
		return malformed("pseudo-header field " + quoteName(f.Name) + " in trailers (RFC 9113 §8.3)")
	}
	// RFC 9113 §8.3: "All pseudo-header fields MUST appear in a field block
	// before all regular field lines. Any request or response that contains
	// a pseudo-header field that appears in a field block after a regular
	// field line MUST be treated as malformed."
	if c.regular {
		return malformed("pseudo-header field " + quoteName(f.Name) + " after a regular field (RFC 9113 §8.3)")
	}
	// RFC 9113 §8.3: "Pseudo-header fields defined for requests MUST NOT
	// appear in responses; pseudo-header fields defined for responses MUST
	// NOT appear in requests." and "Endpoints MUST treat a request or
	// response that contains undefined or invalid pseudo-header fields as
	// malformed."
	var bit uint8
	switch c.kind {
	case Request:
		switch f.Name {
		case ":method":
			bit = pseudoMethod
			c.method = f.Value
			// RFC 9113 §8.3.1: requests "MUST include exactly one valid
			// value for the :method, :scheme, and :path pseudo-header
			// fields"; RFC 9110 §9.1: method = token.
			if !validToken(f.Value) {
				return malformed(":method " + quoteName(f.Value) + " is not a token (RFC 9113 §8.3.1, RFC 9110 §9.1)")
			}
		case ":scheme":
			bit = pseudoScheme
			c.scheme = f.Value
			// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
			if !validScheme(f.Value) {
				return malformed(":scheme " + quoteName(f.Value) + " is not a URI scheme (RFC 9113 §8.3.1, RFC 3986 §3.1)")
			}
		case ":authority":
			bit = pseudoAuthority
		case ":path":
			bit = pseudoPath
			c.path = f.Value
		}
	case Response:
		if f.Name == ":status" {
			bit = pseudoStatus
			// RFC 9110 §15: "The status code of a response is a
			// three-digit integer code".
			if !validStatus(f.Value) {
				return malformed(":status " + strconv.Quote(truncate(f.Value)) + " is not a three-digit code (RFC 9110 §15)")
			}
		}
	}
	if bit == 0 {
		return malformed("pseudo-header field " + quoteName(f.Name) + " not defined for a " + c.kind.String() + " (RFC 9113 §8.3)")
	}
	// RFC 9113 §8.3: "The same pseudo-header field name MUST NOT appear more
	// than once in a field block. A field block for an HTTP request or
	// response that contains a repeated pseudo-header field name MUST be
	// treated as malformed."
	if c.seen&bit != 0 {
		return malformed("repeated pseudo-header field " + quoteName(f.Name) + " (RFC 9113 §8.3)")
	}
	c.seen |= bit
	return nil
}

func (c *checker) regularField(f Field) error {
	c.regular = true
	for i := 0; i < len(f.Name); i++ {
		switch b := f.Name[i]; {
		case 'A' <= b && b <= 'Z':
			// RFC 9113 §8.2: "Field names MUST be converted to
			// lowercase when constructing an HTTP/2 message." §8.2.1
			// excludes 0x41-0x5a from names: "A request or response
			// that contains a field that violates any of these
			// conditions MUST be treated as malformed".
			return malformed("uppercase character in field name " + quoteName(f.Name) + " (RFC 9113 §8.2, §8.2.1)")
		case b <= 0x20 || b >= 0x7f:
			// RFC 9113 §8.2.1: "A field name MUST NOT contain characters
			// in the ranges 0x00-0x20, 0x41-0x5a, or 0x7f-0xff (all
			// ranges inclusive)."
			return malformed("invalid character in field name " + quoteName(f.Name) + " (RFC 9113 §8.2.1)")
		case b == ':':
			// RFC 9113 §8.2.1: "With the exception of pseudo-header
			// fields (Section 8.3), which have a name that starts with a
			// single colon, field names MUST NOT include a colon (ASCII
			// COLON, 0x3a)."
			return malformed("colon in field name " + quoteName(f.Name) + " (RFC 9113 §8.2.1)")
		}
	}
	switch f.Name {
	case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
		// RFC 9113 §8.2.2: "An endpoint MUST NOT generate an HTTP/2
		// message containing connection-specific header fields. ... Any
		// message containing connection-specific header fields MUST be
		// treated as malformed."
		return malformed("connection-specific field " + quoteName(f.Name) + " (RFC 9113 §8.2.2)")
	case "te":
		// RFC 9113 §8.2.2: "The only exception to this is the TE header
		// field, which MAY be present in an HTTP/2 request; when it is, it
		// MUST NOT contain any value other than "trailers"."
		if f.Value != "trailers" {
			return malformed(`te field with a value other than "trailers" (RFC 9113 §8.2.2)`)
		}
	}
	return nil
}

// finish checks the rules that need the whole block.
func (c *checker) finish() error {
	switch c.kind {
	case Request:
		if c.method == "CONNECT" {
			// RFC 9113 §8.5: "The :scheme and :path pseudo-header fields
			// MUST be omitted." and "The :authority pseudo-header field
			// contains the host and port to connect to"; "A CONNECT
			// request that does not conform to these restrictions is
			// malformed."
			if c.seen&(pseudoScheme|pseudoPath) != 0 {
				return malformed("CONNECT request with :scheme or :path (RFC 9113 §8.5)")
			}
			if c.seen&pseudoAuthority == 0 {
				return malformed("CONNECT request without :authority (RFC 9113 §8.5)")
			}
			return nil
		}
		// RFC 9113 §8.3.1: "All HTTP/2 requests MUST include exactly one
		// valid value for the :method, :scheme, and :path pseudo-header
		// fields, unless they are CONNECT requests (Section 8.5). An HTTP
		// request that omits mandatory pseudo-header fields is malformed."
		const required = pseudoMethod | pseudoScheme | pseudoPath
		if c.seen&required != required {
			return malformed("request without :method, :scheme or :path (RFC 9113 §8.3.1)")
		}
		// RFC 9113 §8.3.1: ":path ... This pseudo-header field MUST NOT
		// be empty for "http" or "https" URIs".
		if c.path == "" && (c.scheme == "http" || c.scheme == "https") {
			return malformed("empty :path for an http or https URI (RFC 9113 §8.3.1)")
		}
	case Response:
		// RFC 9113 §8.3.2: "This pseudo-header field MUST be included in
		// all responses, including interim responses; otherwise, the
		// response is malformed".
		if c.seen&pseudoStatus == 0 {
			return malformed("response without :status (RFC 9113 §8.3.2)")
		}
	}
	return nil
}

// validValue reports whether v follows RFC 9113 §8.2.1: no NUL, CR or LF,
// and no SP or HTAB at either end.
func validValue(v string) bool {
	if v == "" {
		return true
	}
	if isSpaceOrTab(v[0]) || isSpaceOrTab(v[len(v)-1]) {
		return false
	}
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case 0, '\r', '\n':
			return false
		}
	}
	return true
}

func isSpaceOrTab(b byte) bool { return b == ' ' || b == '\t' }

// validToken reports whether s is an RFC 9110 §5.6.2 token: one or more
// tchar.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if isAlpha(b) || isDigit(b) {
			continue
		}
		switch b {
		case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
			continue
		}
		return false
	}
	return true
}

// validScheme reports whether s is an RFC 3986 §3.1 scheme.
func validScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if b := s[i]; !isAlpha(b) && !isDigit(b) && b != '+' && b != '-' && b != '.' {
			return false
		}
	}
	return true
}

func isAlpha(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }

func validStatus(v string) bool {
	return len(v) == 3 && '1' <= v[0] && v[0] <= '9' && isDigit(v[1]) && isDigit(v[2])
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// quoteName quotes a (possibly hostile, possibly long) name for an error.
func quoteName(s string) string { return strconv.Quote(truncate(s)) }

func truncate(s string) string {
	const limit = 64
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}
