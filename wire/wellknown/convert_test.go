package wellknown_test

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/wire/wellknown"
)

func TestTimestamp(t *testing.T) {
	for _, tm := range []time.Time{
		time.Unix(0, 0).UTC(),
		time.Date(2026, 12, 2, 2, 30, 0, 123456789, time.UTC),
		time.Date(1969, 7, 20, 20, 17, 40, 5, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		ts := wellknown.NewTimestamp(tm)
		if err := ts.CheckValid(); err != nil {
			t.Errorf("%v: %v", tm, err)
		}
		if got := ts.AsTime(); !got.Equal(tm) || got.Location() != time.UTC {
			t.Errorf("AsTime(NewTimestamp(%v)) = %v", tm, got)
		}
		b, err := ts.AppendWire(nil)
		if err != nil {
			t.Fatal(err)
		}
		var back wellknown.Timestamp
		if err := back.UnmarshalWire(b); err != nil || !back.Equal(ts) {
			t.Errorf("round trip of %v: %v, %v", tm, &back, err)
		}
	}
	if ts := wellknown.NewTimestamp(time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC)); ts.Seconds != -1 || ts.Nanos != 1 {
		t.Errorf("before the epoch: %+v, want nanos counted forward from a negative second", ts)
	}
	for _, bad := range []*wellknown.Timestamp{nil, {Seconds: -62135596801}, {Seconds: 253402300800}, {Nanos: -1}, {Nanos: 1e9}} {
		if bad.CheckValid() == nil {
			t.Errorf("CheckValid(%v) = nil", bad)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, d := range []time.Duration{0, 1, -1, time.Second, -1500 * time.Millisecond, math.MaxInt64, math.MinInt64} {
		x := wellknown.NewDuration(d)
		if err := x.CheckValid(); err != nil {
			t.Errorf("%v: %v", d, err)
		}
		if got := x.AsDuration(); got != d {
			t.Errorf("AsDuration(NewDuration(%v)) = %v", d, got)
		}
	}
	if got := (&wellknown.Duration{Seconds: 1 << 40}).AsDuration(); got != math.MaxInt64 {
		t.Errorf("a long Duration does not saturate: %v", got)
	}
	if got := (&wellknown.Duration{Seconds: -(1 << 40)}).AsDuration(); got != math.MinInt64 {
		t.Errorf("a long negative Duration does not saturate: %v", got)
	}
	for _, bad := range []*wellknown.Duration{nil, {Seconds: 1, Nanos: -1}, {Nanos: 1e9}, {Seconds: 315576000001}} {
		if bad.CheckValid() == nil {
			t.Errorf("CheckValid(%v) = nil", bad)
		}
	}
}

func TestAny(t *testing.T) {
	ts := wellknown.NewTimestamp(time.Unix(1700000000, 5))
	a, err := wellknown.NewAny("google.protobuf.Timestamp", ts)
	if err != nil {
		t.Fatal(err)
	}
	if a.TypeUrl != "type.googleapis.com/google.protobuf.Timestamp" || a.MessageName() != "google.protobuf.Timestamp" {
		t.Errorf("Any = %v", a)
	}
	var back wellknown.Timestamp
	if err := a.UnmarshalTo(&back); err != nil || !back.Equal(ts) {
		t.Errorf("UnmarshalTo = %v, %v", &back, err)
	}
	if _, err := wellknown.NewAny("x.Y", wellknown.String("\xff")); err == nil {
		t.Errorf("NewAny of an invalid message succeeded")
	}
}

func TestValue(t *testing.T) {
	in := map[string]any{"n": 1.5, "s": "x", "b": true, "z": nil, "l": []any{1.0, "two", map[string]any{}}, "m": map[string]any{"k": false}}
	s, err := wellknown.NewStruct(in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.AppendWire(nil)
	if err != nil {
		t.Fatal(err)
	}
	var back wellknown.Struct
	if err := back.UnmarshalWire(b); err != nil {
		t.Fatal(err)
	}
	if got := back.AsMap(); !reflect.DeepEqual(got, in) {
		t.Errorf("AsMap = %v, want %v", got, in)
	}
	if v, err := wellknown.NewValue(int64(3)); err != nil || v.AsInterface() != 3.0 {
		t.Errorf("NewValue(int64(3)) = %v, %v", v, err)
	}
	for _, bad := range []any{"\xff", struct{}{}, []any{make(chan int)}, map[string]any{"\xff": 1}} {
		if _, err := wellknown.NewValue(bad); err == nil {
			t.Errorf("NewValue(%#v) succeeded", bad)
		}
	}
}

func TestWrappers(t *testing.T) {
	if wellknown.String("s").Value != "s" || wellknown.Int64(-1).Value != -1 || !wellknown.Bool(true).Value ||
		wellknown.Double(1.5).Value != 1.5 || wellknown.Float(2).Value != 2 || wellknown.UInt64(3).Value != 3 ||
		wellknown.Int32(4).Value != 4 || wellknown.UInt32(5).Value != 5 || string(wellknown.Bytes([]byte("b")).Value) != "b" {
		t.Error("a wrapper constructor does not hold its value")
	}
}
