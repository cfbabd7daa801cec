package h2test

import (
	"fmt"
	"reflect"
	"strings"
)

// Diff returns "" if want and got are deeply equal (nil and empty slices
// count as equal), else a description of the difference: the fields that
// differ, one per line, as "-want" and "+got".
//
// (The root module allows go-cmp in _test files only, see deps_test.go, and
// this package is imported by other packages' tests; so it carries this
// small differ instead.)
func Diff(want, got any) string {
	var b strings.Builder
	diffValue(&b, "", reflect.ValueOf(want), reflect.ValueOf(got))
	return b.String()
}

func diffValue(b *strings.Builder, path string, w, g reflect.Value) {
	if !w.IsValid() || !g.IsValid() {
		if w.IsValid() != g.IsValid() {
			fmt.Fprintf(b, "%s:\n\t-%v\n\t+%v\n", orRoot(path), show(w), show(g))
		}
		return
	}
	if w.Type() != g.Type() {
		fmt.Fprintf(b, "%s: type -%v +%v\n", orRoot(path), w.Type(), g.Type())
		return
	}
	switch w.Kind() {
	case reflect.Pointer, reflect.Interface:
		if w.IsNil() || g.IsNil() {
			if w.IsNil() != g.IsNil() {
				fmt.Fprintf(b, "%s:\n\t-%v\n\t+%v\n", orRoot(path), show(w), show(g))
			}
			return
		}
		diffValue(b, path, w.Elem(), g.Elem())
	case reflect.Struct:
		for i := range w.NumField() {
			if !w.Type().Field(i).IsExported() {
				continue
			}
			diffValue(b, path+"."+w.Type().Field(i).Name, w.Field(i), g.Field(i))
		}
	case reflect.Slice, reflect.Array:
		if w.Len() != g.Len() {
			fmt.Fprintf(b, "%s: length -%d +%d\n\t-%v\n\t+%v\n", orRoot(path), w.Len(), g.Len(), show(w), show(g))
			return
		}
		for i := range w.Len() {
			diffValue(b, fmt.Sprintf("%s[%d]", path, i), w.Index(i), g.Index(i))
		}
	default:
		if !reflect.DeepEqual(w.Interface(), g.Interface()) {
			fmt.Fprintf(b, "%s:\n\t-%v\n\t+%v\n", orRoot(path), show(w), show(g))
		}
	}
}

func show(v reflect.Value) any {
	if !v.IsValid() {
		return "<nil>"
	}
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
		return fmt.Sprintf("%q", v.Bytes())
	}
	return v.Interface()
}

func orRoot(path string) string {
	if path == "" {
		return "(value)"
	}
	return path
}
