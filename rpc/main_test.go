package rpc

import (
	"testing"

	"github.com/h2rpc/h2rpc/internal/leakcheck"
)

// TestMain fails the run if goroutines of ours outlive the tests: every
// goroutine the package or conn starts must have an owner that ends it.
func TestMain(m *testing.M) { leakcheck.Main(m) }
