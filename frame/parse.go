package frame

import (
	"encoding/binary"
	"fmt"
)

// A parser checks and parses the payload of one frame type into the Reader's
// struct for that type. payload is exactly h.Length bytes long.
type parser func(fr *Reader, h Header, payload []byte) (Frame, error)

// parsers is indexed by frame type; types past its end are unknown.
var parsers = [...]parser{
	TypeData:         parseData,
	TypeHeaders:      parseHeaders,
	TypePriority:     parsePriority,
	TypeRSTStream:    parseRSTStream,
	TypeSettings:     parseSettings,
	TypePushPromise:  parsePushPromise,
	TypePing:         parsePing,
	TypeGoAway:       parseGoAway,
	TypeWindowUpdate: parseWindowUpdate,
	TypeContinuation: parseContinuation,
}

// readPadLen strips the Pad Length field of a PADDED frame, returning the
// rest of the payload and the pad length. It checks only that the field is
// there; callers check the padding against what remains.
func readPadLen(h Header, p []byte) ([]byte, uint8, error) {
	if !h.Flags.Has(FlagPadded) {
		return p, 0, nil
	}
	if len(p) < 1 {
		// RFC 9113 §4.2: "An endpoint MUST send an error code of
		// FRAME_SIZE_ERROR if a frame ... is too small to contain mandatory
		// frame data."
		return nil, 0, connError(ErrCodeFrameSize, fmt.Sprintf(
			"%v frame with the PADDED flag has no room for the Pad Length field (RFC 9113 §4.2)", h.Type))
	}
	return p[1:], p[0], nil
}

// errPadding reports padding at least as long as the payload. RFC 9113 §6.1
// (DATA), §6.2 (HEADERS) and §6.6 (PUSH_PROMISE): "If the length of the
// padding is the length of the frame payload or greater, the recipient MUST
// treat this as a connection error (Section 5.4.1) of type PROTOCOL_ERROR."
func errPadding(h Header, padLen uint8, section string) error {
	return connError(ErrCodeProtocol, fmt.Sprintf(
		"%v frame padding of %d octets does not fit in its %d-octet payload (RFC 9113 %s)", h.Type, padLen, h.Length, section))
}

func errNeedStream(h Header, section string) error {
	return connError(ErrCodeProtocol, fmt.Sprintf(
		"%v frame with stream identifier 0x0 (RFC 9113 %s)", h.Type, section))
}

func errNeedNoStream(h Header, section string) error {
	return connError(ErrCodeProtocol, fmt.Sprintf(
		"%v frame on stream %d; its stream identifier must be 0x0 (RFC 9113 %s)", h.Type, h.StreamID, section))
}

func parseData(fr *Reader, h Header, p []byte) (Frame, error) {
	// RFC 9113 §6.1: "If a DATA frame is received whose Stream Identifier
	// field is 0x00, the recipient MUST respond with a connection error
	// (Section 5.4.1) of type PROTOCOL_ERROR."
	if h.StreamID == 0 {
		return nil, errNeedStream(h, "§6.1")
	}
	p, padLen, err := readPadLen(h, p)
	if err != nil {
		return nil, err
	}
	if int(padLen) > len(p) {
		return nil, errPadding(h, padLen, "§6.1")
	}
	f := &fr.data
	*f = DataFrame{Header: h, Data: p[:len(p)-int(padLen)], PadLen: padLen}
	return f, nil
}

func parseHeaders(fr *Reader, h Header, p []byte) (Frame, error) {
	// RFC 9113 §6.2: "If a HEADERS frame is received whose Stream Identifier
	// field is 0x00, the recipient MUST respond with a connection error
	// (Section 5.4.1) of type PROTOCOL_ERROR."
	if h.StreamID == 0 {
		return nil, errNeedStream(h, "§6.2")
	}
	p, padLen, err := readPadLen(h, p)
	if err != nil {
		return nil, err
	}
	f := &fr.headers
	*f = HeadersFrame{Header: h, PadLen: padLen}
	if h.Flags.Has(FlagPriority) {
		if len(p) < 5 {
			// RFC 9113 §4.2: "A frame size error in a frame that could
			// alter the state of the entire connection MUST be treated as
			// a connection error (Section 5.4.1); this includes any frame
			// carrying a field block (Section 4.3)".
			return nil, connError(ErrCodeFrameSize,
				"HEADERS frame with the PRIORITY flag is too short for the priority fields (RFC 9113 §4.2, §6.2)")
		}
		f.Priority = readPriority(p)
		p = p[5:]
	}
	if int(padLen) > len(p) {
		return nil, errPadding(h, padLen, "§6.2")
	}
	f.BlockFragment = p[:len(p)-int(padLen)]
	if h.Flags.Has(FlagPriority) && f.Priority.StreamDep == h.StreamID {
		// RFC 9113 §5.3.1: "A stream cannot depend on itself. An endpoint
		// MUST treat this as a stream error (Section 5.4.2) of type
		// PROTOCOL_ERROR."
		return f, streamError(h.StreamID, ErrCodeProtocol, "HEADERS frame makes the stream depend on itself (RFC 9113 §5.3.1)")
	}
	return f, nil
}

// readPriority decodes the 5 octets of priority fields (§6.2, §6.3).
func readPriority(p []byte) PriorityParam {
	v := binary.BigEndian.Uint32(p[:4])
	return PriorityParam{StreamDep: v & MaxStreamID, Exclusive: v>>31 == 1, Weight: p[4]}
}

func parsePriority(fr *Reader, h Header, p []byte) (Frame, error) {
	// RFC 9113 §6.3: "If a PRIORITY frame is received with a stream
	// identifier of 0x00, the recipient MUST respond with a connection error
	// (Section 5.4.1) of type PROTOCOL_ERROR."
	if h.StreamID == 0 {
		return nil, errNeedStream(h, "§6.3")
	}
	f := &fr.priority
	*f = PriorityFrame{Header: h}
	if len(p) != 5 {
		// RFC 9113 §6.3: "A PRIORITY frame with a length other than 5
		// octets MUST be treated as a stream error (Section 5.4.2) of type
		// FRAME_SIZE_ERROR."
		return f, streamError(h.StreamID, ErrCodeFrameSize, fmt.Sprintf(
			"PRIORITY frame length %d, want 5 (RFC 9113 §6.3)", len(p)))
	}
	f.PriorityParam = readPriority(p)
	if f.StreamDep == h.StreamID {
		// RFC 9113 §5.3.1: "A stream cannot depend on itself. An endpoint
		// MUST treat this as a stream error (Section 5.4.2) of type
		// PROTOCOL_ERROR."
		return f, streamError(h.StreamID, ErrCodeProtocol, "PRIORITY frame makes the stream depend on itself (RFC 9113 §5.3.1)")
	}
	return f, nil
}

func parseRSTStream(fr *Reader, h Header, p []byte) (Frame, error) {
	// RFC 9113 §6.4: "A RST_STREAM frame with a length other than 4 octets
	// MUST be treated as a connection error (Section 5.4.1) of type
	// FRAME_SIZE_ERROR."
	if len(p) != 4 {
		return nil, connError(ErrCodeFrameSize, fmt.Sprintf("RST_STREAM frame length %d, want 4 (RFC 9113 §6.4)", len(p)))
	}
	// RFC 9113 §6.4: "If a RST_STREAM frame is received with a stream
	// identifier of 0x00, the recipient MUST treat this as a connection
	// error (Section 5.4.1) of type PROTOCOL_ERROR."
	if h.StreamID == 0 {
		return nil, errNeedStream(h, "§6.4")
	}
	f := &fr.rstStream
	*f = RSTStreamFrame{Header: h, Code: ErrCode(binary.BigEndian.Uint32(p))}
	return f, nil
}

func parseSettings(fr *Reader, h Header, p []byte) (Frame, error) {
	// RFC 9113 §6.5: "Receipt of a SETTINGS frame with the ACK flag set and
	// a length field value other than 0 MUST be treated as a connection
	// error (Section 5.4.1) of type FRAME_SIZE_ERROR."
	if h.Flags.Has(FlagAck) && len(p) != 0 {
		return nil, connError(ErrCodeFrameSize, fmt.Sprintf("SETTINGS ACK frame length %d, want 0 (RFC 9113 §6.5)", len(p)))
	}
	// RFC 9113 §6.5: "If an endpoint receives a SETTINGS frame whose Stream
	// Identifier field is anything other than 0x00, the endpoint MUST
	// respond with a connection error (Section 5.4.1) of type
	// PROTOCOL_ERROR."
	if h.StreamID != 0 {
		return nil, errNeedNoStream(h, "§6.5")
	}
	// RFC 9113 §6.5: "A SETTINGS frame with a length other than a multiple
	// of 6 octets MUST be treated as a connection error (Section 5.4.1) of
	// type FRAME_SIZE_ERROR."
	if len(p)%6 != 0 {
		return nil, connError(ErrCodeFrameSize, fmt.Sprintf("SETTINGS frame length %d is not a multiple of 6 (RFC 9113 §6.5)", len(p)))
	}
	for i := 0; i < len(p); i += 6 {
		if err := checkSetting(readSetting(p[i:])); err != nil {
			return nil, err
		}
	}
	f := &fr.settings
	*f = SettingsFrame{Header: h, payload: p}
	return f, nil
}

func readSetting(p []byte) Setting {
	return Setting{ID: SettingID(binary.BigEndian.Uint16(p)), Val: binary.BigEndian.Uint32(p[2:6])}
}

// checkSetting checks the range of one setting's value (RFC 9113 §6.5.2).
// Unknown settings pass: "An endpoint that receives a SETTINGS frame with any
// unknown or unsupported identifier MUST ignore that setting."
func checkSetting(s Setting) error {
	switch s.ID {
	case SettingEnablePush:
		// RFC 9113 §6.5.2: "Any value other than 0 or 1 MUST be treated as
		// a connection error (Section 5.4.1) of type PROTOCOL_ERROR."
		if s.Val > 1 {
			return connError(ErrCodeProtocol, fmt.Sprintf("SETTINGS_ENABLE_PUSH value %d, want 0 or 1 (RFC 9113 §6.5.2)", s.Val))
		}
	case SettingInitialWindowSize:
		// RFC 9113 §6.5.2: "Values above the maximum flow-control window
		// size of 2^31-1 MUST be treated as a connection error (Section
		// 5.4.1) of type FLOW_CONTROL_ERROR."
		if s.Val > MaxWindowSize {
			return connError(ErrCodeFlowControl, fmt.Sprintf("SETTINGS_INITIAL_WINDOW_SIZE value %d exceeds 2^31-1 (RFC 9113 §6.5.2)", s.Val))
		}
	case SettingMaxFrameSize:
		// RFC 9113 §6.5.2: "The value advertised by an endpoint MUST be
		// between this initial value and the maximum allowed frame size
		// (2^24-1 or 16,777,215 octets), inclusive. Values outside this
		// range MUST be treated as a connection error (Section 5.4.1) of
		// type PROTOCOL_ERROR."
		if s.Val < DefaultMaxFrameSize || s.Val > MaxAllowedFrameSize {
			return connError(ErrCodeProtocol, fmt.Sprintf("SETTINGS_MAX_FRAME_SIZE value %d outside 16384..16777215 (RFC 9113 §6.5.2)", s.Val))
		}
	case SettingEnableConnectProtocol:
		// RFC 8441 §3: "The value of the parameter MUST be 0 or 1." It
		// names no error code; we treat a violation like one of
		// ENABLE_PUSH (§6.5.2): a connection error of type PROTOCOL_ERROR.
		if s.Val > 1 {
			return connError(ErrCodeProtocol, fmt.Sprintf("SETTINGS_ENABLE_CONNECT_PROTOCOL value %d, want 0 or 1 (RFC 8441 §3)", s.Val))
		}
	}
	return nil
}

func parsePushPromise(fr *Reader, h Header, p []byte) (Frame, error) {
	// RFC 9113 §6.6: "If the Stream Identifier field specifies the value
	// 0x00, a recipient MUST respond with a connection error (Section 5.4.1)
	// of type PROTOCOL_ERROR."
	if h.StreamID == 0 {
		return nil, errNeedStream(h, "§6.6")
	}
	p, padLen, err := readPadLen(h, p)
	if err != nil {
		return nil, err
	}
	if len(p) < 4 {
		// RFC 9113 §4.2: a frame "too small to contain mandatory frame
		// data" is a FRAME_SIZE_ERROR, and a connection error for a frame
		// carrying a field block.
		return nil, connError(ErrCodeFrameSize, "PUSH_PROMISE frame too short for the Promised Stream ID (RFC 9113 §4.2, §6.6)")
	}
	promised := binary.BigEndian.Uint32(p) & MaxStreamID
	p = p[4:]
	if int(padLen) > len(p) {
		return nil, errPadding(h, padLen, "§6.6")
	}
	// RFC 9113 §6.6: "A receiver MUST treat the receipt of a PUSH_PROMISE
	// that promises an illegal stream identifier (Section 5.1.1) as a
	// connection error (Section 5.4.1) of type PROTOCOL_ERROR." Stream 0 is
	// never legal; whether an even or odd identifier is legal, and whether
	// it is new, is for the connection to check.
	if promised == 0 {
		return nil, connError(ErrCodeProtocol, "PUSH_PROMISE frame promises stream 0x0 (RFC 9113 §6.6, §5.1.1)")
	}
	f := &fr.pushPromise
	*f = PushPromiseFrame{Header: h, PromisedID: promised, BlockFragment: p[:len(p)-int(padLen)], PadLen: padLen}
	return f, nil
}

func parsePing(fr *Reader, h Header, p []byte) (Frame, error) {
	// RFC 9113 §6.7: "Receipt of a PING frame with a length field value
	// other than 8 MUST be treated as a connection error (Section 5.4.1) of
	// type FRAME_SIZE_ERROR."
	if len(p) != 8 {
		return nil, connError(ErrCodeFrameSize, fmt.Sprintf("PING frame length %d, want 8 (RFC 9113 §6.7)", len(p)))
	}
	// RFC 9113 §6.7: "If a PING frame is received with a Stream Identifier
	// field value other than 0x00, the recipient MUST respond with a
	// connection error (Section 5.4.1) of type PROTOCOL_ERROR."
	if h.StreamID != 0 {
		return nil, errNeedNoStream(h, "§6.7")
	}
	f := &fr.ping
	*f = PingFrame{Header: h, Data: [8]byte(p)}
	return f, nil
}

func parseGoAway(fr *Reader, h Header, p []byte) (Frame, error) {
	// RFC 9113 §6.8: "An endpoint MUST treat a GOAWAY frame with a stream
	// identifier other than 0x00 as a connection error (Section 5.4.1) of
	// type PROTOCOL_ERROR."
	if h.StreamID != 0 {
		return nil, errNeedNoStream(h, "§6.8")
	}
	if len(p) < 8 {
		// RFC 9113 §4.2: a frame "too small to contain mandatory frame
		// data" is a FRAME_SIZE_ERROR; on stream 0 it is a connection error.
		return nil, connError(ErrCodeFrameSize, fmt.Sprintf("GOAWAY frame length %d, want at least 8 (RFC 9113 §4.2, §6.8)", len(p)))
	}
	f := &fr.goAway
	*f = GoAwayFrame{
		Header:       h,
		LastStreamID: binary.BigEndian.Uint32(p) & MaxStreamID, // §6.8: the reserved bit is ignored
		Code:         ErrCode(binary.BigEndian.Uint32(p[4:])),
		DebugData:    p[8:],
	}
	return f, nil
}

func parseWindowUpdate(fr *Reader, h Header, p []byte) (Frame, error) {
	// RFC 9113 §6.9: "A WINDOW_UPDATE frame with a length other than 4
	// octets MUST be treated as a connection error (Section 5.4.1) of type
	// FRAME_SIZE_ERROR."
	if len(p) != 4 {
		return nil, connError(ErrCodeFrameSize, fmt.Sprintf("WINDOW_UPDATE frame length %d, want 4 (RFC 9113 §6.9)", len(p)))
	}
	f := &fr.windowUpdate
	*f = WindowUpdateFrame{Header: h, Increment: binary.BigEndian.Uint32(p) & MaxWindowSize} // the reserved bit is ignored
	if f.Increment == 0 {
		// RFC 9113 §6.9: "A receiver MUST treat the receipt of a
		// WINDOW_UPDATE frame with a flow-control window increment of 0 as
		// a stream error (Section 5.4.2) of type PROTOCOL_ERROR; errors on
		// the connection flow-control window MUST be treated as a
		// connection error (Section 5.4.1)."
		if h.StreamID == 0 {
			return nil, connError(ErrCodeProtocol, "WINDOW_UPDATE frame with increment 0 on the connection (RFC 9113 §6.9)")
		}
		return f, streamError(h.StreamID, ErrCodeProtocol, "WINDOW_UPDATE frame with increment 0 (RFC 9113 §6.9)")
	}
	return f, nil
}

func parseContinuation(fr *Reader, h Header, p []byte) (Frame, error) {
	// RFC 9113 §6.10: "If a CONTINUATION frame is received with a Stream
	// Identifier field of 0x00, the recipient MUST respond with a connection
	// error (Section 5.4.1) of type PROTOCOL_ERROR." (The sequencing check
	// catches it first: no field block is ever open on stream 0.)
	if h.StreamID == 0 {
		return nil, errNeedStream(h, "§6.10")
	}
	f := &fr.continuation
	*f = ContinuationFrame{Header: h, BlockFragment: p}
	return f, nil
}

// parseUnknown returns frames of unknown types. RFC 9113 §4.1:
// "Implementations MUST ignore and discard frames of unknown types."
func parseUnknown(fr *Reader, h Header, p []byte) (Frame, error) {
	f := &fr.unknown
	*f = UnknownFrame{Header: h, Payload: p}
	return f, nil
}
