package runner

import (
	"testing"
)

// TestTLSRatiosAndChecks: the -tls systems are compared with grpc-tls, the
// others with grpc, and the TLS targets judge the TLS ratio against the
// h2c one.
func TestTLSRatiosAndChecks(t *testing.T) {
	res := func(sys string, ops float64) SystemResult {
		return SystemResult{System: sys, Figures: Figures{OpsPerSec: ops, P99: 1}}
	}
	unary := CellReport{Cell: Cell{Scenario: ScenarioUnary, Size: 16, Concurrency: 16},
		Results: []SystemResult{res("h2rpc", 300), res("grpc", 100), res("h2rpc-tls", 250), res("grpc-tls", 100)}}
	bulk := CellReport{Cell: Cell{Scenario: ScenarioStreamBulk, Size: 64 << 10, Concurrency: 1},
		Results: []SystemResult{res("h2rpc", 300), res("grpc", 100), res("h2rpc-tls", 400), res("grpc-tls", 100)}}
	hs := CellReport{Cell: Cell{Scenario: ScenarioHandshakes, Size: 16, Concurrency: 4},
		Results: []SystemResult{res("h2rpc-tls", 90), res("grpc-tls", 100)}}
	for _, cr := range []*CellReport{&unary, &bulk, &hs} {
		setRatios(cr)
	}
	if got := unary.Results[2].Ratio; got != 2.5 {
		t.Errorf("h2rpc-tls ratio %v, want 2.5 (to grpc-tls)", got)
	}
	if got := unary.Results[0].Ratio; got != 3 {
		t.Errorf("h2rpc ratio %v, want 3 (to grpc)", got)
	}
	want := map[string]bool{
		"unary/size=16/conc=16":     false, // 2.5× over TLS < 3× on h2c
		"stream-bulk/size=65536":    true,  // 4× ≥ 3×
		"handshakes/size=16/conc=4": false, // 0.9× grpc-tls
	}
	seen := 0
	for _, c := range Checks(&Report{Cells: []CellReport{unary, bulk, hs}}) {
		w, ok := want[c.Cell]
		if !ok || (c.Target != "TLS ratio to grpc-tls ≥ h2c ratio to grpc" && c.Target != "new TLS connections/s ≥ grpc-tls") {
			continue
		}
		seen++
		if c.Pass != w {
			t.Errorf("%s %s: pass %v (%s), want %v", c.Cell, c.Target, c.Pass, c.Got, w)
		}
	}
	if seen != 3 {
		t.Errorf("%d TLS checks, want 3", seen)
	}
}
