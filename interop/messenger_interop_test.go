package interop

// grpc-go calls `h2rpc serve`, the lab's LearningMessenger, and gets the
// lab's answers. The messages are encoded and decoded here with protobuf-go's
// protowire, independently of examples/messenger/pb, and carried by a raw
// codec: what h2rpc sends is checked byte for byte as protobuf, not by the
// code that produced it.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"
)

// rawCodec is a grpc-go codec passing messages through as bytes. Its name
// is "proto", so calls carry content-type application/grpc+proto.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
	}
	return b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*p = append((*p)[:0], data...)
	return nil
}

// protoFields encodes string fields (number, value); "" is left out, as
// proto3 leaves out default values.
func protoFields(kv ...any) []byte {
	var b []byte
	for i := 0; i < len(kv); i += 2 {
		num, v := protowire.Number(kv[i].(int)), kv[i+1].(string)
		if v == "" {
			continue
		}
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendString(b, v)
	}
	return b
}

// decodeFields decodes a message of string and varint fields into
// number → value (strings as they are, varints in decimal).
func decodeFields(t *testing.T, b []byte) map[int]string {
	t.Helper()
	out := map[int]string{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, n := protowire.ConsumeString(b)
			if n < 0 {
				t.Fatalf("field %d: %v", num, protowire.ParseError(n))
			}
			out[int(num)], b = v, b[n:]
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				t.Fatalf("field %d: %v", num, protowire.ParseError(n))
			}
			out[int(num)], b = fmt.Sprint(int32(v)), b[n:]
		default:
			t.Fatalf("field %d has wire type %d; the messenger uses strings and varints only", num, typ)
		}
	}
	return out
}

// startServe runs `h2rpc serve --addr 127.0.0.1:0 args...`; cleanup sends
// SIGTERM and expects a clean exit.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(h2rpcBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Stderr = io.Discard
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		close(first)
		io.Copy(io.Discard, stdout) // the log lines, until the server exits
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("serve did not exit cleanly after SIGTERM: %v", err)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Error("serve still running 30s after SIGTERM: killed")
		}
	})
	select {
	case addr, ok := <-first:
		if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Fatalf("serve printed %q instead of its address", addr)
		}
		return addr
	case <-time.After(30 * time.Second):
		t.Fatal("serve printed no address within 30s")
		return ""
	}
}

func TestGRPCGoCallsServe(t *testing.T) {
	addr := startServe(t, "--delay", "1ms", "-q")
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("GetLearningStatus", func(t *testing.T) {
		var resp []byte
		if err := cc.Invoke(ctx, "/messenger.LearningMessenger/GetLearningStatus", protoFields(1, "researcher-01"), &resp); err != nil {
			t.Fatal(err)
		}
		got := decodeFields(t, resp)
		if got[1] != "System ready for research. Status check OK." || got[2] != "1" || len(got) != 2 {
			t.Errorf("StatusResponse %v", got)
		}
	})

	t.Run("StreamLearnings", func(t *testing.T) {
		desc := &grpc.StreamDesc{ServerStreams: true}
		cs, err := cc.NewStream(ctx, desc, "/messenger.LearningMessenger/StreamLearnings")
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.SendMsg(protoFields(1, "gRPC Protocols")); err != nil {
			t.Fatal(err)
		}
		if err := cs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		want := []string{
			"Searching for research papers on gRPC Protocols...",
			"Analyzing core principles of gRPC Protocols...",
			"Synthesizing key gRPC use cases...",
			"Finalizing the consolidated report.",
		}
		clock := regexp.MustCompile(`^\d\d:\d\d:\d\d$`)
		for i := 0; ; i++ {
			var m []byte
			err := cs.RecvMsg(&m)
			if errors.Is(err, io.EOF) {
				if i != len(want) {
					t.Errorf("%d updates, want %d", i, len(want))
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got := decodeFields(t, m)
			if i >= len(want) || got[1] != want[i] || got[2] != fmt.Sprint(25*(i+1)) || !clock.MatchString(got[3]) {
				t.Errorf("update %d: %v", i+1, got)
			}
		}
	})

	t.Run("SubmitResearchNotes", func(t *testing.T) {
		cs, err := cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, "/messenger.LearningMessenger/SubmitResearchNotes")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"Note 1: gRPC uses HTTP/2 Multiplexing", "Note 4: Typed interface contracts"} {
			if err := cs.SendMsg(protoFields(1, n)); err != nil {
				t.Fatal(err)
			}
		}
		if err := cs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		var resp []byte
		if err := cs.RecvMsg(&resp); err != nil {
			t.Fatal(err)
		}
		got := decodeFields(t, resp)
		if got[1] != "2" || got[2] != "Processed 2 notes. Key takeaway: Note 4: Typed interface contracts" {
			t.Errorf("SummaryResponse %v", got)
		}
	})

	t.Run("CollaborativeFeed", func(t *testing.T) {
		cs, err := cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, "/messenger.LearningMessenger/CollaborativeFeed")
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range [][2]string{{"Engineer", "Initializing system..."}, {"QA", "Verifying latency..."}} {
			if err := cs.SendMsg(protoFields(1, u[0], 2, u[1])); err != nil {
				t.Fatal(err)
			}
			var m []byte
			if err := cs.RecvMsg(&m); err != nil {
				t.Fatal(err)
			}
			got := decodeFields(t, m)
			if got[1] != "System" || got[2] != "Acknowledged "+u[0]+"'s update: "+u[1] {
				t.Errorf("acknowledgement %v", got)
			}
		}
		if err := cs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		var m []byte
		if err := cs.RecvMsg(&m); !errors.Is(err, io.EOF) {
			t.Errorf("after CloseSend: %v, want io.EOF", err)
		}
	})
}
