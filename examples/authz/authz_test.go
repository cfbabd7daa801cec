package authz_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"

	"github.com/h2rpc/h2rpc/examples/authz"
	"github.com/h2rpc/h2rpc/examples/messenger"
	"github.com/h2rpc/h2rpc/examples/messenger/pb"
	"github.com/h2rpc/h2rpc/h2tls"
	"github.com/h2rpc/h2rpc/internal/devcert"
	"github.com/h2rpc/h2rpc/internal/leakcheck"
	"github.com/h2rpc/h2rpc/rpc"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

const (
	researcher = "spiffe://example.org/researcher"
	intern     = "spiffe://example.org/intern"
)

var policy = authz.Policy{
	researcher: {"/messenger.LearningMessenger/*"},
	intern:     {"/messenger.LearningMessenger/GetLearningStatus"},
}

func TestAllows(t *testing.T) {
	for _, tc := range []struct {
		id, method string
		want       bool
	}{
		{researcher, "/messenger.LearningMessenger/StreamLearnings", true},
		{intern, "/messenger.LearningMessenger/GetLearningStatus", true},
		{intern, "/messenger.LearningMessenger/StreamLearnings", false},
		{intern, "/other.Service/GetLearningStatus", false},
		{"spiffe://example.org/stranger", "/messenger.LearningMessenger/GetLearningStatus", false},
		{researcher, "/messenger.LearningMessengerX/GetLearningStatus", false},
	} {
		if got := policy.Allows(tc.id, tc.method); got != tc.want {
			t.Errorf("Allows(%s, %s) = %v", tc.id, tc.method, got)
		}
	}
	if !(authz.Policy{"x": {"*"}}).Allows("x", "/a.B/C") {
		t.Error(`"*" does not allow every method`)
	}
}

// TestPolicyOverMutualTLS: the intern may ask for the status but not
// stream learnings, the researcher may do both, and a client without a
// certificate may do neither.
func TestPolicyOverMutualTLS(t *testing.T) {
	ca := devcert.MustAuthority("example CA")
	serverCert := ca.MustIssue(devcert.Leaf{CommonName: "messenger", Names: []string{"127.0.0.1"}, Server: true})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(append(policy.ServerOptions(), h2tls.Server(&tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientCAs:    ca.Pool(),
		// Certificates are checked when given; the policy refuses calls
		// without one as UNAUTHENTICATED.
		ClientAuth: tls.VerifyClientCertIfGiven,
	}))...)
	messenger.RegisterLearningMessengerServer(srv, &messenger.Server{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() {
		srv.Stop()
		<-served
	}()

	client := func(id string) messenger.LearningMessengerClient {
		cfg := &tls.Config{RootCAs: ca.Pool()}
		if id != "" {
			cfg.Certificates = []tls.Certificate{ca.MustIssue(devcert.Leaf{URIs: []string{id}, Client: true})}
		}
		cc, err := rpc.Dial(lis.Addr().String(), h2tls.Client(cfg))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return messenger.NewLearningMessengerClient(cc)
	}
	status := func(c messenger.LearningMessengerClient) rpc.Code {
		_, err := c.GetLearningStatus(context.Background(), &pb.StatusRequest{UserId: "u"})
		return rpc.CodeOf(err)
	}
	stream := func(c messenger.LearningMessengerClient) rpc.Code {
		s, err := c.StreamLearnings(context.Background(), &pb.TopicRequest{Topic: "t"})
		if err != nil {
			return rpc.CodeOf(err)
		}
		for {
			if _, err := s.Recv(); err == io.EOF {
				return rpc.OK
			} else if err != nil {
				return rpc.CodeOf(err)
			}
		}
	}
	for _, tc := range []struct {
		id           string
		status, strm rpc.Code
	}{
		{researcher, rpc.OK, rpc.OK},
		{intern, rpc.OK, rpc.PermissionDenied},
		{"", rpc.Unauthenticated, rpc.Unauthenticated},
	} {
		c := client(tc.id)
		if got := status(c); got != tc.status {
			t.Errorf("%q GetLearningStatus: %v, want %v", tc.id, got, tc.status)
		}
		if got := stream(c); got != tc.strm {
			t.Errorf("%q StreamLearnings: %v, want %v", tc.id, got, tc.strm)
		}
	}
}
