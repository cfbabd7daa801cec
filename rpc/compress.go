package rpc

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// A Compressor compresses whole messages for grpc-encoding (grpc
// doc/compression.md: compression acts on individual messages and no
// context is kept across message boundaries). Implementations must be safe
// for concurrent use.
type Compressor interface {
	// Name is the content-coding sent in grpc-encoding, such as "gzip".
	Name() string
	// AppendCompressed appends the compressed form of src to dst.
	AppendCompressed(dst, src []byte) ([]byte, error)
	// AppendDecompressed appends the decompressed form of src to dst. It
	// must fail with ErrTooLarge, without decompressing further, once the
	// output would exceed limit bytes: a small compressed message must not
	// be able to exhaust memory.
	AppendDecompressed(dst, src []byte, limit int) ([]byte, error)
}

// ErrTooLarge is returned by a Compressor whose output would exceed the limit.
var ErrTooLarge = errors.New("decompressed message exceeds the size limit")

// compressors is the registry: a copy-on-write snapshot, so looking a name
// up on every call takes no lock.
var compressors atomic.Pointer[compressorSet]

type compressorSet struct {
	byName map[string]Compressor
	accept string // the grpc-accept-encoding value: registered names, sorted, comma-separated
}

func init() { RegisterCompressor(Gzip) }

var registerMu sync.Mutex // serializes RegisterCompressor

// RegisterCompressor makes c available by its name to clients (the
// UseCompressor call option) and servers (requests with that grpc-encoding),
// and advertises it in grpc-accept-encoding. It replaces a compressor of the
// same name. Register compressors during initialization, before any calls.
// "identity" is reserved and may not be registered.
func RegisterCompressor(c Compressor) {
	name := c.Name()
	if name == "" || name == "identity" || strings.ContainsAny(name, ", ") {
		panic("rpc: RegisterCompressor: invalid compressor name " + `"` + name + `"`)
	}
	registerMu.Lock()
	defer registerMu.Unlock()
	next := &compressorSet{byName: map[string]Compressor{}}
	if cur := compressors.Load(); cur != nil {
		for k, v := range cur.byName {
			next.byName[k] = v
		}
	}
	next.byName[name] = c
	names := make([]string, 0, len(next.byName))
	for k := range next.byName {
		names = append(names, k)
	}
	sort.Strings(names)
	next.accept = strings.Join(names, ",")
	compressors.Store(next)
}

func compressorFor(name string) Compressor { return compressors.Load().byName[name] }

func acceptEncoding() string { return compressors.Load().accept }

// acceptsEncoding reports whether a grpc-accept-encoding list (comma
// separated, optional spaces) names enc.
func acceptsEncoding(list, enc string) bool {
	for list != "" {
		var item string
		item, list, _ = strings.Cut(list, ",")
		if strings.TrimSpace(item) == enc {
			return true
		}
	}
	return false
}

// Gzip is the gzip Compressor (RFC 1952, compress/gzip), registered under
// "gzip" by default.
var Gzip Compressor = gzipCompressor{}

type gzipCompressor struct{}

var (
	gzipWriters sync.Pool // *gzip.Writer
	gzipReaders sync.Pool // *gzip.Reader
)

func (gzipCompressor) Name() string { return "gzip" }

func (gzipCompressor) AppendCompressed(dst, src []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	w, _ := gzipWriters.Get().(*gzip.Writer)
	if w == nil {
		w = gzip.NewWriter(buf)
	} else {
		w.Reset(buf)
	}
	_, err := w.Write(src)
	if err == nil {
		err = w.Close()
	}
	w.Reset(io.Discard) // drop the reference to buf before pooling
	gzipWriters.Put(w)
	if err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}

func (gzipCompressor) AppendDecompressed(dst, src []byte, limit int) ([]byte, error) {
	r, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if r == nil {
		r, err = gzip.NewReader(bytes.NewReader(src))
	} else {
		err = r.Reset(bytes.NewReader(src))
	}
	if err != nil {
		return dst, err
	}
	defer gzipReaders.Put(r)
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		room := cap(dst) - len(dst)
		if over := len(dst) - start + room - limit; over > 0 {
			room -= over
			if room <= 0 {
				// Probe one byte past the limit: any more output is too much.
				var one [1]byte
				n, err := io.ReadFull(r, one[:])
				if n > 0 {
					return dst, ErrTooLarge
				}
				if err == io.EOF {
					return dst, nil
				}
				return dst, err
			}
		}
		n, err := r.Read(dst[len(dst) : len(dst)+room])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}
