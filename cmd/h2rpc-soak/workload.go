package main

// The workload: each worker makes calls of randomly chosen kinds, one after
// another, on its ClientConn, checks every message it receives, and records
// how each call ended. Whether that ending is allowed is judged later, by
// the phase, which knows when the server was down (see judge).

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/h2rpc/h2rpc/rpc"
)

// shape is a call's shape.
type shape int

const (
	unary shape = iota
	serverStream
	clientStream
	bidi
	nShapes
)

var shapeNames = [nShapes]string{"unary", "server-stream", "client-stream", "bidi"}

// A kind of call: its shape, the status it ends with when nothing goes
// wrong, and how to make one.
type kind struct {
	name   string
	shape  shape
	want   rpc.Code
	weight int
	call   func(w *worker, r *record)
}

// record is how one call went.
type record struct {
	kind      *kind
	start     time.Time
	end       time.Time
	firstRecv time.Time // when the first response message arrived; zero if none
	code      rpc.Code
	err       error
	bytes     int64  // message bytes sent and received
	problem   string // what was wrong with the messages received, if anything
}

// fail records the first problem with the call's messages.
func (r *record) fail(format string, a ...any) {
	if r.problem == "" {
		r.problem = fmt.Sprintf(format, a...)
	}
}

// received notes the arrival of a response message.
func (r *record) received(b []byte) {
	if r.firstRecv.IsZero() {
		r.firstRecv = time.Now()
	}
	r.bytes += int64(len(b))
}

var kinds = []*kind{
	{name: "unary", shape: unary, want: rpc.OK, weight: 30, call: (*worker).unary},
	{name: "unary-4MiB", shape: unary, want: rpc.OK, weight: 2, call: (*worker).unaryBig},
	{name: "unary-short-deadline", shape: unary, want: rpc.DeadlineExceeded, weight: 5, call: (*worker).unaryDeadline},
	{name: "unary-cancel", shape: unary, want: rpc.Canceled, weight: 5, call: (*worker).unaryCancel},
	{name: "download", shape: serverStream, want: rpc.OK, weight: 10, call: (*worker).download},
	{name: "download-cancel", shape: serverStream, want: rpc.Canceled, weight: 3, call: (*worker).downloadCancel},
	{name: "download-short-deadline", shape: serverStream, want: rpc.DeadlineExceeded, weight: 3, call: (*worker).downloadDeadline},
	{name: "upload", shape: clientStream, want: rpc.OK, weight: 10, call: (*worker).upload},
	{name: "upload-cancel", shape: clientStream, want: rpc.Canceled, weight: 2, call: (*worker).uploadCancel},
	{name: "chat", shape: bidi, want: rpc.OK, weight: 10, call: (*worker).chat},
	{name: "chat-cancel", shape: bidi, want: rpc.Canceled, weight: 3, call: (*worker).chatCancel},
}

// The kinds the stalled peers make (see stall.go).
var (
	stalledKind = &kind{name: "stalled-socket", shape: serverStream, want: rpc.DeadlineExceeded}
	unreadKind  = &kind{name: "unread-stream", shape: serverStream, want: rpc.Canceled}
	// besideUnreadKind is a unary call on a connection where other calls
	// are left unread.
	besideUnreadKind = &kind{name: "beside-unread", shape: unary, want: rpc.OK, call: (*worker).unary}
)

var totalWeight = func() int {
	n := 0
	for _, k := range kinds {
		n += k.weight
	}
	return n
}()

// worker makes calls on one ClientConn.
type worker struct {
	cc       *rpc.ClientConn
	rng      *rand.Rand
	ids      *atomic.Uint64
	big      int           // the size of a big message
	deadline time.Duration // the deadline of calls that should succeed
	gzip     bool          // cc compresses every call (WithCompressor)
}

// pick chooses the next call's kind.
func (w *worker) pick() *kind {
	n := w.rng.IntN(totalWeight)
	for _, k := range kinds {
		if n < k.weight {
			return k
		}
		n -= k.weight
	}
	return kinds[0]
}

// one makes one call of kind k.
func (w *worker) one(k *kind) record {
	r := record{kind: k, start: time.Now()}
	k.call(w, &r)
	r.end = time.Now()
	r.code = rpc.CodeOf(r.err)
	return r
}

// size returns a message size: mostly small, sometimes up to 64 KiB.
func (w *worker) size() int {
	if w.rng.IntN(4) == 0 {
		return headerLen + w.rng.IntN(64<<10-headerLen)
	}
	return headerLen + w.rng.IntN(1024)
}

// request returns the header of a new call's request and the call options
// that go with it: a quarter of calls compress their requests, a quarter
// ask for compressed responses (one ClientConn compresses all its calls).
// Compressed messages are compressible: gzip makes random bytes a little
// longer, and the size limit applies to a message as it travels too, so a
// 4 MiB random message would not fit once compressed.
func (w *worker) request(count, size, delay int, flags uint32) (msg, []rpc.CallOption) {
	m := msg{call: w.ids.Add(1), count: uint32(count), size: uint32(size), delay: uint32(delay), flags: flags}
	var opts []rpc.CallOption
	if w.gzip {
		m.flags |= flagCompressible
	} else if w.rng.IntN(4) == 0 {
		opts = append(opts, rpc.UseCompressor("gzip"))
		m.flags |= flagCompressible
	}
	if w.rng.IntN(4) == 0 {
		m.flags |= flagGzipReplies | flagCompressible
	}
	return m, opts
}

func (w *worker) invoke(ctx context.Context, r *record, req msg, reqSize int, opts []rpc.CallOption) {
	b := appendMsg(nil, req, reqSize)
	r.bytes += int64(len(b))
	var resp []byte
	r.err = w.cc.Invoke(ctx, echoMethod, b, &resp, opts...)
	if r.err != nil {
		return
	}
	r.received(resp)
	if _, err := checkMsg(resp, req.call, 0); err != nil {
		r.fail("response: %v", err)
	} else if len(resp) != max(int(req.size), headerLen) {
		r.fail("response of %d bytes, want %d", len(resp), req.size)
	}
}

func (w *worker) unary(r *record) {
	ctx, cancel := context.WithTimeout(context.Background(), w.deadline)
	defer cancel()
	req, opts := w.request(1, w.size(), 0, 0)
	w.invoke(ctx, r, req, w.size(), opts)
}

// unaryBig sends and receives messages of the largest size a call accepts
// by default.
func (w *worker) unaryBig(r *record) {
	ctx, cancel := context.WithTimeout(context.Background(), w.deadline)
	defer cancel()
	req, opts := w.request(1, w.big, 0, 0)
	w.invoke(ctx, r, req, w.big, opts)
}

// unaryDeadline's server holds the call until its deadline, 20-100ms away.
func (w *worker) unaryDeadline(r *record) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(20+w.rng.IntN(80))*time.Millisecond)
	defer cancel()
	req, opts := w.request(1, w.size(), 0, flagHold)
	w.invoke(ctx, r, req, w.size(), opts)
}

// unaryCancel's server holds the call until the client cancels it, 0-50ms
// after it starts.
func (w *worker) unaryCancel(r *record) {
	ctx, cancel := context.WithTimeout(context.Background(), w.deadline)
	defer cancel()
	ctx, cancelNow := context.WithCancel(ctx)
	t := time.AfterFunc(time.Duration(w.rng.IntN(50))*time.Millisecond, cancelNow)
	defer t.Stop()
	req, opts := w.request(1, w.size(), 0, flagHold)
	w.invoke(ctx, r, req, w.size(), opts)
}

// receive reads the responses of a server-streaming call until it ends,
// checking that they are want (seq 0, 1, ...) of req, and calls each(n)
// after the n-th; it returns how many arrived.
func receive(cs rpc.ClientStream, r *record, req msg, each func(n int)) int {
	var b []byte
	for n := 0; ; n++ {
		err := cs.RecvMsg(&b)
		if err != nil {
			if err != io.EOF {
				r.err = err
			}
			return n
		}
		r.received(b)
		if _, err := checkMsg(b, req.call, uint32(n)); err != nil {
			r.fail("response %d: %v", n, err)
		} else if len(b) != max(int(req.size), headerLen) {
			r.fail("response %d of %d bytes, want %d", n, len(b), req.size)
		}
		if each != nil {
			each(n + 1)
		}
	}
}

// startDownload opens a Download call and sends its request.
func (w *worker) startDownload(ctx context.Context, r *record, req msg, opts []rpc.CallOption) rpc.ClientStream {
	cs, err := w.cc.NewStream(ctx, downloadDesc, downloadMethod, opts...)
	if err != nil {
		r.err = err
		return nil
	}
	b := appendMsg(nil, req, headerLen)
	r.bytes += int64(len(b))
	if err := cs.SendMsg(b); err != nil && err != io.EOF {
		r.err = err
		return nil
	}
	if err := cs.CloseSend(); err != nil {
		r.err = err
		return nil
	}
	return cs
}

func (w *worker) download(r *record) {
	ctx, cancel := context.WithTimeout(context.Background(), w.deadline)
	defer cancel()
	count, size := 1+w.rng.IntN(50), w.size()
	if w.rng.IntN(10) == 0 {
		count, size = 1+w.rng.IntN(3), w.big
	}
	req, opts := w.request(count, size, 0, 0)
	cs := w.startDownload(ctx, r, req, opts)
	if cs == nil {
		return
	}
	if n := receive(cs, r, req, nil); r.err == nil && n != count {
		r.fail("%d responses, want %d", n, count)
	}
}

// downloadCancel cancels a slow download after 1-20 responses.
func (w *worker) downloadCancel(r *record) {
	ctx, cancel := context.WithTimeout(context.Background(), w.deadline)
	defer cancel()
	ctx, cancelNow := context.WithCancel(ctx)
	defer cancelNow()
	after := 1 + w.rng.IntN(20)
	req, opts := w.request(1<<20, w.size(), 2, 0)
	cs := w.startDownload(ctx, r, req, opts)
	if cs == nil {
		return
	}
	receive(cs, r, req, func(n int) {
		if n == after {
			cancelNow()
		}
	})
	if r.err == nil {
		r.fail("a cancelled download of %d messages ended OK", req.count)
	}
}

// downloadDeadline's server sends 0-5 responses, then holds the call until
// its deadline, 50-300ms away.
func (w *worker) downloadDeadline(r *record) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(50+w.rng.IntN(250))*time.Millisecond)
	defer cancel()
	req, opts := w.request(w.rng.IntN(6), w.size(), 0, flagHold)
	cs := w.startDownload(ctx, r, req, opts)
	if cs == nil {
		return
	}
	if n := receive(cs, r, req, nil); n > int(req.count) {
		r.fail("%d responses, want at most %d", n, req.count)
	}
}

// sendAll sends count requests of req on cs (sizes from size), stopping
// early if the call ends or stop is closed. It returns the error to report
// for the call if sending failed for a reason other than the call's end.
func sendAll(cs rpc.ClientStream, r *atomic.Int64, req msg, count int, size func() int, stop <-chan struct{}) error {
	for i := range count {
		select {
		case <-stop:
			return nil
		default:
		}
		m := req
		m.seq = uint32(i)
		b := appendMsg(nil, m, size())
		r.Add(int64(len(b)))
		if err := cs.SendMsg(b); err != nil {
			if err == io.EOF {
				return nil // the call ended; RecvMsg says how
			}
			return err
		}
	}
	return cs.CloseSend()
}

func (w *worker) upload(r *record) {
	ctx, cancel := context.WithTimeout(context.Background(), w.deadline)
	defer cancel()
	count := 1 + w.rng.IntN(50)
	size := w.size
	if w.rng.IntN(10) == 0 {
		count, size = 1+w.rng.IntN(3), func() int { return w.big }
	}
	req, opts := w.request(0, w.size(), 0, 0)
	w.doUpload(ctx, r, req, count, size, opts, nil)
}

// uploadCancel's server holds the call once all requests arrived; the
// client cancels it 0-50ms after it starts, possibly while still sending.
func (w *worker) uploadCancel(r *record) {
	ctx, cancel := context.WithTimeout(context.Background(), w.deadline)
	defer cancel()
	ctx, cancelNow := context.WithCancel(ctx)
	t := time.AfterFunc(time.Duration(w.rng.IntN(50))*time.Millisecond, cancelNow)
	defer t.Stop()
	req, opts := w.request(0, w.size(), 0, flagHold)
	w.doUpload(ctx, r, req, 1+w.rng.IntN(20), w.size, opts, nil)
}

func (w *worker) doUpload(ctx context.Context, r *record, req msg, count int, size func() int, opts []rpc.CallOption, stop <-chan struct{}) {
	cs, err := w.cc.NewStream(ctx, uploadDesc, uploadMethod, opts...)
	if err != nil {
		r.err = err
		return
	}
	var sent atomic.Int64
	serr := sendAll(cs, &sent, req, count, size, stop)
	r.bytes += sent.Load()
	var b []byte
	err = cs.RecvMsg(&b)
	switch {
	case err != nil:
		r.err = err
	case serr != nil:
		r.err = serr
		r.fail("sending failed (%v) but the call ended OK", serr)
	default:
		r.received(b)
		if m, err := checkMsg(b, req.call, 0); err != nil {
			r.fail("response: %v", err)
		} else if m.count != uint32(count) {
			r.fail("the server received %d requests, want %d", m.count, count)
		}
	}
}

func (w *worker) chat(r *record) {
	ctx, cancel := context.WithTimeout(context.Background(), w.deadline)
	defer cancel()
	count, size := 1+w.rng.IntN(50), w.size
	req, opts := w.request(1, w.size(), 0, 0)
	if w.rng.IntN(10) == 0 { // big requests, big responses, or both
		count = 1 + w.rng.IntN(3)
		switch w.rng.IntN(3) {
		case 0:
			size = func() int { return w.big }
		case 1:
			req.size = uint32(w.big)
		default:
			size = func() int { return w.big }
			req.size = uint32(w.big)
		}
	}
	w.doChat(ctx, r, req, count, size, opts, nil)
}

// chatCancel cancels a slow chat after 1-10 responses.
func (w *worker) chatCancel(r *record) {
	ctx, cancel := context.WithTimeout(context.Background(), w.deadline)
	defer cancel()
	ctx, cancelNow := context.WithCancel(ctx)
	defer cancelNow()
	after := 1 + w.rng.IntN(10)
	req, opts := w.request(1, w.size(), 2, 0)
	w.doChat(ctx, r, req, 1000, w.size, opts, func(n int) {
		if n == after {
			cancelNow()
		}
	})
	if r.err == nil {
		r.fail("a cancelled chat ended OK")
	}
}

// doChat sends count requests from one goroutine while this one receives
// the responses, one per request, in order.
func (w *worker) doChat(ctx context.Context, r *record, req msg, count int, size func() int, opts []rpc.CallOption, each func(n int)) {
	cs, err := w.cc.NewStream(ctx, chatDesc, chatMethod, opts...)
	if err != nil {
		r.err = err
		return
	}
	var sent atomic.Int64
	stop := make(chan struct{})
	sendErr := make(chan error, 1)
	sizes := make([]int, count) // the sender's sizes, drawn here: w.rng is not safe for concurrent use
	for i := range sizes {
		sizes[i] = size()
	}
	go func() {
		i := 0
		sendErr <- sendAll(cs, &sent, req, count, func() int { i++; return sizes[i-1] }, stop)
	}()
	n := receive(cs, r, req, each)
	close(stop)
	serr := <-sendErr
	r.bytes += sent.Load()
	if r.err == nil && serr != nil {
		r.err = serr
		r.fail("sending failed (%v) but the call ended OK", serr)
	}
	if r.err == nil && n != count {
		r.fail("%d responses to %d requests", n, count)
	}
}
