package runner

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func init() { Register(grpcPerfSystem{}) }

// grpcPerfSystem is grpcSystem tuned the way grpc-go's own benchmarks and
// performance guides tune it: larger read and write buffers and large
// fixed flow-control windows (setting them turns off grpc-go's BDP
// estimator, whose windows stop growing at 16 MiB anyway). The shared
// write buffer, the other option those guides name, is grpc-go's default
// since v1.85. Ratios are still taken to plain grpc, its defaults being
// what users get.
type grpcPerfSystem struct{}

func (grpcPerfSystem) Name() string        { return "grpc-perf" }
func (grpcPerfSystem) Supports(Shape) bool { return true }

// The grpc-perf windows and buffers.
const (
	grpcPerfStreamWindow = 4 << 20
	grpcPerfConnWindow   = 16 << 20
	grpcPerfBuffer       = 256 << 10
)

func (grpcPerfSystem) Start() (Server, error) {
	return startGRPC(
		grpc.InitialWindowSize(grpcPerfStreamWindow),
		grpc.InitialConnWindowSize(grpcPerfConnWindow),
		grpc.ReadBufferSize(grpcPerfBuffer),
		grpc.WriteBufferSize(grpcPerfBuffer),
	)
}

func (grpcPerfSystem) Dial(addr string, _ DialOptions) (Client, error) {
	return dialGRPC(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(grpcPerfStreamWindow),
		grpc.WithInitialConnWindowSize(grpcPerfConnWindow),
		grpc.WithReadBufferSize(grpcPerfBuffer),
		grpc.WithWriteBufferSize(grpcPerfBuffer),
	)
}
