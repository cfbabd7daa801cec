// Package tools is a nested module that pins the developer tools the
// Makefile runs as Go tool dependencies (go tool -modfile=tools/go.mod
// staticcheck), so the core module's go.mod stays free of them.
package tools
