package conn_test

import (
	"testing"

	"github.com/h2rpc/h2rpc/internal/leakcheck"
)

// TestMain fails the run if any goroutine of this module outlives the
// tests: every goroutine a connection starts must end with it.
func TestMain(m *testing.M) { leakcheck.Main(m) }
