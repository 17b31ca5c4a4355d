package auth

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
)

// The client-go reviewer against an apiserver that is not there: every
// token is Unavailable, within the review timeout, and nothing is cached.
func TestKubernetesReviewerApiserverDown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: "https://" + addr, TLSClientConfig: rest.TLSClientConfig{Insecure: true}})
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Clock = clocktesting.NewFakeClock(t0)
	opts.ReviewTimeout = 2 * time.Second
	a := New(NewKubernetesReviewer(cs.AuthenticationV1()), opts, nil)
	for range 2 {
		start := time.Now()
		_, err := a.Authenticate(context.Background(), validToken(t, "down"))
		if status.Code(err) != codes.Unavailable || ReasonOf(err) != ReasonUnavailable {
			t.Fatalf("got %v, want Unavailable", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v", d)
		}
	}
	if a.cache.len() != 0 {
		t.Fatal("an apiserver error was cached")
	}
}
