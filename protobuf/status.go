package protobuf

import (
	"fmt"

	"github.com/h2rpc/h2rpc/rpc"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Rich errors: a status's Details (grpc-status-details-bin on the wire)
// hold a google.rpc.Status, whose code and message repeat grpc-status and
// grpc-message and whose details are Any messages, typically the
// google.rpc error details of google.golang.org/genproto/googleapis/rpc/errdetails
// (BadRequest, RetryInfo, ErrorInfo, ...), as grpc-go's status package
// reads and writes them.

// NewError returns a *rpc.Status error with code c, message msg and the
// details, for a handler to return. Code OK returns nil. A detail that
// cannot be marshalled makes it an INTERNAL status saying so.
func NewError(c rpc.Code, msg string, details ...proto.Message) error {
	if c == rpc.OK {
		return nil
	}
	st, err := WithDetails(&rpc.Status{Code: c, Message: msg}, details...)
	if err != nil {
		return &rpc.Status{Code: rpc.Internal, Message: err.Error()}
	}
	return st
}

// WithDetails returns a copy of st with details added to those it carries:
// its Details become a google.rpc.Status holding st's code and message and
// every detail packed in an Any. It fails for an OK status (which carries
// no details) or a detail that does not marshal.
func WithDetails(st *rpc.Status, details ...proto.Message) (*rpc.Status, error) {
	if st.Code == rpc.OK {
		return nil, fmt.Errorf("h2rpc/protobuf: WithDetails: an OK status carries no details")
	}
	p, err := statusProto(st)
	if err != nil {
		return nil, err
	}
	p.Code, p.Message = int32(st.Code), st.Message
	for _, d := range details {
		a, err := anypb.New(d)
		if err != nil {
			return nil, fmt.Errorf("h2rpc/protobuf: WithDetails: %T: %w", d, err)
		}
		p.Details = append(p.Details, a)
	}
	b, err := proto.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("h2rpc/protobuf: WithDetails: %w", err)
	}
	out := *st // the local cause, unexported, comes along
	out.Details = b
	return &out, nil
}

// StatusProto returns the google.rpc.Status of err, as rpc.StatusOf sees
// it: decoded from its Details when it has some, built from its code and
// message otherwise. It fails when the Details do not decode or name
// another code than the status (grpc-status), which grpc-go's client
// reports as INTERNAL. StatusProto(nil) is nil, nil.
func StatusProto(err error) (*spb.Status, error) {
	st := rpc.StatusOf(err)
	if st == nil {
		return nil, nil
	}
	return statusProto(st)
}

func statusProto(st *rpc.Status) (*spb.Status, error) {
	if len(st.Details) == 0 {
		return &spb.Status{Code: int32(st.Code), Message: st.Message}, nil
	}
	p := new(spb.Status)
	if err := proto.Unmarshal(st.Details, p); err != nil {
		return nil, fmt.Errorf("h2rpc/protobuf: status details are not a google.rpc.Status: %w", err)
	}
	if p.Code != int32(st.Code) {
		return nil, fmt.Errorf("h2rpc/protobuf: status details say code %d, the status %d (%v)", p.Code, int32(st.Code), st.Code)
	}
	return p, nil
}

// FromStatusProto returns the status p describes, its Details holding p
// itself; a code of 0 (OK) gives nil.
func FromStatusProto(p *spb.Status) (*rpc.Status, error) {
	if p.GetCode() == 0 {
		return nil, nil
	}
	st := &rpc.Status{Code: rpc.Code(p.Code), Message: p.Message}
	if len(p.Details) > 0 {
		b, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("h2rpc/protobuf: FromStatusProto: %w", err)
		}
		st.Details = b
	}
	return st, nil
}

// Details returns the details of err's status, each unpacked into its Go
// type; a detail whose type is not linked into the program stays an
// *anypb.Any. It is nil, nil for a status without details; it fails as
// StatusProto does.
func Details(err error) ([]proto.Message, error) {
	p, perr := StatusProto(err)
	if perr != nil || p == nil || len(p.Details) == 0 {
		return nil, perr
	}
	out := make([]proto.Message, 0, len(p.Details))
	for _, a := range p.Details {
		m, err := a.UnmarshalNew()
		if err != nil {
			out = append(out, a)
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// Detail returns the first detail of err's status that is a T, as in
// Detail[*errdetails.RetryInfo](err).
func Detail[T proto.Message](err error) (T, bool) {
	details, _ := Details(err)
	for _, d := range details {
		if t, ok := d.(T); ok {
			return t, true
		}
	}
	var zero T
	return zero, false
}
