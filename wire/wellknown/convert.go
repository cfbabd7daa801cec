package wellknown

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/h2rpc/h2rpc/wire"
)

// The range google.protobuf.Timestamp allows: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z.
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
	// maxDurationSeconds is about 10,000 years, google.protobuf.Duration's
	// bound.
	maxDurationSeconds = 315576000000
)

// NewTimestamp returns the Timestamp of t.
func NewTimestamp(t time.Time) *Timestamp {
	return &Timestamp{Seconds: t.Unix(), Nanos: int32(t.Nanosecond())}
}

// AsTime returns x as a time.Time in UTC. A nil x is the Unix epoch. It does
// not check that x is valid (see CheckValid).
func (x *Timestamp) AsTime() time.Time {
	return time.Unix(x.GetSeconds(), int64(x.GetNanos())).UTC()
}

// CheckValid reports whether x is within the range a Timestamp allows, with
// nanoseconds in [0, 1e9).
func (x *Timestamp) CheckValid() error {
	sec, nanos := x.GetSeconds(), x.GetNanos()
	switch {
	case x == nil:
		return errors.New("wellknown: invalid nil Timestamp")
	case sec < minTimestampSeconds:
		return fmt.Errorf("wellknown: Timestamp %d before 0001-01-01", sec)
	case sec > maxTimestampSeconds:
		return fmt.Errorf("wellknown: Timestamp %d after 9999-12-31", sec)
	case nanos < 0 || nanos >= 1e9:
		return fmt.Errorf("wellknown: Timestamp has out-of-range nanos %d", nanos)
	}
	return nil
}

// NewDuration returns the Duration of d.
func NewDuration(d time.Duration) *Duration {
	nanos := d.Nanoseconds()
	return &Duration{Seconds: nanos / 1e9, Nanos: int32(nanos % 1e9)}
}

// AsDuration returns x as a time.Duration, saturating at the bounds of
// time.Duration (about ±292 years) if x is longer. A nil x is 0.
func (x *Duration) AsDuration() time.Duration {
	sec, nanos := x.GetSeconds(), int64(x.GetNanos())
	d := time.Duration(sec) * time.Second
	if d/time.Second != time.Duration(sec) {
		// Overflow: saturate in the direction of the sign.
		if sec < 0 {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	sum := d + time.Duration(nanos)
	if nanos > 0 && sum < d {
		return math.MaxInt64
	}
	if nanos < 0 && sum > d {
		return math.MinInt64
	}
	return sum
}

// CheckValid reports whether x is within the range a Duration allows, with
// seconds and nanos of the same sign and |nanos| < 1e9.
func (x *Duration) CheckValid() error {
	sec, nanos := x.GetSeconds(), x.GetNanos()
	switch {
	case x == nil:
		return errors.New("wellknown: invalid nil Duration")
	case sec < -maxDurationSeconds || sec > maxDurationSeconds:
		return fmt.Errorf("wellknown: Duration of %d seconds out of range", sec)
	case nanos <= -1e9 || nanos >= 1e9:
		return fmt.Errorf("wellknown: Duration has out-of-range nanos %d", nanos)
	case sec > 0 && nanos < 0 || sec < 0 && nanos > 0:
		return fmt.Errorf("wellknown: Duration has seconds and nanos of different signs")
	}
	return nil
}

// The type URL prefix of Any values that protobuf-go and grpc-go write.
const typeURLPrefix = "type.googleapis.com/"

// NewAny packs m, a message of the full protobuf name fullName (such as
// "google.rpc.ErrorInfo"), into an Any. A wire.Message does not know its own
// name, so the caller says it.
func NewAny(fullName string, m wire.Message) (*Any, error) {
	b, err := m.AppendWire(nil)
	if err != nil {
		return nil, fmt.Errorf("wellknown: packing %s into Any: %w", fullName, err)
	}
	return &Any{TypeUrl: typeURLPrefix + fullName, Value: b}, nil
}

// MessageName returns the full name of the message x holds: its type URL
// after the last '/'.
func (x *Any) MessageName() string {
	url := x.GetTypeUrl()
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		return url[i+1:]
	}
	return url
}

// UnmarshalTo decodes the message x holds into m, which must be of the
// type x names (MessageName); nothing checks that it is.
func (x *Any) UnmarshalTo(m wire.Message) error {
	return m.UnmarshalWire(x.GetValue())
}

// Constructors of the wrapper types.

// Double returns a DoubleValue holding v.
func Double(v float64) *DoubleValue { return &DoubleValue{Value: v} }

// Float returns a FloatValue holding v.
func Float(v float32) *FloatValue { return &FloatValue{Value: v} }

// Int64 returns an Int64Value holding v.
func Int64(v int64) *Int64Value { return &Int64Value{Value: v} }

// UInt64 returns a UInt64Value holding v.
func UInt64(v uint64) *UInt64Value { return &UInt64Value{Value: v} }

// Int32 returns an Int32Value holding v.
func Int32(v int32) *Int32Value { return &Int32Value{Value: v} }

// UInt32 returns a UInt32Value holding v.
func UInt32(v uint32) *UInt32Value { return &UInt32Value{Value: v} }

// Bool returns a BoolValue holding v.
func Bool(v bool) *BoolValue { return &BoolValue{Value: v} }

// String returns a StringValue holding v.
func String(v string) *StringValue { return &StringValue{Value: v} }

// Bytes returns a BytesValue holding v.
func Bytes(v []byte) *BytesValue { return &BytesValue{Value: v} }

// NewValue returns the Value of a Go value as encoding/json would see it:
// nil, bool, a number (every Go integer and float type), string, []byte
// (base64, as JSON carries bytes), map[string]any and []any, nested.
func NewValue(v any) (*Value, error) {
	switch v := v.(type) {
	case nil:
		return &Value{Kind: &Value_NullValue{NullValue: NullValue_NULL_VALUE}}, nil
	case bool:
		return &Value{Kind: &Value_BoolValue{BoolValue: v}}, nil
	case int:
		return number(float64(v)), nil
	case int8:
		return number(float64(v)), nil
	case int16:
		return number(float64(v)), nil
	case int32:
		return number(float64(v)), nil
	case int64:
		return number(float64(v)), nil
	case uint:
		return number(float64(v)), nil
	case uint8:
		return number(float64(v)), nil
	case uint16:
		return number(float64(v)), nil
	case uint32:
		return number(float64(v)), nil
	case uint64:
		return number(float64(v)), nil
	case float32:
		return number(float64(v)), nil
	case float64:
		return number(v), nil
	case string:
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("wellknown: NewValue: %w", wire.ErrInvalidUTF8)
		}
		return &Value{Kind: &Value_StringValue{StringValue: v}}, nil
	case []byte:
		return &Value{Kind: &Value_StringValue{StringValue: base64.StdEncoding.EncodeToString(v)}}, nil
	case map[string]any:
		s, err := NewStruct(v)
		if err != nil {
			return nil, err
		}
		return &Value{Kind: &Value_StructValue{StructValue: s}}, nil
	case []any:
		l, err := NewList(v)
		if err != nil {
			return nil, err
		}
		return &Value{Kind: &Value_ListValue{ListValue: l}}, nil
	}
	return nil, fmt.Errorf("wellknown: NewValue: invalid type %T", v)
}

func number(f float64) *Value { return &Value{Kind: &Value_NumberValue{NumberValue: f}} }

// NewStruct returns the Struct of m (see NewValue).
func NewStruct(m map[string]any) (*Struct, error) {
	s := &Struct{Fields: make(map[string]*Value, len(m))}
	for k, v := range m {
		if !utf8.ValidString(k) {
			return nil, fmt.Errorf("wellknown: NewStruct: key: %w", wire.ErrInvalidUTF8)
		}
		x, err := NewValue(v)
		if err != nil {
			return nil, err
		}
		s.Fields[k] = x
	}
	return s, nil
}

// NewList returns the ListValue of l (see NewValue).
func NewList(l []any) (*ListValue, error) {
	x := &ListValue{Values: make([]*Value, len(l))}
	for i, v := range l {
		var err error
		if x.Values[i], err = NewValue(v); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// AsInterface returns x as a Go value: nil, bool, float64, string,
// map[string]any or []any. A Value with no kind set is nil.
func (x *Value) AsInterface() any {
	switch k := x.GetKind().(type) {
	case *Value_BoolValue:
		return k.BoolValue
	case *Value_NumberValue:
		return k.NumberValue
	case *Value_StringValue:
		return k.StringValue
	case *Value_StructValue:
		return k.StructValue.AsMap()
	case *Value_ListValue:
		return k.ListValue.AsSlice()
	}
	return nil
}

// AsMap returns x as a map[string]any (see Value.AsInterface).
func (x *Struct) AsMap() map[string]any {
	m := make(map[string]any, len(x.GetFields()))
	for k, v := range x.GetFields() {
		m[k] = v.AsInterface()
	}
	return m
}

// AsSlice returns x as a []any (see Value.AsInterface).
func (x *ListValue) AsSlice() []any {
	s := make([]any, len(x.GetValues()))
	for i, v := range x.GetValues() {
		s[i] = v.AsInterface()
	}
	return s
}
