package frame

import "encoding/binary"

// The Append functions encode one frame each onto b and return the extended
// slice, like strconv.AppendInt: they do not allocate when b has room. They
// do not validate their arguments (a connection passes legal values; tests
// may pass illegal ones); they only keep every field within its width,
// clearing the reserved bits of stream identifiers as RFC 9113 §4.1 asks.

// AppendFrameHeader appends a 9-byte frame header.
func AppendFrameHeader(b []byte, h Header) []byte {
	return append(b,
		byte(h.Length>>16), byte(h.Length>>8), byte(h.Length),
		byte(h.Type), byte(h.Flags),
		byte(h.StreamID>>24)&0x7f, byte(h.StreamID>>16), byte(h.StreamID>>8), byte(h.StreamID))
}

func appendHeader(b []byte, length int, t Type, flags Flags, streamID uint32) []byte {
	return AppendFrameHeader(b, Header{Length: uint32(length), Type: t, Flags: flags, StreamID: streamID})
}

func appendPriority(b []byte, p PriorityParam) []byte {
	v := p.StreamDep & MaxStreamID
	if p.Exclusive {
		v |= 1 << 31
	}
	return append(binary.BigEndian.AppendUint32(b, v), p.Weight)
}

// appendPadding appends n zero octets. RFC 9113 §6.1: "Padding octets MUST
// be set to zero when sending."
func appendPadding(b []byte, n uint8) []byte {
	for range n {
		b = append(b, 0)
	}
	return b
}

func flagIf(cond bool, f Flags) Flags {
	if cond {
		return f
	}
	return 0
}

// AppendData appends an unpadded DATA frame.
func AppendData(b []byte, streamID uint32, endStream bool, data []byte) []byte {
	b = appendHeader(b, len(data), TypeData, flagIf(endStream, FlagEndStream), streamID)
	return append(b, data...)
}

// AppendHeaders appends an unpadded HEADERS frame without priority.
func AppendHeaders(b []byte, streamID uint32, endStream, endHeaders bool, fragment []byte) []byte {
	flags := flagIf(endStream, FlagEndStream) | flagIf(endHeaders, FlagEndHeaders)
	b = appendHeader(b, len(fragment), TypeHeaders, flags, streamID)
	return append(b, fragment...)
}

// AppendContinuation appends a CONTINUATION frame.
func AppendContinuation(b []byte, streamID uint32, endHeaders bool, fragment []byte) []byte {
	b = appendHeader(b, len(fragment), TypeContinuation, flagIf(endHeaders, FlagEndHeaders), streamID)
	return append(b, fragment...)
}

// AppendPriority appends a PRIORITY frame.
func AppendPriority(b []byte, streamID uint32, p PriorityParam) []byte {
	return appendPriority(appendHeader(b, 5, TypePriority, 0, streamID), p)
}

// AppendRSTStream appends a RST_STREAM frame.
func AppendRSTStream(b []byte, streamID uint32, code ErrCode) []byte {
	return binary.BigEndian.AppendUint32(appendHeader(b, 4, TypeRSTStream, 0, streamID), uint32(code))
}

// AppendSettings appends a SETTINGS frame carrying settings.
func AppendSettings(b []byte, settings ...Setting) []byte {
	b = appendHeader(b, 6*len(settings), TypeSettings, 0, 0)
	return appendSettingList(b, settings)
}

func appendSettingList(b []byte, settings []Setting) []byte {
	for _, s := range settings {
		b = binary.BigEndian.AppendUint16(b, uint16(s.ID))
		b = binary.BigEndian.AppendUint32(b, s.Val)
	}
	return b
}

// AppendSettingsAck appends an empty SETTINGS frame with the ACK flag.
func AppendSettingsAck(b []byte) []byte {
	return appendHeader(b, 0, TypeSettings, FlagAck, 0)
}

// AppendPushPromise appends an unpadded PUSH_PROMISE frame.
func AppendPushPromise(b []byte, streamID, promisedID uint32, endHeaders bool, fragment []byte) []byte {
	b = appendHeader(b, 4+len(fragment), TypePushPromise, flagIf(endHeaders, FlagEndHeaders), streamID)
	b = binary.BigEndian.AppendUint32(b, promisedID&MaxStreamID)
	return append(b, fragment...)
}

// AppendPing appends a PING frame.
func AppendPing(b []byte, ack bool, data [8]byte) []byte {
	b = appendHeader(b, 8, TypePing, flagIf(ack, FlagAck), 0)
	return append(b, data[:]...)
}

// AppendGoAway appends a GOAWAY frame.
func AppendGoAway(b []byte, lastStreamID uint32, code ErrCode, debug []byte) []byte {
	b = appendHeader(b, 8+len(debug), TypeGoAway, 0, 0)
	b = binary.BigEndian.AppendUint32(b, lastStreamID&MaxStreamID)
	b = binary.BigEndian.AppendUint32(b, uint32(code))
	return append(b, debug...)
}

// AppendWindowUpdate appends a WINDOW_UPDATE frame.
func AppendWindowUpdate(b []byte, streamID, increment uint32) []byte {
	b = appendHeader(b, 4, TypeWindowUpdate, 0, streamID)
	return binary.BigEndian.AppendUint32(b, increment&MaxWindowSize)
}

// The AppendTo methods encode what the struct holds: the header's flags
// and stream identifier, and the payload its fields describe (the pad length
// field and padding when Flags has FlagPadded, the priority fields when
// Flags has FlagPriority). Header.Length and Header.Type are ignored and
// recomputed, except for UnknownFrame, whose Type is kept. Nothing is
// validated, so tests can build frames that break the rules.

// paddedLen returns the payload length of a frame whose body is n octets,
// with the Pad Length field and padding when flags asks for them.
func paddedLen(flags Flags, n int, padLen uint8) int {
	if flags.Has(FlagPadded) {
		return 1 + n + int(padLen)
	}
	return n
}

// AppendTo appends the frame's wire encoding to b.
func (f *DataFrame) AppendTo(b []byte) []byte {
	b = appendHeader(b, paddedLen(f.Flags, len(f.Data), f.PadLen), TypeData, f.Flags, f.StreamID)
	if !f.Flags.Has(FlagPadded) {
		return append(b, f.Data...)
	}
	b = append(append(b, f.PadLen), f.Data...)
	return appendPadding(b, f.PadLen)
}

// AppendTo appends the frame's wire encoding to b.
func (f *HeadersFrame) AppendTo(b []byte) []byte {
	n := len(f.BlockFragment)
	if f.Flags.Has(FlagPriority) {
		n += 5
	}
	b = appendHeader(b, paddedLen(f.Flags, n, f.PadLen), TypeHeaders, f.Flags, f.StreamID)
	if f.Flags.Has(FlagPadded) {
		b = append(b, f.PadLen)
	}
	if f.Flags.Has(FlagPriority) {
		b = appendPriority(b, f.Priority)
	}
	b = append(b, f.BlockFragment...)
	if f.Flags.Has(FlagPadded) {
		b = appendPadding(b, f.PadLen)
	}
	return b
}

// AppendTo appends the frame's wire encoding to b.
func (f *PriorityFrame) AppendTo(b []byte) []byte {
	return appendPriority(appendHeader(b, 5, TypePriority, f.Flags, f.StreamID), f.PriorityParam)
}

// AppendTo appends the frame's wire encoding to b.
func (f *RSTStreamFrame) AppendTo(b []byte) []byte {
	return binary.BigEndian.AppendUint32(appendHeader(b, 4, TypeRSTStream, f.Flags, f.StreamID), uint32(f.Code))
}

// AppendTo appends the frame's wire encoding to b: the entries of Settings,
// or, for a frame returned by a Reader (Settings nil), the settings it read.
func (f *SettingsFrame) AppendTo(b []byte) []byte {
	if f.Settings == nil && f.payload != nil {
		b = appendHeader(b, len(f.payload), TypeSettings, f.Flags, f.StreamID)
		return append(b, f.payload...)
	}
	b = appendHeader(b, 6*len(f.Settings), TypeSettings, f.Flags, f.StreamID)
	return appendSettingList(b, f.Settings)
}

// AppendTo appends the frame's wire encoding to b.
func (f *PushPromiseFrame) AppendTo(b []byte) []byte {
	b = appendHeader(b, paddedLen(f.Flags, 4+len(f.BlockFragment), f.PadLen), TypePushPromise, f.Flags, f.StreamID)
	if f.Flags.Has(FlagPadded) {
		b = append(b, f.PadLen)
	}
	b = binary.BigEndian.AppendUint32(b, f.PromisedID&MaxStreamID)
	b = append(b, f.BlockFragment...)
	if f.Flags.Has(FlagPadded) {
		b = appendPadding(b, f.PadLen)
	}
	return b
}

// AppendTo appends the frame's wire encoding to b.
func (f *PingFrame) AppendTo(b []byte) []byte {
	return append(appendHeader(b, 8, TypePing, f.Flags, f.StreamID), f.Data[:]...)
}

// AppendTo appends the frame's wire encoding to b.
func (f *GoAwayFrame) AppendTo(b []byte) []byte {
	b = appendHeader(b, 8+len(f.DebugData), TypeGoAway, f.Flags, f.StreamID)
	b = binary.BigEndian.AppendUint32(b, f.LastStreamID&MaxStreamID)
	b = binary.BigEndian.AppendUint32(b, uint32(f.Code))
	return append(b, f.DebugData...)
}

// AppendTo appends the frame's wire encoding to b.
func (f *WindowUpdateFrame) AppendTo(b []byte) []byte {
	b = appendHeader(b, 4, TypeWindowUpdate, f.Flags, f.StreamID)
	return binary.BigEndian.AppendUint32(b, f.Increment&MaxWindowSize)
}

// AppendTo appends the frame's wire encoding to b.
func (f *ContinuationFrame) AppendTo(b []byte) []byte {
	b = appendHeader(b, len(f.BlockFragment), TypeContinuation, f.Flags, f.StreamID)
	return append(b, f.BlockFragment...)
}

// AppendTo appends the frame's wire encoding to b, keeping its Type.
func (f *UnknownFrame) AppendTo(b []byte) []byte {
	b = appendHeader(b, len(f.Payload), f.Type, f.Flags, f.StreamID)
	return append(b, f.Payload...)
}
