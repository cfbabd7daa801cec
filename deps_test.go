package h2rpc_test

// The layering of h2rpc is policy, checked here (after Go's own
// src/go/build/deps_test.go): each of our packages may import only the
// packages of ours listed for it, and the core module imports nothing outside
// the standard library but golang.org/x/net. A new package must be added here.

import (
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const modulePath = "github.com/h2rpc/h2rpc"

// allowed maps each package directory of the core module to the packages of
// ours it may import (tests included). External imports are checked separately.
var allowed = map[string][]string{
	".":              nil,
	"frame":          nil,
	"flowcontrol":    nil,
	"wire":           nil,
	"wire/wellknown": {"wire"},
	"hpack":          nil,
	"stream":         {"frame", "flowcontrol"},
	// trace records and draws frames; conn's tracer hook is an interface
	// it satisfies, so conn does not import it.
	"trace": {"frame", "hpack", "internal/h2test", "internal/leakcheck"},
	"conn":  {"frame", "hpack", "flowcontrol", "stream", "internal/linger", "internal/h2test", "internal/leakcheck"},
	"rpc":   {"conn", "hpack", "wire", "frame", "internal/h2test", "internal/leakcheck", "internal/devcert"},
	// h2tls is TLS for conn and rpc, apart so that they do not link
	// crypto/tls (TestNoTLSWithoutH2TLS).
	"h2tls": {"conn", "rpc", "frame", "hpack", "internal/linger", "internal/leakcheck", "internal/devcert"},
	// health and reflection are services on rpc, messages encoded with wire.
	"health":                        {"rpc", "wire", "internal/leakcheck"},
	"reflection":                    {"rpc", "wire", "reflection/internal/wellknown", "internal/leakcheck"},
	"reflection/internal/wellknown": nil,
	"internal/h2test":               {"frame", "hpack"},
	"internal/leakcheck":            nil,
	"internal/linger":               nil,
	"internal/devcert":              nil,
	"internal/cluster":              {"rpc", "conn", "internal/leakcheck"},
	"fuzz":                          {"*"},
	"cmd/h2rpc":                     {"*"},
	"cmd/h2rpc-soak":                {"rpc", "internal/leakcheck"},
	"examples/*":                    {"rpc", "h2tls", "wire", "reflection", "examples/*", "internal/leakcheck", "internal/devcert"},
}

func allowedFor(dir string) ([]string, bool) {
	if a, ok := allowed[dir]; ok {
		return a, true
	}
	for k, a := range allowed {
		if strings.HasSuffix(k, "/*") && strings.HasPrefix(dir, strings.TrimSuffix(k, "*")) {
			return a, true
		}
	}
	return nil, false
}

func permits(list []string, imp string) bool {
	for _, a := range list {
		if a == "*" || a == imp || (strings.HasSuffix(a, "/*") && strings.HasPrefix(imp, strings.TrimSuffix(a, "*"))) {
			return true
		}
	}
	return false
}

func TestDependencyDirection(t *testing.T) {
	var dirs []string
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		if path != "." {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // a nested module: its own rules
			}
		}
		dirs = append(dirs, filepath.ToSlash(path))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				continue
			}
			t.Fatalf("%s: %v", dir, err)
		}
		list, ok := allowedFor(dir)
		if !ok {
			t.Errorf("package %q is not listed in deps_test.go: add it with the packages it may import", dir)
			continue
		}
		imports := append(append(append([]string{}, pkg.Imports...), pkg.TestImports...), pkg.XTestImports...)
		for _, imp := range imports {
			switch {
			case imp == modulePath:
				if dir != "." {
					t.Errorf("%s imports the root package", dir)
				}
			case strings.HasPrefix(imp, modulePath+"/"):
				rel := strings.TrimPrefix(imp, modulePath+"/")
				if rel == dir {
					continue
				}
				if !permits(list, rel) {
					t.Errorf("%s may not import %s (see deps_test.go and docs/ARCHITECTURE.md)", dir, rel)
				}
			case isStdlib(imp):
			case strings.HasPrefix(imp, "golang.org/x/net/"):
				if dir == "frame" || dir == "flowcontrol" || dir == "wire" || dir == "stream" {
					if !inTestOnly(pkg, imp) {
						t.Errorf("%s may import only the standard library, not %s", dir, imp)
					}
				}
			case strings.HasPrefix(imp, "github.com/google/go-cmp/"):
				// go-cmp is for tests: test files, and internal/h2test, a
				// package only tests import.
				if dir != "internal/h2test" && !inTestOnly(pkg, imp) {
					t.Errorf("%s imports %s outside tests", dir, imp)
				}
			default:
				t.Errorf("%s imports %s: the core module allows only the standard library, golang.org/x/net and (tests) go-cmp", dir, imp)
			}
		}
	}
}

// TestNoTLSWithoutH2TLS: the packages a program needs for HTTP/2 and gRPC
// without TLS do not import crypto/tls or crypto/x509, even indirectly:
// importing them links their ciphers and self-tests (about a megabyte
// stripped) into every program, TLS or not. TLS lives in h2tls.
func TestNoTLSWithoutH2TLS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	pkgs := []string{"./frame", "./hpack", "./flowcontrol", "./stream", "./wire", "./conn", "./rpc", "./health", "./reflection"}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "crypto/tls" || dep == "crypto/x509" {
			t.Errorf("one of %v imports %s: a program without TLS would link it", pkgs, dep)
		}
	}
}

func inTestOnly(pkg *build.Package, imp string) bool {
	for _, i := range pkg.Imports {
		if i == imp {
			return false
		}
	}
	return true
}

func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}
