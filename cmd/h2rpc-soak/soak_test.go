package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/internal/leakcheck"
	"github.com/h2rpc/h2rpc/rpc"
)

// TestMain serves as the soak's child server when the harness re-executes
// the test binary, and checks for leaked goroutines otherwise.
func TestMain(m *testing.M) {
	if addr, ok := os.LookupEnv(serverEnv); ok {
		os.Exit(serveChild(addr, os.Stdin, os.Stdout, os.Stderr))
	}
	leakcheck.Main(m)
}

// TestSoak runs every phase once, compressed into about a second each,
// and wants no violations, and evidence that each disturbance happened:
// calls of every shape and every expected status, UNAVAILABLE among them.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of soak")
	}
	cfg := defaultConfig()
	cfg.duration = 0 // one phase of each kind
	cfg.phase = time.Second
	cfg.conns = 2
	cfg.workers = 2
	cfg.down = 200 * time.Millisecond
	cfg.big = 256 << 10 // 4 MiB messages under -race on a loaded machine take seconds
	if raceEnabled {
		// The race detector's shadow memory grows with what the heap
		// touched and does not shrink with it.
		cfg.limits.rssFactor = 0
	}
	cfg.seed = 1
	// The stall phase also leaves streams unread on a workload connection
	// and checks that a call beside them goes on (conn returns connection
	// credit on arrival up to Config.MaxBufferedData): they are cancelled
	// only after that call ends, so a call that waited for them would end
	// at its deadline, while a call that is merely slow passes. Under the
	// race detector the stall phase's 1 MiB messages cost hundreds of
	// milliseconds of CPU on a loaded 2-core machine: the phases are
	// longer there, for the unread streams to fill their windows first.
	cfg.shared = true
	if raceEnabled {
		cfg.phase = 2 * time.Second
	}
	var log bytes.Buffer
	cfg.log = &log
	phases, err := run(cfg)
	var out strings.Builder
	n := report(&out, phases)
	t.Logf("\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, log.String())
	}
	if n > 0 {
		t.Fatalf("%d violations\nlog:\n%s", n, log.String())
	}
	var names []string
	var calls [nShapes]int
	codes := map[rpc.Code]int{}
	for _, p := range phases {
		names = append(names, p.name)
		for s, n := range p.calls {
			calls[s] += n
		}
		for c, n := range p.codes {
			codes[c] += n
		}
	}
	if got, want := strings.Join(names, " "), "warmup steady kill drain stall"; got != want {
		t.Errorf("phases %q, want %q", got, want)
	}
	for s, n := range calls {
		if n == 0 {
			t.Errorf("no %s calls", shapeNames[s])
		}
	}
	for _, c := range []rpc.Code{rpc.OK, rpc.Canceled, rpc.DeadlineExceeded, rpc.Unavailable} {
		if codes[c] == 0 {
			t.Errorf("no call ended %v", c)
		}
	}
	for _, p := range phases {
		if p.serverAfter.goroutines == 0 || p.clientAfter.goroutines == 0 {
			t.Errorf("%s phase: usage not measured: client %+v, server %+v", p.name, p.clientAfter, p.serverAfter)
		}
	}
}

// The messages catch what they are meant to catch.
func TestCheckMsg(t *testing.T) {
	for _, compressible := range []bool{false, true} {
		var flags uint32
		if compressible {
			flags = flagCompressible
		}
		m := msg{call: 7, seq: 3, count: 9, size: 100, delay: 2, flags: flags}
		b := appendMsg(nil, m, 1000)
		if len(b) != 1000 {
			t.Fatalf("appendMsg made %d bytes, want 1000", len(b))
		}
		if got, err := checkMsg(b, 7, 3); err != nil || got != m {
			t.Fatalf("checkMsg = %+v, %v; want %+v", got, err, m)
		}
		bad := map[string]func() error{
			"another call":  func() error { _, err := checkMsg(b, 8, 3); return err },
			"a lost one":    func() error { _, err := checkMsg(b, 7, 2); return err },
			"truncated":     func() error { _, err := checkMsg(b[:999], 7, 3); return err },
			"too short":     func() error { _, err := checkMsg(b[:headerLen-1], 7, 3); return err },
			"no magic":      func() error { c := bytes.Clone(b); c[0]++; _, err := checkMsg(c, 7, 3); return err },
			"flipped bit":   func() error { c := bytes.Clone(b); c[500] ^= 1; _, err := checkMsg(c, 7, 3); return err },
			"header change": func() error { c := bytes.Clone(b); c[16]++; _, err := checkMsg(c, 7, 4); return err },
		}
		for name, check := range bad {
			if check() == nil {
				t.Errorf("compressible %v: %s message passes checkMsg", compressible, name)
			}
		}
	}
	if a, b := appendMsg(nil, msg{call: 1}, 4096), appendMsg(nil, msg{call: 2}, 4096); bytes.Equal(a[headerLen:], b[headerLen:]) {
		t.Error("two calls' messages have the same filler")
	}
}

func kindNamed(t *testing.T, name string) *kind {
	for _, k := range kinds {
		if k.name == name {
			return k
		}
	}
	t.Fatalf("no kind %q", name)
	return nil
}

// judge allows UNAVAILABLE only around the server's outages, and never for
// a call a graceful drain should have let finish.
func TestJudge(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	grace := 100 * time.Millisecond
	unavailable := rpc.Errorf(rpc.Unavailable, "connection closed")
	ok := kinds[0]
	tests := []struct {
		name    string
		windows []window
		r       record
		want    string // a substring of the violation; "" for none
	}{
		{"OK", nil, record{kind: ok, start: at(0), end: at(10)}, ""},
		{"content", nil, record{kind: ok, start: at(0), end: at(10), problem: "message 3 arrived where 2 was due"}, "where 2 was due"},
		{"wrong status", nil, record{kind: ok, start: at(0), end: at(10), code: rpc.Internal, err: errors.New("x")}, fmt.Sprintf("ended %v, want %v", rpc.Internal, rpc.OK)},
		{"want deadline", nil, record{kind: kindNamed(t, "unary-short-deadline"), start: at(0), end: at(10)}, fmt.Sprintf("ended %v, want %v", rpc.OK, rpc.DeadlineExceeded)},
		{"unavailable, server up", nil, record{kind: ok, start: at(0), end: at(10), code: rpc.Unavailable, err: unavailable}, "server up"},
		{"unavailable in kill", []window{{kind: "kill", start: at(5), end: at(50)}},
			record{kind: ok, start: at(0), end: at(10), code: rpc.Unavailable, err: unavailable}, ""},
		{"unavailable in grace", []window{{kind: "kill", start: at(5), end: at(50)}},
			record{kind: ok, start: at(120), end: at(130), code: rpc.Unavailable, err: unavailable}, ""},
		{"unavailable after grace", []window{{kind: "kill", start: at(5), end: at(50)}},
			record{kind: ok, start: at(200), end: at(210), code: rpc.Unavailable, err: unavailable}, "server up"},
		{"unavailable before window", []window{{kind: "kill", start: at(500), end: at(600)}},
			record{kind: ok, start: at(0), end: at(10), code: rpc.Unavailable, err: unavailable}, "server up"},
		{"drain cuts an answered call", []window{{kind: "drain", start: at(5), end: at(50), graceful: true}},
			record{kind: kindNamed(t, "download"), start: at(0), end: at(10), firstRecv: at(2), code: rpc.Unavailable, err: unavailable}, "graceful drain"},
		{"drain refuses a new call", []window{{kind: "drain", start: at(5), end: at(50), graceful: true}},
			record{kind: kindNamed(t, "download"), start: at(6), end: at(10), code: rpc.Unavailable, err: unavailable}, ""},
		{"forced drain", []window{{kind: "drain", start: at(5), end: at(50)}},
			record{kind: kindNamed(t, "download"), start: at(0), end: at(10), firstRecv: at(2), code: rpc.Unavailable, err: unavailable}, ""},
	}
	for _, tt := range tests {
		p := &phase{windows: tt.windows}
		got := p.judge(&tt.r, grace)
		if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: judge = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// --help and bad flags exit without running.
func TestFlags(t *testing.T) {
	if code := runMain([]string{"--help"}, io.Discard, io.Discard); code != 0 {
		t.Errorf("--help: exit %d, want 0", code)
	}
	if code := runMain([]string{"--conns", "0"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("--conns 0: exit %d, want 2", code)
	}
}
