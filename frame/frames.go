package frame

// Frame is one parsed HTTP/2 frame: one of *DataFrame, *HeadersFrame,
// *PriorityFrame, *RSTStreamFrame, *SettingsFrame, *PushPromiseFrame,
// *PingFrame, *GoAwayFrame, *WindowUpdateFrame, *ContinuationFrame or
// *UnknownFrame.
//
// A Frame returned by Reader.ReadFrame is owned by the Reader and valid only
// until the next ReadFrame call, including every slice it holds.
type Frame interface {
	// FrameHeader returns the frame's 9-byte header as read or to be written.
	FrameHeader() Header
	// AppendTo appends the frame's wire encoding (header and payload) to b.
	// It encodes what the struct holds; it does not validate it, so tests can
	// build frames that break the rules.
	AppendTo(b []byte) []byte
}

// DataFrame is a DATA frame (RFC 9113 §6.1).
type DataFrame struct {
	Header
	// Data is the payload without padding.
	Data []byte
	// PadLen is the Pad Length field when Flags has FlagPadded. The padding
	// counts against flow control: use Header.Length for window accounting.
	PadLen uint8
	// Cont and More describe a frame whose data is returned in parts
	// (Reader.SetSplitData, Reader.UnreadData, Reader.ReadData): Cont is
	// set on every part but the first, More on every part but the last.
	// Header and PadLen are the whole frame's in every part; Data holds
	// the part's octets. A frame returned whole has neither.
	Cont, More bool
}

// StreamEnded reports whether the END_STREAM flag is set.
func (f *DataFrame) StreamEnded() bool { return f.Flags.Has(FlagEndStream) }

// HeadersFrame is a HEADERS frame (RFC 9113 §6.2).
type HeadersFrame struct {
	Header
	// Priority is set when Flags has FlagPriority.
	Priority PriorityParam
	// BlockFragment is the field block fragment, without padding.
	BlockFragment []byte
	PadLen        uint8
}

// StreamEnded reports whether the END_STREAM flag is set.
func (f *HeadersFrame) StreamEnded() bool { return f.Flags.Has(FlagEndStream) }

// HeadersEnded reports whether the END_HEADERS flag is set.
func (f *HeadersFrame) HeadersEnded() bool { return f.Flags.Has(FlagEndHeaders) }

// PriorityFrame is a PRIORITY frame (RFC 9113 §6.3).
type PriorityFrame struct {
	Header
	PriorityParam
}

// RSTStreamFrame is a RST_STREAM frame (RFC 9113 §6.4).
type RSTStreamFrame struct {
	Header
	Code ErrCode
}

// SettingsFrame is a SETTINGS frame (RFC 9113 §6.5). Its settings are kept
// in wire form; read them with NumSettings, Setting, Value or ForEach.
// A frame built for writing lists them in Settings instead.
type SettingsFrame struct {
	Header
	// Settings are the settings to write (used by AppendTo). On a frame
	// returned by a Reader it is nil; the parsed values are in the payload.
	Settings []Setting
	payload  []byte
}

// IsAck reports whether this is a SETTINGS acknowledgement.
func (f *SettingsFrame) IsAck() bool { return f.Flags.Has(FlagAck) }

// PushPromiseFrame is a PUSH_PROMISE frame (RFC 9113 §6.6).
type PushPromiseFrame struct {
	Header
	PromisedID    uint32
	BlockFragment []byte
	PadLen        uint8
}

// HeadersEnded reports whether the END_HEADERS flag is set.
func (f *PushPromiseFrame) HeadersEnded() bool { return f.Flags.Has(FlagEndHeaders) }

// PingFrame is a PING frame (RFC 9113 §6.7).
type PingFrame struct {
	Header
	Data [8]byte
}

// IsAck reports whether this is a PING acknowledgement.
func (f *PingFrame) IsAck() bool { return f.Flags.Has(FlagAck) }

// GoAwayFrame is a GOAWAY frame (RFC 9113 §6.8).
type GoAwayFrame struct {
	Header
	LastStreamID uint32
	Code         ErrCode
	DebugData    []byte
}

// WindowUpdateFrame is a WINDOW_UPDATE frame (RFC 9113 §6.9).
type WindowUpdateFrame struct {
	Header
	Increment uint32
}

// ContinuationFrame is a CONTINUATION frame (RFC 9113 §6.10).
type ContinuationFrame struct {
	Header
	BlockFragment []byte
}

// HeadersEnded reports whether the END_HEADERS flag is set.
func (f *ContinuationFrame) HeadersEnded() bool { return f.Flags.Has(FlagEndHeaders) }

// UnknownFrame is a frame of a type RFC 9113 does not define. §4.1 and §5.5
// say such frames MUST be ignored; the Reader surfaces them so the caller
// can do so (or implement an extension).
type UnknownFrame struct {
	Header
	Payload []byte
}
