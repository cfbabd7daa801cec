package rpc

import (
	"errors"
	"math"
	"strconv"
	"time"
)

// The grpc-timeout header: "Timeout → "grpc-timeout" TimeoutValue
// TimeoutUnit", "TimeoutValue → {positive integer as ASCII string of at most
// 8 digits}", units H, M, S, m, u, n (PROTOCOL-HTTP2.md, Requests).

const maxTimeoutValue = 99999999 // the largest 8-digit value

var timeoutUnits = [...]struct {
	unit time.Duration
	name byte
}{
	{time.Nanosecond, 'n'},
	{time.Microsecond, 'u'},
	{time.Millisecond, 'm'},
	{time.Second, 'S'},
	{time.Minute, 'M'},
	{time.Hour, 'H'},
}

// appendTimeout appends the grpc-timeout value for d: the finest unit whose
// value fits in 8 digits. The value is truncated in that unit, so the server
// never gets more time than the client has; the error is below one part in
// 10^7 whenever the unit is coarser than nanoseconds. d must be positive;
// a d beyond 99999999 hours is sent as that maximum.
func appendTimeout(b []byte, d time.Duration) []byte {
	if d <= 0 {
		d = 1 // callers check; never send a non-positive value
	}
	for _, u := range timeoutUnits {
		if v := d / u.unit; v <= maxTimeoutValue {
			b = strconv.AppendInt(b, int64(v), 10)
			return append(b, u.name)
		}
	}
	b = strconv.AppendInt(b, maxTimeoutValue, 10)
	return append(b, 'H')
}

func encodeTimeout(d time.Duration) string { return string(appendTimeout(make([]byte, 0, 9), d)) }

var errBadTimeout = errors.New("malformed grpc-timeout")

// decodeTimeout parses a grpc-timeout value. It accepts 1 to 8 ASCII digits
// and one unit; anything else is an error. A value too large for a
// time.Duration (only possible in hours) saturates.
func decodeTimeout(s string) (time.Duration, error) {
	if len(s) < 2 || len(s) > 9 {
		return 0, errBadTimeout
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, errBadTimeout
	}
	var v int64
	for i := 0; i < len(s)-1; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errBadTimeout
		}
		v = v*10 + int64(c-'0')
	}
	if v > math.MaxInt64/int64(unit) {
		return math.MaxInt64, nil
	}
	return time.Duration(v) * unit, nil
}
