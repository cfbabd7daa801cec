package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/h2rpc/h2rpc/frame"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

var update = flag.Bool("update", false, "rewrite the seed corpora in testdata/fuzz from seeds()")

// A seed is one named corpus entry: the configuration byte (see input) and
// the connection bytes.
type seed struct {
	name   string
	config byte
	stream []byte
}

// xnetFrames writes frames with x/net's Framer, the independent encoder the
// valid seeds come from. AllowIllegalWrites lets a few invalid frames
// through too.
func xnetFrames(write func(fr *http2.Framer)) []byte {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	fr.AllowIllegalWrites = true
	write(fr)
	return buf.Bytes()
}

// must fails the generator on an x/net write error.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// raw builds a frame byte by byte with an explicit Length field, which need
// not match the payload; the reserved bit of streamID is written as given.
func raw(length int, typ uint8, flags uint8, streamID uint32, payload ...[]byte) []byte {
	b := []byte{byte(length >> 16), byte(length >> 8), byte(length), typ, flags}
	b = binary.BigEndian.AppendUint32(b, streamID)
	for _, p := range payload {
		b = append(b, p...)
	}
	return b
}

// rawFit is raw with the Length field taken from the payload.
func rawFit(typ uint8, flags uint8, streamID uint32, payload ...[]byte) []byte {
	return raw(len(bytes.Join(payload, nil)), typ, flags, streamID, payload...)
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func set(id uint16, v uint32) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint16(nil, id), v)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// grpcRequestBlock is a typical gRPC request header block, HPACK-encoded by
// x/net's encoder.
func grpcRequestBlock() []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/grpc.testing.TestService/UnaryCall"},
		{Name: ":authority", Value: "localhost:50051"},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
		{Name: "grpc-timeout", Value: "1S"},
		{Name: "user-agent", Value: "grpc-go/1.85.0"},
	} {
		must(enc.WriteField(f))
	}
	return buf.Bytes()
}

// seeds returns every seed: valid frames of every type and variant, and one
// input per rejection the frame layer makes. FuzzReadFrame gets all of them;
// FuzzDifferential gets those without a preface (x/net's Framer does not
// read one).
func seeds() []seed {
	block := grpcRequestBlock()
	pingData := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	var s []seed
	add := func(name string, stream []byte) {
		s = append(s, seed{name: name, config: configByte(false, 0, 0), stream: stream})
	}
	addCfg := func(name string, config byte, stream []byte) {
		s = append(s, seed{name: name, config: config, stream: stream})
	}

	// Valid frames of every type, written by x/net.
	add("valid-data", xnetFrames(func(fr *http2.Framer) { must(fr.WriteData(1, false, []byte("hello, world"))) }))
	add("valid-data-end-stream-empty", xnetFrames(func(fr *http2.Framer) { must(fr.WriteData(3, true, nil)) }))
	add("valid-data-padded", xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteDataPadded(1, true, []byte("grpc message"), make([]byte, 7)))
	}))
	add("valid-data-padded-zero-pad", xnetFrames(func(fr *http2.Framer) { must(fr.WriteDataPadded(1, false, []byte("x"), []byte{})) }))
	add("valid-data-padded-only-padding", rawFit(0x0, 0x8, 5, []byte{3}, make([]byte, 3)))
	add("valid-headers", xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true}))
	}))
	add("valid-headers-end-stream-padded", xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndStream: true, EndHeaders: true, PadLength: 16}))
	}))
	add("valid-headers-priority", xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: block, EndHeaders: true,
			Priority: http2.PriorityParam{StreamDep: 3, Exclusive: true, Weight: 200}}))
	}))
	add("valid-headers-priority-padded", xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 7, BlockFragment: block, EndHeaders: true, PadLength: 3,
			Priority: http2.PriorityParam{StreamDep: 0, Weight: 15}}))
	}))
	add("valid-headers-continuation", xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:10]}))
		must(fr.WriteContinuation(1, false, block[10:20]))
		must(fr.WriteContinuation(1, true, block[20:]))
		must(fr.WriteData(1, true, []byte("after the block")))
	}))
	add("valid-priority", xnetFrames(func(fr *http2.Framer) { must(fr.WritePriority(3, http2.PriorityParam{StreamDep: 1, Weight: 31})) }))
	add("valid-priority-exclusive", xnetFrames(func(fr *http2.Framer) {
		must(fr.WritePriority(9, http2.PriorityParam{StreamDep: frame.MaxStreamID, Exclusive: true, Weight: 255}))
	}))
	add("valid-rst-stream", xnetFrames(func(fr *http2.Framer) { must(fr.WriteRSTStream(1, http2.ErrCodeCancel)) }))
	add("valid-rst-stream-unknown-code", xnetFrames(func(fr *http2.Framer) { must(fr.WriteRSTStream(1, 0xdeadbeef)) }))
	add("valid-settings", xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteSettings(
			http2.Setting{ID: http2.SettingHeaderTableSize, Val: 4096},
			http2.Setting{ID: http2.SettingEnablePush, Val: 0},
			http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100},
			http2.Setting{ID: http2.SettingInitialWindowSize, Val: frame.MaxWindowSize},
			http2.Setting{ID: http2.SettingMaxFrameSize, Val: frame.MaxAllowedFrameSize},
			http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: 16 << 10},
			http2.Setting{ID: 0x8, Val: 1},             // ENABLE_CONNECT_PROTOCOL
			http2.Setting{ID: 0xabcd, Val: 0xffffffff}, // unknown: ignored (§6.5.2)
		))
	}))
	add("valid-settings-empty", xnetFrames(func(fr *http2.Framer) { must(fr.WriteSettings()) }))
	add("valid-settings-ack", xnetFrames(func(fr *http2.Framer) { must(fr.WriteSettingsAck()) }))
	add("valid-settings-repeated", rawFit(0x4, 0, 0, set(0x4, 100), set(0x4, 200), set(0x5, 16384)))
	add("valid-push-promise", xnetFrames(func(fr *http2.Framer) {
		must(fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: block, EndHeaders: true}))
	}))
	add("valid-push-promise-padded", xnetFrames(func(fr *http2.Framer) {
		must(fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 4, BlockFragment: block, EndHeaders: true, PadLength: 9}))
	}))
	add("valid-push-promise-continuation", xnetFrames(func(fr *http2.Framer) {
		must(fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: block[:5]}))
		must(fr.WriteContinuation(1, true, block[5:]))
	}))
	add("valid-ping", xnetFrames(func(fr *http2.Framer) { must(fr.WritePing(false, pingData)) }))
	add("valid-ping-ack", xnetFrames(func(fr *http2.Framer) { must(fr.WritePing(true, pingData)) }))
	add("valid-goaway", xnetFrames(func(fr *http2.Framer) { must(fr.WriteGoAway(7, http2.ErrCodeNo, nil)) }))
	add("valid-goaway-debug", xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteGoAway(frame.MaxStreamID, http2.ErrCodeEnhanceYourCalm, []byte("too many pings")))
	}))
	add("valid-window-update-conn", xnetFrames(func(fr *http2.Framer) { must(fr.WriteWindowUpdate(0, 1<<20)) }))
	add("valid-window-update-stream-max", xnetFrames(func(fr *http2.Framer) { must(fr.WriteWindowUpdate(1, frame.MaxWindowSize)) }))
	add("valid-unknown-type", rawFit(0xa, 0xff, 3, []byte("extension payload")))
	add("valid-unknown-type-ff-empty", rawFit(0xff, 0, 0))
	add("valid-priority-update-type", rawFit(0x10, 0, 0, u32(1), []byte("u=1, i")))
	add("valid-reserved-bits-set", cat(
		rawFit(0x0, 0x1, 1|1<<31, []byte("reserved bit on the stream id")),
		rawFit(0x8, 0, 3|1<<31, u32(10|1<<31)),
		rawFit(0x7, 0, 0, u32(5|1<<31), u32(0)),
		rawFit(0x5, 0x4, 1, u32(2|1<<31), block),
	))
	add("valid-unused-flags", cat(
		rawFit(0x0, 0xf6, 1, []byte("flags 0xf6 carry no meaning on DATA")),
		rawFit(0x6, 0xfe, 0, pingData[:]),
		rawFit(0x3, 0xff, 1, u32(0)),
	))
	add("valid-conversation", cat(
		xnetFrames(func(fr *http2.Framer) {
			must(fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}))
			must(fr.WriteWindowUpdate(0, 1<<20))
			must(fr.WriteSettingsAck())
			must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true}))
			must(fr.WriteData(1, false, []byte{0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'}))
			must(fr.WriteData(1, true, nil))
			must(fr.WritePing(false, pingData))
			must(fr.WriteRSTStream(3, http2.ErrCodeCancel))
			must(fr.WriteGoAway(1, http2.ErrCodeNo, []byte("bye")))
		}),
	))
	addCfg("valid-preface-conversation", configByte(true, 0, 0), cat([]byte(frame.ClientPreface),
		xnetFrames(func(fr *http2.Framer) {
			must(fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100}))
			must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true, EndStream: true}))
		})))
	addCfg("valid-preface-one-byte-reads", configByte(true, 0, 1), cat([]byte(frame.ClientPreface),
		xnetFrames(func(fr *http2.Framer) { must(fr.WriteSettings()); must(fr.WritePing(false, pingData)) })))
	addCfg("valid-conversation-half-reads", configByte(false, 0, 2), xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true}))
		must(fr.WriteData(1, true, bytes.Repeat([]byte("x"), 1000)))
	}))
	addCfg("valid-field-block-flaky-one-byte-reads", configByte(false, 0, 1)|flakyBit, xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:10]}))
		must(fr.WriteContinuation(1, false, block[10:20]))
		must(fr.WriteContinuation(1, true, block[20:]))
		must(fr.WriteWindowUpdate(1, 1000))
	}))
	addCfg("valid-preface-conversation-flaky-reads", configByte(true, 0, 2)|flakyBit, cat([]byte(frame.ClientPreface),
		xnetFrames(func(fr *http2.Framer) {
			must(fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100}))
			must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true}))
			must(fr.WriteData(1, true, bytes.Repeat([]byte("y"), 5000)))
		})))
	addCfg("valid-data-with-eof-reads", configByte(false, 0, 3), xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteData(1, false, []byte("a")))
		must(fr.WriteData(1, true, []byte("b")))
	}))
	addCfg("valid-data-16384-at-max-set-to-100-clamped", configByte(false, 1, 0), xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteData(1, false, bytes.Repeat([]byte("a"), frame.DefaultMaxFrameSize)))
	}))
	addCfg("valid-data-20000-under-65535-max", configByte(false, 2, 0), xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteData(1, false, bytes.Repeat([]byte("b"), 20000)))
	}))

	// Truncated input: io.ErrUnexpectedEOF, never a frame.
	add("truncated-after-header", raw(5, 0x0, 0, 1))
	addCfg("truncated-http1-header-at-max-size", configByte(false, 3, 0), []byte("HTTP/1.1 "))
	add("truncated-header", []byte{0, 0, 8, 6, 0, 0, 0})
	add("truncated-payload", xnetFrames(func(fr *http2.Framer) { must(fr.WriteData(1, false, []byte("hello"))) })[:12])
	add("truncated-second-frame", cat(xnetFrames(func(fr *http2.Framer) { must(fr.WritePing(false, pingData)) }), []byte{0, 0, 4}))

	// Rejections, one per rule the frame layer checks.
	add("reject-data-stream-0", rawFit(0x0, 0, 0, []byte("data")))
	add("reject-data-padded-no-pad-length", raw(0, 0x0, 0x8, 1))
	add("reject-data-pad-too-long", rawFit(0x0, 0x8, 1, []byte{5}, []byte("abcd")))
	add("reject-headers-stream-0", rawFit(0x1, 0x4, 0, block))
	add("reject-headers-padded-no-pad-length", raw(0, 0x1, 0x4|0x8, 1))
	add("reject-headers-priority-short", rawFit(0x1, 0x4|0x20, 1, []byte{0, 0, 0, 3}))
	add("reject-headers-priority-padded-short", rawFit(0x1, 0x4|0x20|0x8, 1, []byte{0, 0, 0, 0, 3}))
	add("reject-headers-pad-too-long", rawFit(0x1, 0x4|0x8, 1, []byte{10}, block[:5]))
	add("reject-headers-priority-pad-too-long", rawFit(0x1, 0x4|0x8|0x20, 1, []byte{2}, u32(3), []byte{16}, []byte{0}))
	add("reject-headers-self-dependency", rawFit(0x1, 0x4|0x20, 3, u32(3), []byte{16}, block))
	add("reject-priority-stream-0", rawFit(0x2, 0, 0, u32(1), []byte{16}))
	add("reject-priority-length-4", cat(rawFit(0x2, 0, 1, u32(0)), xnetFrames(func(fr *http2.Framer) { must(fr.WritePing(false, pingData)) })))
	add("reject-priority-length-6", rawFit(0x2, 0, 1, u32(0), []byte{16, 0}))
	add("reject-priority-self-dependency", cat(rawFit(0x2, 0, 5, u32(5|1<<31), []byte{16}), rawFit(0x8, 0, 5, u32(1))))
	add("reject-rst-stream-stream-0", rawFit(0x3, 0, 0, u32(8)))
	add("reject-rst-stream-length-3", rawFit(0x3, 0, 1, []byte{0, 0, 8}))
	add("reject-rst-stream-length-5", rawFit(0x3, 0, 1, u32(8), []byte{0}))
	add("reject-settings-on-stream", rawFit(0x4, 0, 1, set(0x3, 100)))
	add("reject-settings-length-5", rawFit(0x4, 0, 0, set(0x3, 100)[:5]))
	add("reject-settings-length-7", rawFit(0x4, 0, 0, set(0x3, 100), []byte{0}))
	add("reject-settings-ack-with-payload", rawFit(0x4, 0x1, 0, set(0x3, 100)))
	add("reject-settings-enable-push-2", rawFit(0x4, 0, 0, set(0x2, 2)))
	add("reject-settings-initial-window-2to31", rawFit(0x4, 0, 0, set(0x4, 1<<31)))
	add("reject-settings-initial-window-2to31-after-legal", rawFit(0x4, 0, 0, set(0x4, 65535), set(0x4, 1<<31)))
	add("reject-settings-enable-push-2-before-bad-window", rawFit(0x4, 0, 0, set(0x2, 2), set(0x4, 1<<31)))
	add("reject-settings-max-frame-size-16383", rawFit(0x4, 0, 0, set(0x5, 16383)))
	add("reject-settings-max-frame-size-2to24", rawFit(0x4, 0, 0, set(0x5, 1<<24)))
	add("reject-settings-enable-connect-2", rawFit(0x4, 0, 0, set(0x8, 2)))
	add("reject-push-promise-stream-0", rawFit(0x5, 0x4, 0, u32(2), block))
	add("reject-push-promise-short", rawFit(0x5, 0x4, 1, []byte{0, 0, 2}))
	add("reject-push-promise-padded-short", rawFit(0x5, 0x4|0x8, 1, []byte{0, 0, 0, 2}))
	add("reject-push-promise-pad-too-long", rawFit(0x5, 0x4|0x8, 1, []byte{3}, u32(2), []byte{0, 0}))
	add("reject-push-promise-promises-0", rawFit(0x5, 0x4, 1, u32(0), block))
	add("reject-ping-length-7", rawFit(0x6, 0, 0, pingData[:7]))
	add("reject-ping-length-9", rawFit(0x6, 0, 0, pingData[:], []byte{9}))
	add("reject-ping-on-stream", rawFit(0x6, 0, 1, pingData[:]))
	add("reject-goaway-on-stream", rawFit(0x7, 0, 1, u32(0), u32(0)))
	add("reject-goaway-length-7", rawFit(0x7, 0, 0, u32(0), []byte{0, 0, 0}))
	add("reject-window-update-length-3", rawFit(0x8, 0, 1, []byte{0, 0, 1}))
	add("reject-window-update-length-5", rawFit(0x8, 0, 0, u32(1), []byte{0}))
	add("reject-window-update-zero-conn", rawFit(0x8, 0, 0, u32(0)))
	add("reject-window-update-zero-reserved-bit-conn", rawFit(0x8, 0, 0, u32(1<<31)))
	// A stream error: the reader goes on to the frames after it.
	add("reject-window-update-zero-stream-then-continue", cat(
		rawFit(0x8, 0, 1, u32(0)),
		xnetFrames(func(fr *http2.Framer) {
			must(fr.WriteData(1, false, []byte("still read")))
			must(fr.WriteWindowUpdate(0, 100))
		})))
	add("reject-continuation-without-headers", rawFit(0x9, 0x4, 1, block))
	add("reject-continuation-after-end-headers", xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true}))
		must(fr.WriteContinuation(1, true, nil))
	}))
	add("reject-continuation-wrong-stream", xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:10]}))
		must(fr.WriteContinuation(3, true, block[10:]))
	}))
	add("reject-continuation-stream-0", rawFit(0x9, 0x4, 0, block))
	add("reject-data-inside-header-block", xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:10]}))
		must(fr.WriteData(1, false, []byte("interleaved")))
	}))
	add("reject-ping-inside-push-promise-block", xnetFrames(func(fr *http2.Framer) {
		must(fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: block[:10]}))
		must(fr.WritePing(false, pingData))
	}))
	add("reject-headers-inside-header-block", xnetFrames(func(fr *http2.Framer) {
		must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:10]}))
		must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block, EndHeaders: true}))
	}))
	addCfg("reject-oversized-16385-at-max-set-to-100-clamped", configByte(false, 1, 0), raw(16385, 0x0, 0, 1))
	add("reject-oversized-data-16385", xnetFrames(func(fr *http2.Framer) { must(fr.WriteData(1, false, bytes.Repeat([]byte("c"), 16385))) }))
	add("reject-oversized-header-only", raw(0xffffff, 0x0, 0, 1))
	add("reject-oversized-settings", raw(1<<16, 0x4, 0, 0, set(0x3, 1)))
	addCfg("reject-oversized-65536-at-65535-max", configByte(false, 2, 0), raw(65536, 0x0, 0, 1))
	add("reject-http1-request", []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"))
	add("reject-http1-response", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"))

	// The preface: accepted exactly, rejected on the first differing byte.
	addCfg("preface-only", configByte(true, 0, 0), []byte(frame.ClientPreface))
	addCfg("preface-truncated", configByte(true, 0, 0), []byte(frame.ClientPreface[:20]))
	addCfg("preface-truncated-one-byte", configByte(true, 0, 0), []byte("P"))
	addCfg("preface-garbage-http1", configByte(true, 0, 0), []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	addCfg("preface-garbage-http10", configByte(true, 0, 1), []byte("PRI * HTTP/1.0\r\n\r\nSM\r\n\r\n"))
	addCfg("preface-garbage-last-byte", configByte(true, 0, 0), []byte(frame.ClientPreface[:23]+"X"))
	addCfg("preface-then-frame-without-preface", configByte(true, 0, 0),
		xnetFrames(func(fr *http2.Framer) { must(fr.WriteSettings()) }))
	return s
}

// corpusFile encodes a fuzz input in the go test corpus file format.
func corpusFile(data []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data)
}

// TestSeedCorpus checks that testdata/fuzz holds exactly the seeds seeds()
// generates, or with -update rewrites them, besides the inputs the fuzzer
// found (named by a hash of their content: make fuzz-long keeps the corpus
// it grows, and go test -fuzz saves failing inputs there), which it leaves
// alone.
func TestSeedCorpus(t *testing.T) {
	want := map[string]map[string][]byte{"FuzzReadFrame": {}, "FuzzDifferential": {}}
	for _, s := range seeds() {
		data := append([]byte{s.config}, s.stream...)
		want["FuzzReadFrame"][s.name] = corpusFile(data)
		if s.config&1 == 0 {
			want["FuzzDifferential"][s.name] = corpusFile(data)
		}
	}
	for target, files := range want {
		dir := filepath.Join("testdata", "fuzz", target)
		if *update {
			old, err := os.ReadDir(dir)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			for _, e := range old {
				if !fuzzerFound(e.Name()) {
					if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, content := range files {
				if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("%v (generate the corpus: go test ./fuzz -run TestSeedCorpus -update)", err)
		}
		var have []string
		for _, e := range entries {
			if fuzzerFound(e.Name()) {
				continue
			}
			have = append(have, e.Name())
			content, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			switch w, ok := files[e.Name()]; {
			case !ok:
				t.Errorf("%s/%s: not a generated seed; add it to seeds() or delete it", target, e.Name())
			case !bytes.Equal(content, w):
				t.Errorf("%s/%s: differs from the generated seed; run go test ./fuzz -run TestSeedCorpus -update", target, e.Name())
			}
		}
		for name := range files {
			if !slices.Contains(have, name) {
				t.Errorf("%s/%s: seed missing; run go test ./fuzz -run TestSeedCorpus -update", target, name)
			}
		}
	}
}

// fuzzerFound reports whether a corpus file name is one Go's fuzzer gives
// the inputs it finds: 16 lower-case hex digits of a hash of the content.
// Seed names are words, so the two never meet (TestSeedNames checks).
func fuzzerFound(name string) bool {
	if len(name) != 16 {
		return false
	}
	for _, c := range name {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// TestSeedNames keeps seed names unique and usable as file names.
func TestSeedNames(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range seeds() {
		if seen[s.name] || strings.ContainsAny(s.name, "/\\ ") || fuzzerFound(s.name) {
			t.Errorf("seed name %q is duplicated or not a plain file name", s.name)
		}
		seen[s.name] = true
	}
}

// TestSeedVerdicts checks that each seed does what its name says, so the
// corpus really covers every frame type and every rejection: valid-* seeds
// read to io.EOF without an error, reject-* seeds end in (or pass through)
// a connection or stream error, truncated-* seeds end in
// io.ErrUnexpectedEOF, and preface-* seeds are judged by ReadPreface.
func TestSeedVerdicts(t *testing.T) {
	types := map[frame.Type]bool{}
	for _, s := range seeds() {
		in := decodeInput(append([]byte{s.config}, s.stream...))
		fr := frame.NewReader(in.reader())
		if in.maxSize != 0 {
			fr.SetMaxFrameSize(in.maxSize)
		}
		var errs []error
		if in.preface {
			err := fr.ReadPreface()
			for errors.Is(err, errFlaky) {
				err = fr.ReadPreface()
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		for len(errs) == 0 || isStreamError(errs[len(errs)-1]) {
			f, err := fr.ReadFrame()
			if errors.Is(err, errFlaky) {
				continue
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			types[f.FrameHeader().Type] = true
		}
		last := errs[len(errs)-1]
		var ce *frame.ConnError
		switch prefix, _, _ := strings.Cut(s.name, "-"); prefix {
		case "valid":
			if len(errs) != 1 || last != io.EOF {
				t.Errorf("%s: errors %v, want only io.EOF", s.name, errs)
			}
		case "reject":
			if !errors.As(last, &ce) && !slices.ContainsFunc(errs, isStreamError) {
				t.Errorf("%s: errors %v, want a connection or stream error", s.name, errs)
			}
		case "truncated":
			if last != io.ErrUnexpectedEOF {
				t.Errorf("%s: errors %v, want io.ErrUnexpectedEOF", s.name, errs)
			}
		case "preface":
			var ok bool
			switch {
			case strings.Contains(s.name, "garbage") || strings.Contains(s.name, "without"):
				ok = errors.As(last, &ce) && ce.Code == frame.ErrCodeProtocol
			case strings.Contains(s.name, "truncated"):
				ok = last == io.ErrUnexpectedEOF
			default:
				ok = last == io.EOF && len(errs) == 1
			}
			if !ok {
				t.Errorf("%s: errors %v", s.name, errs)
			}
		default:
			t.Errorf("%s: name must start with valid-, reject-, truncated- or preface-", s.name)
		}
	}
	for typ := frame.TypeData; typ <= frame.TypeContinuation; typ++ {
		if !types[typ] {
			t.Errorf("no seed holds a valid %v frame", typ)
		}
	}
}

func isStreamError(err error) bool {
	var se *frame.StreamError
	return errors.As(err, &se)
}
