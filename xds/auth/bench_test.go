package auth

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

// BenchmarkTokenReviewsPerToken plays one projected token's life (3600s,
// as the bundle mounts it): 100 proxies' streams present it at once, then
// one stream reconnects every 10 seconds until the kubelet would have
// rotated it (80% of its life) and on to the cache margin. It reports
// TokenReviews per token (target 1) and the cost of one Authenticate.
func BenchmarkTokenReviewsPerToken(b *testing.B) {
	r := &fakeReviewer{answers: map[string]*authv1.TokenReviewStatus{}}
	clk := clocktesting.NewFakeClock(t0)
	opts := DefaultOptions()
	opts.Clock = clk
	a := New(r, opts, nil)
	var calls int
	b.ResetTimer()
	for i := range b.N {
		clk.SetTime(t0)
		tok := jwt(b, map[string]any{"aud": []string{DefaultAudience}, "exp": t0.Add(time.Hour).Unix(), "sub": fmt.Sprint(i)})
		r.mu.Lock()
		r.answers[tok] = saStatus("ns", "envoy", true)
		r.mu.Unlock()
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				if _, err := a.Authenticate(context.Background(), tok); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		for clk.Now().Before(t0.Add(time.Hour - opts.ExpiryMargin)) {
			if _, err := a.Authenticate(context.Background(), tok); err != nil {
				b.Fatal(err)
			}
			calls++
			clk.Step(10 * time.Second)
		}
		calls += 100
	}
	b.ReportMetric(float64(r.calls.Load())/float64(b.N), "reviews/token")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(calls), "ns/authenticate")
}
