package protobuf_test

import (
	"fmt"
	"time"

	"github.com/h2rpc/h2rpc/protobuf"
	"github.com/h2rpc/h2rpc/rpc"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"
)

// A handler fails with typed details; the client reads them back.
func ExampleNewError() {
	err := protobuf.NewError(rpc.ResourceExhausted, "slow down",
		&errdetails.RetryInfo{RetryDelay: durationpb.New(2 * time.Second)},
		&errdetails.ErrorInfo{Reason: "RATE_LIMITED", Domain: "example.com"})

	// What the client gets is err as it came off the wire: a *rpc.Status
	// whose Details travel in grpc-status-details-bin.
	fmt.Println(rpc.CodeOf(err))
	if ri, ok := protobuf.Detail[*errdetails.RetryInfo](err); ok {
		fmt.Println("retry in", ri.RetryDelay.AsDuration())
	}
	details, _ := protobuf.Details(err)
	fmt.Println(len(details), "details")
	// Output:
	// ResourceExhausted
	// retry in 2s
	// 2 details
}
