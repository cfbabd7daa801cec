package canvas_test

import (
	"testing"

	"github.com/h2rpc/h2rpc/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }
