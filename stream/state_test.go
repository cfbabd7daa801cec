package stream

import (
	"errors"
	"testing"

	"github.com/h2rpc/h2rpc/frame"
)

// Short names keep the matrix readable.
const (
	I  = Idle
	RL = ReservedLocal
	RR = ReservedRemote
	O  = Open
	HL = HalfClosedLocal
	HR = HalfClosedRemote
	C  = Closed
	CS = ClosedResetSent
	CR = ClosedResetRecv

	D  = frame.TypeData
	H  = frame.TypeHeaders
	P  = frame.TypePriority
	R  = frame.TypeRSTStream
	S  = frame.TypeSettings
	PP = frame.TypePushPromise
	PI = frame.TypePing
	G  = frame.TypeGoAway
	W  = frame.TypeWindowUpdate
	CO = frame.TypeContinuation
	X  = frame.Type(0x0b) // an extension frame type
)

var allStates = []State{I, RL, RR, O, HL, HR, C, CS, CR}
var allTypes = []frame.Type{D, H, P, R, S, PP, PI, G, W, CO, X}

// outcome is what a transition must produce.
type outcome int

const (
	ok           outcome = iota // accepted, new state as given
	connProtocol                // *frame.ConnError PROTOCOL_ERROR
	connClosed                  // *frame.ConnError STREAM_CLOSED
	streamClosed                // *frame.StreamError STREAM_CLOSED
	invalidSend                 // wraps ErrInvalidSend
)

// es says which END_STREAM values a row covers.
type es int

const (
	esNo  es = iota // END_STREAM clear
	esYes           // END_STREAM set
	esAny           // either: the flag has no meaning on this frame type
)

type row struct {
	from State
	t    frame.Type
	es   es
	to   State // for ok; otherwise the state must be unchanged
	want outcome
}

// recvMatrix is every (state, received frame type, END_STREAM) combination,
// written by hand from RFC 9113 §5.1, §5.5 and §6.
var recvMatrix = []row{
	// idle (§5.1): HEADERS opens, PRIORITY is fine, anything else is a
	// connection PROTOCOL_ERROR.
	{I, D, esNo, I, connProtocol},   // DATA on idle
	{I, D, esYes, I, connProtocol},  // DATA+ES on idle
	{I, H, esNo, O, ok},             // "Receiving a HEADERS frame causes the stream to become open"
	{I, H, esYes, HR, ok},           // ... and END_STREAM half-closes it at once
	{I, P, esAny, I, ok},            // PRIORITY is allowed on idle
	{I, R, esAny, I, connProtocol},  // §6.4 RST_STREAM on idle
	{I, S, esAny, I, connProtocol},  // §6.5 SETTINGS on a stream
	{I, PP, esAny, I, connProtocol}, // PUSH_PROMISE on an idle associated stream
	{I, PI, esAny, I, connProtocol}, // §6.7 PING on a stream
	{I, G, esAny, I, connProtocol},  // §6.8 GOAWAY on a stream
	{I, W, esAny, I, connProtocol},  // WINDOW_UPDATE on idle
	{I, CO, esAny, I, ok},           // CONTINUATION: checked at its HEADERS
	{I, X, esAny, I, ok},            // §5.5 unknown types are ignored

	// reserved (local): peer may send RST_STREAM, PRIORITY, WINDOW_UPDATE only.
	{RL, D, esNo, RL, connProtocol},
	{RL, D, esYes, RL, connProtocol},
	{RL, H, esNo, RL, connProtocol},
	{RL, H, esYes, RL, connProtocol},
	{RL, P, esAny, RL, ok},
	{RL, R, esAny, CR, ok}, // "Either endpoint can send a RST_STREAM"
	{RL, S, esAny, RL, connProtocol},
	{RL, PP, esAny, RL, connProtocol},
	{RL, PI, esAny, RL, connProtocol},
	{RL, G, esAny, RL, connProtocol},
	{RL, W, esAny, RL, ok}, // "An endpoint MAY receive PRIORITY or WINDOW_UPDATE"
	{RL, CO, esAny, RL, ok},
	{RL, X, esAny, RL, ok},

	// reserved (remote): peer may send HEADERS, RST_STREAM, PRIORITY only.
	{RR, D, esNo, RR, connProtocol},
	{RR, D, esYes, RR, connProtocol},
	{RR, H, esNo, HL, ok}, // "Receiving a HEADERS frame causes ... half-closed (local)"
	{RR, H, esYes, C, ok}, // ... and its END_STREAM closes it
	{RR, P, esAny, RR, ok},
	{RR, R, esAny, CR, ok},
	{RR, S, esAny, RR, connProtocol},
	{RR, PP, esAny, RR, connProtocol},
	{RR, PI, esAny, RR, connProtocol},
	{RR, G, esAny, RR, connProtocol},
	{RR, W, esAny, RR, connProtocol}, // not in the allowed list for this state
	{RR, CO, esAny, RR, ok},
	{RR, X, esAny, RR, ok},

	// open: any frame; END_STREAM half-closes (remote); RST_STREAM closes.
	{O, D, esNo, O, ok},
	{O, D, esYes, HR, ok},
	{O, H, esNo, O, ok},   // e.g. trailers without END_STREAM (malformed is §8, not §5.1)
	{O, H, esYes, HR, ok}, // trailers
	{O, P, esAny, O, ok},
	{O, R, esAny, CR, ok},
	{O, S, esAny, O, connProtocol},
	{O, PP, esAny, O, ok}, // §6.6 allowed on open
	{O, PI, esAny, O, connProtocol},
	{O, G, esAny, O, connProtocol},
	{O, W, esAny, O, ok},
	{O, CO, esAny, O, ok},
	{O, X, esAny, O, ok},

	// half-closed (local): "An endpoint can receive any type of frame in this state."
	{HL, D, esNo, HL, ok},
	{HL, D, esYes, C, ok},
	{HL, H, esNo, HL, ok}, // e.g. a 1xx response before the final one
	{HL, H, esYes, C, ok},
	{HL, P, esAny, HL, ok},
	{HL, R, esAny, CR, ok},
	{HL, S, esAny, HL, connProtocol},
	{HL, PP, esAny, HL, ok}, // §6.6 allowed on half-closed (local)
	{HL, PI, esAny, HL, connProtocol},
	{HL, G, esAny, HL, connProtocol},
	{HL, W, esAny, HL, ok},
	{HL, CO, esAny, HL, ok},
	{HL, X, esAny, HL, ok},

	// half-closed (remote): only WINDOW_UPDATE, PRIORITY, RST_STREAM; else
	// stream STREAM_CLOSED.
	{HR, D, esNo, HR, streamClosed},
	{HR, D, esYes, HR, streamClosed},
	{HR, H, esNo, HR, streamClosed},
	{HR, H, esYes, HR, streamClosed},
	{HR, P, esAny, HR, ok},
	{HR, R, esAny, CR, ok},
	{HR, S, esAny, HR, connProtocol},
	{HR, PP, esAny, HR, connProtocol}, // §6.6 neither open nor half-closed (local)
	{HR, PI, esAny, HR, connProtocol},
	{HR, G, esAny, HR, connProtocol},
	{HR, W, esAny, HR, ok},
	{HR, CO, esAny, HR, ok},
	{HR, X, esAny, HR, ok},

	// closed by END_STREAM both ways: late WINDOW_UPDATE/RST_STREAM ignored.
	{C, D, esNo, C, streamClosed},  // §6.1 DATA not open/half-closed (local)
	{C, D, esYes, C, streamClosed}, // §6.1
	{C, H, esNo, C, connClosed},    // §5.1 closed: MAY be a connection error STREAM_CLOSED
	{C, H, esYes, C, connClosed},
	{C, P, esAny, C, ok},
	{C, R, esAny, C, ok}, // "MUST ignore WINDOW_UPDATE or RST_STREAM"
	{C, S, esAny, C, connProtocol},
	{C, PP, esAny, C, connProtocol}, // §6.6
	{C, PI, esAny, C, connProtocol},
	{C, G, esAny, C, connProtocol},
	{C, W, esAny, C, ok},
	{C, CO, esAny, C, ok},
	{C, X, esAny, C, ok},

	// closed by our RST_STREAM: frames in flight are accepted (and discarded).
	{CS, D, esNo, CS, ok}, // still counted against the connection window
	{CS, D, esYes, CS, ok},
	{CS, H, esNo, CS, ok}, // still HPACK-decoded
	{CS, H, esYes, CS, ok},
	{CS, P, esAny, CS, ok},
	{CS, R, esAny, CS, ok},
	{CS, S, esAny, CS, connProtocol},
	{CS, PP, esAny, CS, ok}, // the promised stream is still reserved
	{CS, PI, esAny, CS, connProtocol},
	{CS, G, esAny, CS, connProtocol},
	{CS, W, esAny, CS, ok},
	{CS, CO, esAny, CS, ok},
	{CS, X, esAny, CS, ok},

	// closed by the peer's RST_STREAM: a repeated reset and a late
	// WINDOW_UPDATE are ignored; anything else is a stream STREAM_CLOSED.
	{CR, D, esNo, CR, streamClosed},
	{CR, D, esYes, CR, streamClosed},
	{CR, H, esNo, CR, streamClosed},
	{CR, H, esYes, CR, streamClosed},
	{CR, P, esAny, CR, ok},
	{CR, R, esAny, CR, ok}, // §5.4.2 never answer RST_STREAM with RST_STREAM
	{CR, S, esAny, CR, connProtocol},
	{CR, PP, esAny, CR, streamClosed},
	{CR, PI, esAny, CR, connProtocol},
	{CR, G, esAny, CR, connProtocol},
	{CR, W, esAny, CR, ok}, // §6.9 WINDOW_UPDATE on closed is not an error
	{CR, CO, esAny, CR, ok},
	{CR, X, esAny, CR, ok},
}

// sendMatrix is every (state, sent frame type, END_STREAM) combination.
var sendMatrix = []row{
	// idle: we open with HEADERS; PRIORITY is fine; nothing else.
	{I, D, esNo, I, invalidSend},
	{I, D, esYes, I, invalidSend},
	{I, H, esNo, O, ok},   // "Sending a HEADERS frame ... open"
	{I, H, esYes, HL, ok}, // a request without body
	{I, P, esAny, I, ok},
	{I, R, esAny, I, invalidSend}, // §6.4 "MUST NOT be sent for a stream in the idle state"
	{I, S, esAny, I, invalidSend},
	{I, PP, esAny, I, invalidSend},
	{I, PI, esAny, I, invalidSend},
	{I, G, esAny, I, invalidSend},
	{I, W, esAny, I, invalidSend},
	{I, CO, esAny, I, ok},
	{I, X, esAny, I, ok},

	// reserved (local): only HEADERS, RST_STREAM, PRIORITY.
	{RL, D, esNo, RL, invalidSend},
	{RL, D, esYes, RL, invalidSend},
	{RL, H, esNo, HR, ok}, // "open in a half-closed (remote) state"
	{RL, H, esYes, C, ok},
	{RL, P, esAny, RL, ok},
	{RL, R, esAny, CS, ok},
	{RL, S, esAny, RL, invalidSend},
	{RL, PP, esAny, RL, invalidSend},
	{RL, PI, esAny, RL, invalidSend},
	{RL, G, esAny, RL, invalidSend},
	{RL, W, esAny, RL, invalidSend},
	{RL, CO, esAny, RL, ok},
	{RL, X, esAny, RL, ok},

	// reserved (remote): only RST_STREAM, WINDOW_UPDATE, PRIORITY.
	{RR, D, esNo, RR, invalidSend},
	{RR, D, esYes, RR, invalidSend},
	{RR, H, esNo, RR, invalidSend},
	{RR, H, esYes, RR, invalidSend},
	{RR, P, esAny, RR, ok},
	{RR, R, esAny, CS, ok},
	{RR, S, esAny, RR, invalidSend},
	{RR, PP, esAny, RR, invalidSend},
	{RR, PI, esAny, RR, invalidSend},
	{RR, G, esAny, RR, invalidSend},
	{RR, W, esAny, RR, ok},
	{RR, CO, esAny, RR, ok},
	{RR, X, esAny, RR, ok},

	// open: any stream frame; END_STREAM half-closes (local).
	{O, D, esNo, O, ok},
	{O, D, esYes, HL, ok},
	{O, H, esNo, O, ok},
	{O, H, esYes, HL, ok},
	{O, P, esAny, O, ok},
	{O, R, esAny, CS, ok},
	{O, S, esAny, O, invalidSend},
	{O, PP, esAny, O, ok}, // §6.6 open or half-closed (remote)
	{O, PI, esAny, O, invalidSend},
	{O, G, esAny, O, invalidSend},
	{O, W, esAny, O, ok},
	{O, CO, esAny, O, ok},
	{O, X, esAny, O, ok},

	// half-closed (local): only WINDOW_UPDATE, PRIORITY, RST_STREAM.
	{HL, D, esNo, HL, invalidSend},
	{HL, D, esYes, HL, invalidSend},
	{HL, H, esNo, HL, invalidSend},
	{HL, H, esYes, HL, invalidSend},
	{HL, P, esAny, HL, ok},
	{HL, R, esAny, CS, ok},
	{HL, S, esAny, HL, invalidSend},
	{HL, PP, esAny, HL, invalidSend},
	{HL, PI, esAny, HL, invalidSend},
	{HL, G, esAny, HL, invalidSend},
	{HL, W, esAny, HL, ok},
	{HL, CO, esAny, HL, ok},
	{HL, X, esAny, HL, ok},

	// half-closed (remote): any stream frame; END_STREAM closes.
	{HR, D, esNo, HR, ok},
	{HR, D, esYes, C, ok},
	{HR, H, esNo, HR, ok},
	{HR, H, esYes, C, ok}, // a response with trailers-only / final trailers
	{HR, P, esAny, HR, ok},
	{HR, R, esAny, CS, ok},
	{HR, S, esAny, HR, invalidSend},
	{HR, PP, esAny, HR, ok},
	{HR, PI, esAny, HR, invalidSend},
	{HR, G, esAny, HR, invalidSend},
	{HR, W, esAny, HR, ok},
	{HR, CO, esAny, HR, ok},
	{HR, X, esAny, HR, ok},
}

func init() {
	// closed, in all three flavours: "MUST NOT send frames other than
	// PRIORITY on a closed stream" (CONTINUATION and extensions have no place
	// in the machine).
	for _, s := range []State{C, CS, CR} {
		sendMatrix = append(sendMatrix,
			row{s, D, esNo, s, invalidSend},
			row{s, D, esYes, s, invalidSend},
			row{s, H, esNo, s, invalidSend},
			row{s, H, esYes, s, invalidSend},
			row{s, P, esAny, s, ok},
			row{s, R, esAny, s, invalidSend},
			row{s, S, esAny, s, invalidSend},
			row{s, PP, esAny, s, invalidSend},
			row{s, PI, esAny, s, invalidSend},
			row{s, G, esAny, s, invalidSend},
			row{s, W, esAny, s, invalidSend},
			row{s, CO, esAny, s, ok},
			row{s, X, esAny, s, ok},
		)
	}
}

func checkOutcome(t *testing.T, what string, r row, got State, err error) {
	t.Helper()
	want := r.to
	if r.want != ok {
		want = r.from
	}
	if got != want {
		t.Errorf("%s: state %v, want %v (err %v)", what, got, want, err)
	}
	var ce *frame.ConnError
	var se *frame.StreamError
	switch r.want {
	case ok:
		if err != nil {
			t.Errorf("%s: unexpected error %v", what, err)
		}
	case connProtocol, connClosed:
		code := frame.ErrCodeProtocol
		if r.want == connClosed {
			code = frame.ErrCodeStreamClosed
		}
		if !errors.As(err, &ce) || ce.Code != code {
			t.Errorf("%s: error %v, want connection error %v", what, err, code)
		}
	case streamClosed:
		if !errors.As(err, &se) || se.Code != frame.ErrCodeStreamClosed {
			t.Errorf("%s: error %v, want stream error STREAM_CLOSED", what, err)
		}
	case invalidSend:
		if !errors.Is(err, ErrInvalidSend) || errors.As(err, &ce) || errors.As(err, &se) {
			t.Errorf("%s: error %v, want ErrInvalidSend", what, err)
		}
	}
}

func runMatrix(t *testing.T, name string, matrix []row, apply func(State, frame.Type, bool) (State, error)) {
	seen := map[[3]int]bool{}
	for _, r := range matrix {
		esVals := []bool{r.es == esYes}
		if r.es == esAny {
			esVals = []bool{false, true}
		}
		for _, e := range esVals {
			key := [3]int{int(r.from), int(r.t), map[bool]int{false: 0, true: 1}[e]}
			if seen[key] {
				t.Fatalf("%s matrix: duplicate row %v %v es=%v", name, r.from, r.t, e)
			}
			seen[key] = true
			got, err := apply(r.from, r.t, e)
			checkOutcome(t, name+" "+r.t.String()+" on "+r.from.String()+map[bool]string{true: " +ES"}[e], r, got, err)
		}
	}
	// The matrix must be complete: every state, every type, both flags.
	for _, s := range allStates {
		for _, ft := range allTypes {
			for e := range 2 {
				if !seen[[3]int{int(s), int(ft), e}] {
					t.Errorf("%s matrix misses %v %v es=%d", name, s, ft, e)
				}
			}
		}
	}
}

func TestRecvMatrix(t *testing.T) { runMatrix(t, "recv", recvMatrix, State.Recv) }
func TestSendMatrix(t *testing.T) { runMatrix(t, "send", sendMatrix, State.Send) }

// TestEndStreamIgnoredOnOtherTypes checks that a stray END_STREAM bit on a
// frame type that has no such flag never moves the state.
func TestEndStreamIgnoredOnOtherTypes(t *testing.T) {
	for _, s := range []State{O, HL, HR} {
		for _, ft := range []frame.Type{P, W, PP, CO, X} {
			if got, _ := s.Recv(ft, true); got != s {
				t.Errorf("Recv(%v, ES) on %v moved to %v", ft, s, got)
			}
			if got, _ := s.Send(ft, true); got != s {
				t.Errorf("Send(%v, ES) on %v moved to %v", ft, s, got)
			}
		}
	}
}

func TestStreamErrorHasNoID(t *testing.T) {
	_, err := HalfClosedRemote.Recv(frame.TypeData, false)
	var se *frame.StreamError
	if !errors.As(err, &se) || se.StreamID != 0 || se.Reason == "" {
		t.Fatalf("err = %#v", err)
	}
}

func TestPromise(t *testing.T) {
	for _, s := range allStates {
		got, err := s.RecvPromise()
		var ce *frame.ConnError
		if s == Idle {
			if got != ReservedRemote || err != nil {
				t.Errorf("RecvPromise on idle: %v, %v", got, err)
			}
		} else if got != s || !errors.As(err, &ce) || ce.Code != frame.ErrCodeProtocol {
			t.Errorf("RecvPromise on %v: %v, %v; want PROTOCOL_ERROR", s, got, err)
		}
		got, err = s.SendPromise()
		if s == Idle {
			if got != ReservedLocal || err != nil {
				t.Errorf("SendPromise on idle: %v, %v", got, err)
			}
		} else if got != s || !errors.Is(err, ErrInvalidSend) {
			t.Errorf("SendPromise on %v: %v, %v; want ErrInvalidSend", s, got, err)
		}
	}
}

func TestInvalidState(t *testing.T) {
	bad := State(200)
	if bad.String() != "State(200)" {
		t.Errorf("String() = %q", bad.String())
	}
	if _, err := bad.Recv(D, false); err == nil {
		t.Error("Recv on an invalid state succeeded")
	}
	if _, err := bad.Send(D, false); !errors.Is(err, ErrInvalidSend) {
		t.Errorf("Send on an invalid state: %v", err)
	}
}

func TestPredicates(t *testing.T) {
	for _, s := range allStates {
		closed := s == C || s == CS || s == CR
		if s.IsClosed() != closed {
			t.Errorf("%v.IsClosed() = %v", s, s.IsClosed())
		}
		if s.CanSendData() != (s == O || s == HR) {
			t.Errorf("%v.CanSendData() = %v", s, s.CanSendData())
		}
		if s.CanRecvData() != (s == O || s == HL) {
			t.Errorf("%v.CanRecvData() = %v", s, s.CanRecvData())
		}
		// CanSendData agrees with Send(DATA).
		if _, err := s.Send(D, false); (err == nil) != s.CanSendData() {
			t.Errorf("%v: Send(DATA) err %v disagrees with CanSendData", s, err)
		}
	}
}

// TestLifecycles walks whole streams through the machine from both ends.
func TestLifecycles(t *testing.T) {
	type step struct {
		send bool
		t    frame.Type
		es   bool
		want State
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"unary client", []step{{true, H, false, O}, {true, D, true, HL}, {false, H, false, HL}, {false, D, false, HL}, {false, H, true, C}}},
		{"unary server", []step{{false, H, false, O}, {false, D, true, HR}, {true, H, false, HR}, {true, D, false, HR}, {true, H, true, C}}},
		{"client cancels", []step{{true, H, false, O}, {true, R, false, CS}, {false, D, false, CS}, {false, H, true, CS}}},
		{"server resets", []step{{true, H, true, HL}, {false, R, false, CR}}},
		{"push, client side", []step{{false, H, false, HL}, {false, H, true, C}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Idle
			if tt.name == "push, client side" {
				s, _ = s.RecvPromise()
			}
			for i, st := range tt.steps {
				var err error
				if st.send {
					s, err = s.Send(st.t, st.es)
				} else {
					s, err = s.Recv(st.t, st.es)
				}
				if err != nil || s != st.want {
					t.Fatalf("step %d (%v): state %v err %v, want %v", i, st.t, s, err, st.want)
				}
			}
		})
	}
}
