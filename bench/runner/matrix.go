package runner

import (
	"fmt"
	"slices"
	"strings"
)

// The scenarios.
const (
	ScenarioUnary       = "unary"        // unary calls, Concurrency in flight on one connection
	ScenarioStreamSmall = "stream-small" // server streaming of 16-byte messages
	ScenarioStreamBulk  = "stream-bulk"  // server streaming of 64 KiB messages
	ScenarioPingPong    = "pingpong"     // bidi, one message each way per round trip
	ScenarioConns       = "conns"        // Conns client connections, each making unary calls
	ScenarioHandshakes  = "handshakes"   // a new connection per call: dial (and TLS handshake), one unary call, close
)

// Scenarios lists the scenarios in report order.
var Scenarios = []string{ScenarioUnary, ScenarioStreamSmall, ScenarioStreamBulk, ScenarioPingPong, ScenarioConns, ScenarioHandshakes}

// A Cell is one scenario with its parameters: one row group of the report.
type Cell struct {
	Scenario    string `json:"scenario"`
	Size        int    `json:"size"`                  // payload bytes per message
	Concurrency int    `json:"concurrency,omitempty"` // calls in flight (unary, conns)
	Conns       int    `json:"conns,omitempty"`       // client connections (conns)
}

// Shape is the call shape the cell needs.
func (c Cell) Shape() Shape {
	switch c.Scenario {
	case ScenarioStreamSmall, ScenarioStreamBulk:
		return ShapeServerStream
	case ScenarioPingPong:
		return ShapeBidi
	}
	return ShapeUnary
}

// Params returns the cell's parameters as benchstat-style key=value path
// elements, such as "size=16/conc=256".
func (c Cell) Params() string {
	p := []string{fmt.Sprintf("size=%d", c.Size)}
	if c.Concurrency > 0 && (c.Scenario == ScenarioUnary || c.Scenario == ScenarioHandshakes) {
		p = append(p, fmt.Sprintf("conc=%d", c.Concurrency))
	}
	if c.Conns > 0 {
		p = append(p, fmt.Sprintf("conns=%d", c.Conns))
	}
	return strings.Join(p, "/")
}

// String names the cell: "unary/size=16/conc=1".
func (c Cell) String() string { return c.Scenario + "/" + c.Params() }

// streamCount is how many messages one stream call asks for: enough to
// amortize the call, few enough that a cell ends promptly after its time.
func (c Cell) streamCount() int {
	if c.Size >= 16<<10 {
		return 256
	}
	return 4096
}

// Matrix returns the cells of the default matrix (quick false) or of the
// quick one, restricted to scenarios (all if empty), with conns client
// connections for the conns scenario.
func Matrix(quick bool, scenarios []string, conns int) []Cell {
	var cells []Cell
	sizes, concs := []int{16, 1024}, []int{1, 16, 256}
	if quick {
		sizes, concs = []int{16}, []int{1, 16}
	}
	for _, s := range sizes {
		for _, c := range concs {
			cells = append(cells, Cell{Scenario: ScenarioUnary, Size: s, Concurrency: c})
		}
	}
	if !quick {
		// Large messages, where copies and window sizes show more than
		// syscalls and wake-ups do.
		for _, s := range []int{64 << 10, 1 << 20} {
			for _, c := range []int{1, 16} {
				cells = append(cells, Cell{Scenario: ScenarioUnary, Size: s, Concurrency: c})
			}
		}
	}
	cells = append(cells,
		Cell{Scenario: ScenarioStreamSmall, Size: 16, Concurrency: 1},
		Cell{Scenario: ScenarioStreamBulk, Size: 64 << 10, Concurrency: 1},
		Cell{Scenario: ScenarioPingPong, Size: 16, Concurrency: 1},
		Cell{Scenario: ScenarioConns, Size: 16, Concurrency: conns, Conns: conns},
		Cell{Scenario: ScenarioHandshakes, Size: 16, Concurrency: handshakeConcurrency},
	)
	if len(scenarios) == 0 {
		return cells
	}
	return slices.DeleteFunc(cells, func(c Cell) bool { return !slices.Contains(scenarios, c.Scenario) })
}

// handshakeConcurrency is how many new connections the handshakes scenario
// sets up at once.
const handshakeConcurrency = 4
