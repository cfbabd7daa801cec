package h2rpcgen

import (
	"strings"
	"testing"
)

func TestOptionsSet(t *testing.T) {
	var o Options
	for _, p := range [][2]string{{"require_unimplemented_servers", "false"}, {"messages", "wire"}, {"messages", "generate"}, {"import_path", "example.com/x-y.z"}} {
		if err := o.Set(p[0], p[1]); err != nil {
			t.Fatalf("Set(%s, %s): %v", p[0], p[1], err)
		}
	}
	if o.RequireUnimplemented || !o.WireMessages || o.ImportPath != "example.com/x-y.z" {
		t.Errorf("options = %+v", o)
	}
	for _, p := range [][2]string{{"require_unimplemented_servers", "maybe"}, {"messages", "json"}, {"import_path", ""}, {"colour", "red"}} {
		if err := o.Set(p[0], p[1]); err == nil || !strings.Contains(err.Error(), p[0]) {
			t.Errorf("Set(%s, %q) = %v, want an error naming the parameter", p[0], p[1], err)
		}
	}
}
