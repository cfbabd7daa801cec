package wiremsg_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/wire"
	"github.com/h2rpc/h2rpc/wire/wellknown"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// encodesAs checks that the wire message w and protobuf-go's p encode to
// the same bytes.
func encodesAs(t *testing.T, what string, w wire.Message, p proto.Message) {
	t.Helper()
	got, err := w.AppendWire(nil)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	want, err := deterministic.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got %x, protobuf-go %x", what, got, want)
	}
}

// The conversions give what protobuf-go's give.
func TestWellKnownConversions(t *testing.T) {
	for _, tm := range []time.Time{time.Unix(0, 0), time.Date(2026, 12, 2, 2, 30, 0, 123456789, time.UTC), time.Date(1969, 7, 20, 20, 17, 40, 5, time.FixedZone("x", 3600))} {
		encodesAs(t, "Timestamp "+tm.String(), wellknown.NewTimestamp(tm), timestamppb.New(tm))
		if got, want := wellknown.NewTimestamp(tm).AsTime(), timestamppb.New(tm).AsTime(); !got.Equal(want) || got.Location() != want.Location() {
			t.Errorf("AsTime = %v, protobuf-go %v", got, want)
		}
	}
	for _, d := range []time.Duration{0, -1, 1500 * time.Millisecond, -1500 * time.Millisecond, math.MaxInt64, math.MinInt64} {
		encodesAs(t, "Duration "+d.String(), wellknown.NewDuration(d), durationpb.New(d))
	}
	for _, d := range []*durationpb.Duration{{Seconds: 1 << 40}, {Seconds: -(1 << 40)}, {Seconds: 9223372036, Nanos: 999999999}, {Seconds: -9223372036, Nanos: -999999999}} {
		if got, want := (&wellknown.Duration{Seconds: d.Seconds, Nanos: d.Nanos}).AsDuration(), d.AsDuration(); got != want {
			t.Errorf("AsDuration(%v) = %v, protobuf-go %v", d, got, want)
		}
	}
	v := map[string]any{"n": 1.5, "s": "x", "b": true, "z": nil, "l": []any{1.0, "two", map[string]any{"k": []any{}}}}
	wv, err := wellknown.NewValue(v)
	if err != nil {
		t.Fatal(err)
	}
	pv, err := structpb.NewValue(v)
	if err != nil {
		t.Fatal(err)
	}
	encodesAs(t, "Value", wv, pv)
	ts := timestamppb.New(time.Unix(1700000000, 5))
	pa, _ := anypb.New(ts)
	wa, err := wellknown.NewAny("google.protobuf.Timestamp", wellknown.NewTimestamp(time.Unix(1700000000, 5)))
	if err != nil {
		t.Fatal(err)
	}
	encodesAs(t, "Any", wa, pa)
}

// Random values of every well-known type, both ways.
func TestWellKnownCompatible(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		check := func(p proto.Message, f func(proto.Message)) {
			populate(r, p.ProtoReflect(), 3)
			f(p)
		}
		check(new(timestamppb.Timestamp), func(p proto.Message) { same[wellknown.Timestamp](t, p) })
		check(new(durationpb.Duration), func(p proto.Message) { same[wellknown.Duration](t, p) })
		check(new(anypb.Any), func(p proto.Message) { same[wellknown.Any](t, p) })
		check(new(structpb.Struct), func(p proto.Message) { same[wellknown.Struct](t, p) })
		check(new(structpb.Value), func(p proto.Message) { same[wellknown.Value](t, p) })
		check(new(structpb.ListValue), func(p proto.Message) { same[wellknown.ListValue](t, p) })
		check(new(fieldmaskpb.FieldMask), func(p proto.Message) { same[wellknown.FieldMask](t, p) })
		check(new(emptypb.Empty), func(p proto.Message) { same[wellknown.Empty](t, p) })
		check(new(wrapperspb.StringValue), func(p proto.Message) { same[wellknown.StringValue](t, p) })
		check(new(wrapperspb.BytesValue), func(p proto.Message) { same[wellknown.BytesValue](t, p) })
		check(new(wrapperspb.DoubleValue), func(p proto.Message) { same[wellknown.DoubleValue](t, p) })
		check(new(wrapperspb.FloatValue), func(p proto.Message) { same[wellknown.FloatValue](t, p) })
		check(new(wrapperspb.Int64Value), func(p proto.Message) { same[wellknown.Int64Value](t, p) })
		check(new(wrapperspb.UInt64Value), func(p proto.Message) { same[wellknown.UInt64Value](t, p) })
		check(new(wrapperspb.Int32Value), func(p proto.Message) { same[wellknown.Int32Value](t, p) })
		check(new(wrapperspb.UInt32Value), func(p proto.Message) { same[wellknown.UInt32Value](t, p) })
		check(new(wrapperspb.BoolValue), func(p proto.Message) { same[wellknown.BoolValue](t, p) })
		if t.Failed() {
			break
		}
	}
}
