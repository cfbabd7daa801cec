package interop

// Graceful stops across independent stacks, both ways: a server stopped
// (SIGTERM) while a FullDuplexCall is open sends GOAWAY and lets the call go
// on to its end; the client sees every response and status OK.
//
//	JSClient_OurServer, PythonClient_OurServer: grpc-js and grpcio run the
//	  "drain" case of their clients against cmd/server, which they stop;
//	OurClient_JSServer, OurClient_PythonServer: our client against the
//	  grpc-js and grpcio servers (tryShutdown; stop with a grace period).

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/rpc"
)

func TestGracefulStopAcrossPeers(t *testing.T) {
	// ourServer starts cmd/server and returns its address and process.
	ourServer := func(t *testing.T) (string, *peerProcess) {
		bin := sharedBuild(t, "h2rpc-interop-server", "./cmd/server")
		p, first := startPeer(t, "", bin, []string{"--port=0", "--use_tls=false"}, nil)
		return p.waitAddress(t, first), p
	}
	// stopped checks that the server exited cleanly after its drain.
	stopped := func(t *testing.T, p *peerProcess) {
		select {
		case <-p.exited:
			if p.err != nil {
				t.Errorf("cmd/server exited with %v after SIGTERM", p.err)
			}
		case <-time.After(30 * time.Second):
			t.Error("cmd/server still running 30s after SIGTERM")
		}
	}

	t.Run("JSClient_OurServer", func(t *testing.T) {
		node, dir := grpcJS(t)
		addr, p := ourServer(t)
		out, err := runPeer(dir, node, "client.js", "--addr="+addr, "--descriptors="+testingDescriptors(t),
			"--test_case=drain", "--server_pid="+strconv.Itoa(p.cmd.Process.Pid))
		if err != nil || !strings.Contains(out, "PASS drain") {
			t.Errorf("client.js --test_case=drain: %v\n%s", err, out)
		}
		stopped(t, p)
	})

	t.Run("PythonClient_OurServer", func(t *testing.T) {
		python, dir := grpcPython(t)
		addr, p := ourServer(t)
		out, err := runPeer(dir, python, "client.py", "--addr="+addr, "--descriptors="+testingDescriptors(t),
			"--test_case=drain", "--server_pid="+strconv.Itoa(p.cmd.Process.Pid))
		if err != nil || !strings.Contains(out, "PASS drain") {
			t.Errorf("client.py --test_case=drain: %v\n%s", err, out)
		}
		stopped(t, p)
	})

	t.Run("OurClient_JSServer", func(t *testing.T) {
		node, dir := grpcJS(t)
		p, first := startPeer(t, dir, node, []string{"server.js", "--port=0", "--descriptors=" + testingDescriptors(t)}, nil)
		drainPeerServer(t, p, p.waitAddress(t, first))
	})

	t.Run("OurClient_PythonServer", func(t *testing.T) {
		python, dir := grpcPython(t)
		p, first := startPeer(t, dir, python, []string{"server.py", "--port=0", "--descriptors=" + testingDescriptors(t)}, nil)
		drainPeerServer(t, p, p.waitAddress(t, first))
	})
}

// drainPeerServer opens a FullDuplexCall to the peer server at addr, stops
// the server after the first response and checks that the call goes on to
// its end with status OK.
func drainPeerServer(t *testing.T, p *peerProcess, addr string) {
	t.Helper()
	cc, err := testservice.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	desc := &rpc.StreamDesc{StreamName: "FullDuplexCall", ServerStreams: true, ClientStreams: true}
	cs, err := cc.NewStream(ctx, desc, testservice.FullDuplexCallMethod)
	if err != nil {
		t.Fatal(err)
	}
	req := &testpb.StreamingOutputCallRequest{
		ResponseParameters: []*testpb.ResponseParameters{{Size: 1000}},
		Payload:            &testpb.Payload{Body: make([]byte, 100)},
	}
	for i := range 3 {
		if err := cs.SendMsg(req); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		var resp testpb.StreamingOutputCallResponse
		if err := cs.RecvMsg(&resp); err != nil {
			t.Fatalf("response %d: %v", i+1, err)
		}
		if n := len(resp.GetPayload().GetBody()); n != 1000 {
			t.Fatalf("response %d: %d bytes, want 1000", i+1, n)
		}
		if i == 0 {
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
		time.Sleep(200 * time.Millisecond) // for the GOAWAY to arrive; the call must go on either way
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := cs.RecvMsg(new(testpb.StreamingOutputCallResponse)); !errors.Is(err, io.EOF) {
		t.Errorf("end of the call across the drain: %v, want io.EOF (status OK)", err)
	}
}
