module github.com/h2rpc/h2rpc/bench

go 1.26.0

require (
	github.com/h2rpc/h2rpc v0.0.0
	golang.org/x/net v0.62.0
)

require golang.org/x/text v0.43.0 // indirect

replace github.com/h2rpc/h2rpc => ../
