module github.com/h2rpc/h2rpc/protobuf/cmd/protoc-gen-go-h2rpc

go 1.26.0

require google.golang.org/protobuf v1.36.12
