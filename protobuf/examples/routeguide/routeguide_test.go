package routeguide_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The grpc-go program and its h2rpc port print the same.
func TestSameOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two programs")
	}
	run := func(dir string) string {
		t.Helper()
		out, err := exec.Command("go", "run", "./"+dir).CombinedOutput()
		if err != nil {
			t.Fatalf("go run ./%s: %v\n%s", dir, err, out)
		}
		return string(out)
	}
	grpcgo, h2rpc := run("grpcgo"), run("h2rpc")
	if grpcgo != h2rpc {
		t.Errorf("grpc-go printed\n%s\nh2rpc printed\n%s", grpcgo, h2rpc)
	}
	if !strings.Contains(h2rpc, "RecordRoute: 3 points, 2 features, distance 7") {
		t.Errorf("unexpected output:\n%s", h2rpc)
	}
}

// docs/services.md shows the whole difference between the two programs
// (past their doc comments).
func TestDocsShowTheDiff(t *testing.T) {
	out, err := exec.Command("diff", "-u", "grpcgo/main.go", "h2rpc/main.go").Output()
	if err == nil {
		t.Fatal("diff found no difference")
	}
	if _, ok := err.(*exec.ExitError); !ok {
		t.Skipf("diff: %v", err) // no diff(1) on this machine
	}
	docs, err := os.ReadFile("../../../docs/services.md")
	if err != nil {
		t.Fatal(err)
	}
	hunks := strings.Split(string(out), "\n@@")
	if len(hunks) < 3 {
		t.Fatalf("diff has %d hunks, want the doc comment's and more:\n%s", len(hunks)-1, out)
	}
	for _, h := range hunks[2:] {
		if !strings.Contains(string(docs), "@@"+h) {
			t.Errorf("docs/services.md lacks this hunk of the diff:\n@@%s", h)
		}
	}
}
