package frame

import "strconv"

// HeaderLen is the length of the frame header (RFC 9113 §4.1).
const HeaderLen = 9

// Frame size limits (RFC 9113 §4.2, §6.5.2).
const (
	DefaultMaxFrameSize = 1 << 14   // 16384, the initial SETTINGS_MAX_FRAME_SIZE
	MaxAllowedFrameSize = 1<<24 - 1 // 16777215, the largest legal SETTINGS_MAX_FRAME_SIZE
	MaxWindowSize       = 1<<31 - 1 // 2^31-1, the largest flow-control window (§6.9.1)
	MaxStreamID         = 1<<31 - 1 // stream identifiers are 31 bits (§5.1.1)
)

// ClientPreface is the connection preface a client sends first (RFC 9113 §3.4).
const ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Type is a frame type (RFC 9113 §6).
type Type uint8

// The frame types of RFC 9113 §6.
const (
	TypeData         Type = 0x0
	TypeHeaders      Type = 0x1
	TypePriority     Type = 0x2
	TypeRSTStream    Type = 0x3
	TypeSettings     Type = 0x4
	TypePushPromise  Type = 0x5
	TypePing         Type = 0x6
	TypeGoAway       Type = 0x7
	TypeWindowUpdate Type = 0x8
	TypeContinuation Type = 0x9
)

var typeNames = [...]string{
	TypeData:         "DATA",
	TypeHeaders:      "HEADERS",
	TypePriority:     "PRIORITY",
	TypeRSTStream:    "RST_STREAM",
	TypeSettings:     "SETTINGS",
	TypePushPromise:  "PUSH_PROMISE",
	TypePing:         "PING",
	TypeGoAway:       "GOAWAY",
	TypeWindowUpdate: "WINDOW_UPDATE",
	TypeContinuation: "CONTINUATION",
}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "UNKNOWN_FRAME_TYPE_" + strconv.Itoa(int(t))
}

// Flags are a frame's flag bits. Their meaning depends on the frame type.
type Flags uint8

// Frame flags (RFC 9113 §6).
const (
	FlagEndStream  Flags = 0x1  // DATA, HEADERS
	FlagAck        Flags = 0x1  // SETTINGS, PING
	FlagEndHeaders Flags = 0x4  // HEADERS, PUSH_PROMISE, CONTINUATION
	FlagPadded     Flags = 0x8  // DATA, HEADERS, PUSH_PROMISE
	FlagPriority   Flags = 0x20 // HEADERS
)

// Has reports whether all bits of v are set in f.
func (f Flags) Has(v Flags) bool { return f&v == v }

// Header is the 9-byte frame header (RFC 9113 §4.1).
type Header struct {
	Length   uint32 // payload length, 24 bits
	Type     Type
	Flags    Flags
	StreamID uint32 // 31 bits; the reserved bit is cleared on read
}

// SettingID identifies a setting (RFC 9113 §6.5.2).
type SettingID uint16

// The settings defined by RFC 9113 §6.5.2 (and RFC 8441 for ENABLE_CONNECT_PROTOCOL).
const (
	SettingHeaderTableSize       SettingID = 0x1
	SettingEnablePush            SettingID = 0x2
	SettingMaxConcurrentStreams  SettingID = 0x3
	SettingInitialWindowSize     SettingID = 0x4
	SettingMaxFrameSize          SettingID = 0x5
	SettingMaxHeaderListSize     SettingID = 0x6
	SettingEnableConnectProtocol SettingID = 0x8
)

func (s SettingID) String() string {
	switch s {
	case SettingHeaderTableSize:
		return "HEADER_TABLE_SIZE"
	case SettingEnablePush:
		return "ENABLE_PUSH"
	case SettingMaxConcurrentStreams:
		return "MAX_CONCURRENT_STREAMS"
	case SettingInitialWindowSize:
		return "INITIAL_WINDOW_SIZE"
	case SettingMaxFrameSize:
		return "MAX_FRAME_SIZE"
	case SettingMaxHeaderListSize:
		return "MAX_HEADER_LIST_SIZE"
	case SettingEnableConnectProtocol:
		return "ENABLE_CONNECT_PROTOCOL"
	}
	return "UNKNOWN_SETTING_" + strconv.Itoa(int(s))
}

// Setting is one identifier/value pair of a SETTINGS frame.
type Setting struct {
	ID  SettingID
	Val uint32
}

// PriorityParam is the (deprecated, RFC 9113 §5.3.2) priority information
// carried by PRIORITY frames and by HEADERS frames with the PRIORITY flag.
type PriorityParam struct {
	StreamDep uint32 // 31 bits
	Exclusive bool
	Weight    uint8 // the wire value: the effective weight is Weight+1
}

// FrameHeader returns h; it lets every frame struct satisfy Frame through
// its embedded Header.
func (h Header) FrameHeader() Header { return h }
