package testservice_test

import (
	"testing"

	"github.com/h2rpc/h2rpc/internal/leakcheck"
)

// TestMain fails the run if goroutines of h2rpc outlive the tests: the
// cases' streams and connections must all end, cancelled ones included.
func TestMain(m *testing.M) { leakcheck.Main(m) }
