package pb_test

import (
	"fmt"

	"github.com/h2rpc/h2rpc/examples/messenger/pb"
)

// The client encodes a request; the server decodes it.
func Example() {
	req := &pb.StatusRequest{UserId: "researcher-01"}
	b, err := req.AppendWire(nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b)

	var got pb.StatusRequest
	if err := got.UnmarshalWire(b); err != nil {
		panic(err)
	}
	fmt.Println(got.UserId)
	// Output:
	// 0a 0d 72 65 73 65 61 72 63 68 65 72 2d 30 31
	// researcher-01
}

// A LearningUpdate with default fields writes only the rest: here, only
// progress (field 2) goes on the wire.
func ExampleLearningUpdate() {
	b, _ := (&pb.LearningUpdate{Progress: 25}).AppendWire(nil)
	fmt.Printf("% x\n", b)
	// Output: 10 19
}
