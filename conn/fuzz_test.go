package conn_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/h2rpc/h2rpc/conn"
	"github.com/h2rpc/h2rpc/frame"
	"github.com/h2rpc/h2rpc/hpack"
)

// FuzzServer feeds a server connection the client preface, an empty
// SETTINGS frame and then arbitrary bytes. Whatever they are, the server must
// not panic or hang, and Close must end every goroutine it started (the
// leak check in TestMain and synctest's own check catch those).
func FuzzServer(f *testing.F) {
	enc := hpack.NewEncoder()
	var b []byte
	b = frame.AppendHeaders(b, 1, false, true, enc.AppendBlock(nil, request("/")...))
	b = frame.AppendData(b, 1, true, []byte("hello"))
	f.Add(b)
	b = frame.AppendSettingsAck(nil)
	b = frame.AppendHeaders(b, 3, false, false, enc.AppendBlock(nil, request("/x")...))
	b = frame.AppendContinuation(b, 3, true, nil)
	b = frame.AppendWindowUpdate(b, 0, 100)
	b = frame.AppendRSTStream(b, 3, frame.ErrCodeCancel)
	b = frame.AppendPing(b, false, [8]byte{1})
	b = frame.AppendGoAway(b, 0, frame.ErrCodeNo, nil)
	f.Add(b)
	f.Add(frame.AppendData(nil, 1, false, make([]byte, 100)))
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			a, peer := net.Pipe()
			c, err := conn.Server(a, &conn.Config{MaxConcurrentStreams: 4, InitialWindowSize: 1000}, echo)
			if err != nil {
				t.Fatal(err)
			}
			drained := make(chan struct{})
			go func() {
				io.Copy(io.Discard, peer)
				close(drained)
			}()
			in := append([]byte(frame.ClientPreface), frame.AppendSettings(nil)...)
			peer.Write(append(in, data...))
			synctest.Wait()
			c.Close()
			peer.Close()
			<-drained
		})
	})
}

// FuzzClient does the same to a client with two streams open: the server's
// side of the connection is arbitrary bytes after an empty SETTINGS frame.
func FuzzClient(f *testing.F) {
	enc := hpack.NewEncoder()
	var b []byte
	b = frame.AppendSettingsAck(b)
	b = frame.AppendHeaders(b, 1, false, true, enc.AppendBlock(nil, status200...))
	b = frame.AppendData(b, 1, false, []byte("hello"))
	b = frame.AppendHeaders(b, 1, true, true, enc.AppendBlock(nil, trailerOK...))
	f.Add(b)
	b = frame.AppendGoAway(nil, 1, frame.ErrCodeNo, []byte("bye"))
	b = frame.AppendWindowUpdate(b, 3, 1000)
	b = frame.AppendRSTStream(b, 3, frame.ErrCodeNo)
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			a, peer := net.Pipe()
			c, err := conn.Client(a, &conn.Config{InitialWindowSize: 1000})
			if err != nil {
				t.Fatal(err)
			}
			drained := make(chan struct{})
			go func() {
				io.Copy(io.Discard, peer)
				close(drained)
			}()
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					s, err := c.OpenStream(context.Background(), request("/"), nil, 0)
					if err != nil {
						return
					}
					go s.WriteData(nil, make([]byte, 70000), true)
					s.ReadHeaders()
					io.Copy(io.Discard, s)
				})
			}
			peer.Write(append(frame.AppendSettings(nil), data...))
			synctest.Wait()
			c.Close()
			peer.Close()
			<-drained
			wg.Wait()
		})
	})
}
