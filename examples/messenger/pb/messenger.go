package pb

import (
	"errors"
	"fmt"

	"github.com/h2rpc/h2rpc/wire"
)

var (
	_ wire.Message = (*StatusRequest)(nil)
	_ wire.Message = (*StatusResponse)(nil)
	_ wire.Message = (*TopicRequest)(nil)
	_ wire.Message = (*LearningUpdate)(nil)
	_ wire.Message = (*ResearchNote)(nil)
	_ wire.Message = (*SummaryResponse)(nil)
	_ wire.Message = (*FeedUpdate)(nil)
)

// check returns nil if every error, one per string field from
// wire.CheckUTF8, is nil, and otherwise an error naming the message.
func check(name string, errs ...error) error {
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// decodeString sets *dst from a LEN field holding a proto3 string.
func decodeString(f wire.Field, dst *string) error {
	s, err := f.UTF8()
	if err != nil {
		return err
	}
	*dst = s
	return nil
}

// unmarshal resets *m, walks b with decode and, on error, resets *m again
// and names the message type in the error.
func unmarshal[M any](m *M, name string, b []byte, decode func(wire.Field) error) error {
	var zero M
	*m = zero
	if err := wire.Range(b, decode); err != nil {
		*m = zero
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// StatusRequest asks for the learning status of a user:
//
//	message StatusRequest { string user_id = 1; }
type StatusRequest struct {
	UserID string
}

// AppendWire implements wire.Message.
func (m *StatusRequest) AppendWire(b []byte) ([]byte, error) {
	if err := check("messenger.StatusRequest", wire.CheckUTF8(1, m.UserID)); err != nil {
		return b, err
	}
	return wire.AppendStringField(b, 1, m.UserID), nil
}

// UnmarshalWire implements wire.Message.
func (m *StatusRequest) UnmarshalWire(b []byte) error {
	return unmarshal(m, "messenger.StatusRequest", b, func(f wire.Field) error {
		if f.Is(1, wire.TypeLen) {
			return decodeString(f, &m.UserID)
		}
		return nil
	})
}

// StatusResponse answers a StatusRequest:
//
//	message StatusResponse { string message = 1; bool active = 2; }
type StatusResponse struct {
	Message string
	Active  bool
}

// AppendWire implements wire.Message.
func (m *StatusResponse) AppendWire(b []byte) ([]byte, error) {
	if err := check("messenger.StatusResponse", wire.CheckUTF8(1, m.Message)); err != nil {
		return b, err
	}
	b = wire.AppendStringField(b, 1, m.Message)
	b = wire.AppendBoolField(b, 2, m.Active)
	return b, nil
}

// UnmarshalWire implements wire.Message.
func (m *StatusResponse) UnmarshalWire(b []byte) error {
	return unmarshal(m, "messenger.StatusResponse", b, func(f wire.Field) error {
		switch {
		case f.Is(1, wire.TypeLen):
			return decodeString(f, &m.Message)
		case f.Is(2, wire.TypeVarint):
			m.Active = f.Bool()
		}
		return nil
	})
}

// TopicRequest names the topic whose learnings to stream:
//
//	message TopicRequest { string topic = 1; }
type TopicRequest struct {
	Topic string
}

// AppendWire implements wire.Message.
func (m *TopicRequest) AppendWire(b []byte) ([]byte, error) {
	if err := check("messenger.TopicRequest", wire.CheckUTF8(1, m.Topic)); err != nil {
		return b, err
	}
	return wire.AppendStringField(b, 1, m.Topic), nil
}

// UnmarshalWire implements wire.Message.
func (m *TopicRequest) UnmarshalWire(b []byte) error {
	return unmarshal(m, "messenger.TopicRequest", b, func(f wire.Field) error {
		if f.Is(1, wire.TypeLen) {
			return decodeString(f, &m.Topic)
		}
		return nil
	})
}

// LearningUpdate is one update of a StreamLearnings stream:
//
//	message LearningUpdate { string content = 1; int32 progress = 2; string timestamp = 3; }
type LearningUpdate struct {
	Content   string
	Progress  int32
	Timestamp string
}

// AppendWire implements wire.Message.
func (m *LearningUpdate) AppendWire(b []byte) ([]byte, error) {
	if err := check("messenger.LearningUpdate", wire.CheckUTF8(1, m.Content), wire.CheckUTF8(3, m.Timestamp)); err != nil {
		return b, err
	}
	b = wire.AppendStringField(b, 1, m.Content)
	b = wire.AppendInt32Field(b, 2, m.Progress)
	b = wire.AppendStringField(b, 3, m.Timestamp)
	return b, nil
}

// UnmarshalWire implements wire.Message.
func (m *LearningUpdate) UnmarshalWire(b []byte) error {
	return unmarshal(m, "messenger.LearningUpdate", b, func(f wire.Field) error {
		switch {
		case f.Is(1, wire.TypeLen):
			return decodeString(f, &m.Content)
		case f.Is(2, wire.TypeVarint):
			m.Progress = f.Int32()
		case f.Is(3, wire.TypeLen):
			return decodeString(f, &m.Timestamp)
		}
		return nil
	})
}

// ResearchNote is one note of a SubmitResearchNotes upload:
//
//	message ResearchNote { string text = 1; }
type ResearchNote struct {
	Text string
}

// AppendWire implements wire.Message.
func (m *ResearchNote) AppendWire(b []byte) ([]byte, error) {
	if err := check("messenger.ResearchNote", wire.CheckUTF8(1, m.Text)); err != nil {
		return b, err
	}
	return wire.AppendStringField(b, 1, m.Text), nil
}

// UnmarshalWire implements wire.Message.
func (m *ResearchNote) UnmarshalWire(b []byte) error {
	return unmarshal(m, "messenger.ResearchNote", b, func(f wire.Field) error {
		if f.Is(1, wire.TypeLen) {
			return decodeString(f, &m.Text)
		}
		return nil
	})
}

// SummaryResponse sums up the notes of a SubmitResearchNotes upload:
//
//	message SummaryResponse { int32 count = 1; string final_summary = 2; }
type SummaryResponse struct {
	Count        int32
	FinalSummary string
}

// AppendWire implements wire.Message.
func (m *SummaryResponse) AppendWire(b []byte) ([]byte, error) {
	if err := check("messenger.SummaryResponse", wire.CheckUTF8(2, m.FinalSummary)); err != nil {
		return b, err
	}
	b = wire.AppendInt32Field(b, 1, m.Count)
	b = wire.AppendStringField(b, 2, m.FinalSummary)
	return b, nil
}

// UnmarshalWire implements wire.Message.
func (m *SummaryResponse) UnmarshalWire(b []byte) error {
	return unmarshal(m, "messenger.SummaryResponse", b, func(f wire.Field) error {
		switch {
		case f.Is(1, wire.TypeVarint):
			m.Count = f.Int32()
		case f.Is(2, wire.TypeLen):
			return decodeString(f, &m.FinalSummary)
		}
		return nil
	})
}

// FeedUpdate is one message, either way, of a CollaborativeFeed stream:
//
//	message FeedUpdate { string user = 1; string message = 2; }
type FeedUpdate struct {
	User    string
	Message string
}

// AppendWire implements wire.Message.
func (m *FeedUpdate) AppendWire(b []byte) ([]byte, error) {
	if err := check("messenger.FeedUpdate", wire.CheckUTF8(1, m.User), wire.CheckUTF8(2, m.Message)); err != nil {
		return b, err
	}
	b = wire.AppendStringField(b, 1, m.User)
	b = wire.AppendStringField(b, 2, m.Message)
	return b, nil
}

// UnmarshalWire implements wire.Message.
func (m *FeedUpdate) UnmarshalWire(b []byte) error {
	return unmarshal(m, "messenger.FeedUpdate", b, func(f wire.Field) error {
		switch {
		case f.Is(1, wire.TypeLen):
			return decodeString(f, &m.User)
		case f.Is(2, wire.TypeLen):
			return decodeString(f, &m.Message)
		}
		return nil
	})
}
