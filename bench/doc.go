// Package bench holds h2rpc's benchmarks against golang.org/x/net/http2. It
// is a nested module so its dependencies stay out of the core module.
//
//	cd bench && go test -run '^$' -bench 'ReadFrame|WriteFrame' -benchmem -count 5 ./...
//
// See docs/BENCHMARKS.md for the figures.
package bench
