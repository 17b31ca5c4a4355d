package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	authv1 "k8s.io/api/authentication/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// jwt builds an unsigned compact JWT with the given claims.
func jwt(t testing.TB, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256"}) + "." + enc(claims) + ".c2lnbmF0dXJl"
}

// validToken is a token for the default audience expiring an hour after t0;
// suffix makes distinct tokens.
func validToken(t testing.TB, suffix string) string {
	return jwt(t, map[string]any{"aud": []string{DefaultAudience}, "exp": t0.Add(time.Hour).Unix(), "sub": suffix})
}

// fakeReviewer answers from a table keyed by token and counts calls.
type fakeReviewer struct {
	mu      sync.Mutex
	answers map[string]*authv1.TokenReviewStatus
	err     error
	block   chan struct{} // when non-nil, Review waits for it (or ctx)
	calls   atomic.Int64

	inflight, maxInflight atomic.Int64
}

func (f *fakeReviewer) Review(ctx context.Context, token string, audiences []string) (*authv1.TokenReviewStatus, error) {
	f.calls.Add(1)
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		m := f.maxInflight.Load()
		if n <= m || f.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if len(audiences) != 1 || audiences[0] != DefaultAudience {
		return nil, errors.New("unexpected audiences")
	}
	if st, ok := f.answers[token]; ok {
		return st, nil
	}
	return &authv1.TokenReviewStatus{Error: "invalid bearer token"}, nil
}

func saStatus(ns, name string, bound bool) *authv1.TokenReviewStatus {
	st := &authv1.TokenReviewStatus{
		Authenticated: true,
		Audiences:     []string{DefaultAudience},
		User:          authv1.UserInfo{Username: "system:serviceaccount:" + ns + ":" + name},
	}
	if bound {
		st.User.Extra = map[string]authv1.ExtraValue{
			PodNameExtraKey: {"envoy-abc"}, PodUIDExtraKey: {"uid-1"},
			"authentication.kubernetes.io/credential-id": {"JTI=1"},
		}
	}
	return st
}

func newTest(t *testing.T, r *fakeReviewer, mutate func(*Options)) (*Authenticator, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	opts := DefaultOptions()
	opts.Clock = clk
	opts.ReviewTimeout = 200 * time.Millisecond
	if mutate != nil {
		mutate(&opts)
	}
	return New(r, opts, nil), clk
}

func TestTokenFromMetadata(t *testing.T) {
	cases := []struct {
		name   string
		md     metadata.MD
		want   string
		reason Reason
	}{
		{"bearer", metadata.Pairs("authorization", "Bearer abc.def.ghi"), "abc.def.ghi", ""},
		{"scheme case-insensitive", metadata.Pairs("authorization", "bearer abc"), "abc", ""},
		{"none", metadata.MD{}, "", ReasonMissing},
		{"empty", metadata.Pairs("authorization", ""), "", ReasonMissing},
		{"empty bearer", metadata.Pairs("authorization", "Bearer "), "", ReasonMissing},
		{"basic", metadata.Pairs("authorization", "Basic dXNlcjpwdw=="), "", ReasonMalformed},
		{"no scheme", metadata.Pairs("authorization", "abc.def.ghi"), "", ReasonMalformed},
		{"two values", metadata.Pairs("authorization", "Bearer a", "authorization", "Bearer b"), "", ReasonMalformed},
		{"inner space", metadata.Pairs("authorization", "Bearer a b"), "", ReasonMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := TokenFromMetadata(c.md)
			if ReasonOf(err) != c.reason || got != c.want {
				t.Fatalf("got %q, %v; want %q, reason %q", got, err, c.want, c.reason)
			}
		})
	}
}

func TestAuthenticateRefusals(t *testing.T) {
	exp := t0.Add(time.Hour).Unix()
	huge := strings.Repeat("A", 17<<10)
	cases := []struct {
		name    string
		token   string
		status  *authv1.TokenReviewStatus // what the apiserver answers (nil: rejected)
		mutate  func(*Options)
		reason  Reason
		code    codes.Code
		reviews int64
	}{
		{name: "empty", token: "", reason: ReasonMissing, code: codes.Unauthenticated},
		{name: "huge", token: huge + "." + huge + "." + huge, reason: ReasonTooLarge, code: codes.Unauthenticated},
		{name: "binary", token: "\x00\xff\x01.\x02.\x03", reason: ReasonMalformed, code: codes.Unauthenticated},
		{name: "many dots", token: strings.Repeat(".", 5000), reason: ReasonMalformed, code: codes.Unauthenticated},
		{name: "two parts", token: "abc.def", reason: ReasonMalformed, code: codes.Unauthenticated},
		{name: "empty signature", token: strings.TrimSuffix(validToken(t, "x"), "c2lnbmF0dXJl"), reason: ReasonMalformed, code: codes.Unauthenticated},
		{name: "bad base64", token: "a.!!!.c", reason: ReasonMalformed, code: codes.Unauthenticated},
		{name: "payload not JSON", token: "a." + base64.RawURLEncoding.EncodeToString([]byte("hello")) + ".c", reason: ReasonMalformed, code: codes.Unauthenticated},
		{name: "payload JSON array", token: "a." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + ".c", reason: ReasonMalformed, code: codes.Unauthenticated},
		{name: "no exp", token: jwt(t, map[string]any{"aud": DefaultAudience}), reason: ReasonMalformed, code: codes.Unauthenticated},
		{name: "exp not a number", token: jwt(t, map[string]any{"aud": DefaultAudience, "exp": "soon"}), reason: ReasonMalformed, code: codes.Unauthenticated},
		{name: "exp absurd", token: jwt(t, map[string]any{"aud": DefaultAudience, "exp": 1e300}), reason: ReasonMalformed, code: codes.Unauthenticated},
		{name: "aud a number", token: jwt(t, map[string]any{"aud": 7, "exp": exp}), reason: ReasonMalformed, code: codes.Unauthenticated},
		{name: "expired", token: jwt(t, map[string]any{"aud": DefaultAudience, "exp": t0.Add(-time.Second).Unix()}), reason: ReasonExpired, code: codes.Unauthenticated},
		{name: "expires now", token: jwt(t, map[string]any{"aud": DefaultAudience, "exp": t0.Unix()}), reason: ReasonExpired, code: codes.Unauthenticated},
		{name: "wrong audience", token: jwt(t, map[string]any{"aud": []string{"https://kubernetes.default.svc"}, "exp": exp}), reason: ReasonWrongAudience, code: codes.Unauthenticated},
		{name: "no audience", token: jwt(t, map[string]any{"exp": exp}), reason: ReasonWrongAudience, code: codes.Unauthenticated},
		{name: "rejected by apiserver", token: validToken(t, "forged"), reason: ReasonRejected, code: codes.Unauthenticated, reviews: 1},
		{name: "review lacks audience", token: validToken(t, "noaud"), status: func() *authv1.TokenReviewStatus {
			st := saStatus("team-a", "envoy", true)
			st.Audiences = nil
			return st
		}(), reason: ReasonWrongAudience, code: codes.Unauthenticated, reviews: 1},
		{name: "not a service account", token: validToken(t, "user"), status: &authv1.TokenReviewStatus{
			Authenticated: true, Audiences: []string{DefaultAudience}, User: authv1.UserInfo{Username: "alice"},
		}, reason: ReasonNotServiceAccount, code: codes.PermissionDenied, reviews: 1},
		{name: "service account without name", token: validToken(t, "sa-ns-only"), status: &authv1.TokenReviewStatus{
			Authenticated: true, Audiences: []string{DefaultAudience}, User: authv1.UserInfo{Username: "system:serviceaccount:team-a"},
		}, reason: ReasonNotServiceAccount, code: codes.PermissionDenied, reviews: 1},
		{name: "service account name with colon", token: validToken(t, "sa-colon"), status: &authv1.TokenReviewStatus{
			Authenticated: true, Audiences: []string{DefaultAudience}, User: authv1.UserInfo{Username: "system:serviceaccount:team-a:a:b"},
		}, reason: ReasonNotServiceAccount, code: codes.PermissionDenied, reviews: 1},
		{name: "unbound", token: validToken(t, "unbound"), status: saStatus("team-a", "envoy", false),
			reason: ReasonNotPodBound, code: codes.PermissionDenied, reviews: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &fakeReviewer{answers: map[string]*authv1.TokenReviewStatus{}}
			if c.status != nil {
				r.answers[c.token] = c.status
			}
			a, _ := newTest(t, r, c.mutate)
			_, err := a.Authenticate(context.Background(), c.token)
			if got := ReasonOf(err); got != c.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, c.reason)
			}
			if got := status.Code(err); got != c.code {
				t.Fatalf("code %v, want %v", got, c.code)
			}
			if strings.Contains(err.Error(), c.token) && c.token != "" {
				t.Fatalf("error leaks the token: %v", err)
			}
			if got := r.calls.Load(); got != c.reviews {
				t.Fatalf("%d TokenReviews, want %d", got, c.reviews)
			}
		})
	}
}

func TestAuthenticateAccepts(t *testing.T) {
	bound, unbound := validToken(t, "bound"), validToken(t, "unbound")
	r := &fakeReviewer{answers: map[string]*authv1.TokenReviewStatus{
		bound:   saStatus("team-a", "envoy-a", true),
		unbound: saStatus("team-a", "envoy-a", false),
	}}
	a, _ := newTest(t, r, nil)
	res, err := a.Authenticate(context.Background(), bound)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Identity: Identity{"team-a", "envoy-a"}, PodName: "envoy-abc", PodUID: "uid-1", Expiry: t0.Add(time.Hour)}
	if res != want {
		t.Fatalf("got %+v, want %+v", res, want)
	}

	// Pod binding off: an unbound token of a ServiceAccount is accepted.
	a2, _ := newTest(t, r, func(o *Options) { o.AllowUnboundTokens = true })
	res, err = a2.Authenticate(context.Background(), unbound)
	if err != nil || res.Identity != (Identity{"team-a", "envoy-a"}) || res.PodName != "" {
		t.Fatalf("unbound with binding off: %+v, %v", res, err)
	}
}

func TestOneReviewPerTokenLifetime(t *testing.T) {
	tok := validToken(t, "life")
	r := &fakeReviewer{answers: map[string]*authv1.TokenReviewStatus{tok: saStatus("ns", "sa", true)}, block: make(chan struct{})}
	a, clk := newTest(t, r, func(o *Options) { o.ReviewTimeout = 10 * time.Second; o.MaxCacheTTL = time.Hour })

	// 200 concurrent streams present the same token while the review is slow.
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			_, err := a.Authenticate(context.Background(), tok)
			errs <- err
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(r.block)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Then, every minute of the token's life until the margin: cached.
	for clk.Now().Before(t0.Add(time.Hour - 31*time.Second)) {
		if _, err := a.Authenticate(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		clk.Step(time.Minute)
	}
	if got := r.calls.Load(); got != 1 {
		t.Fatalf("%d TokenReviews over the token's lifetime, want 1", got)
	}
	// Inside the margin the outcome is no longer trusted: reviewed again.
	clk.SetTime(t0.Add(time.Hour - 10*time.Second))
	if _, err := a.Authenticate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if got := r.calls.Load(); got != 2 {
		t.Fatalf("%d TokenReviews after the margin, want 2", got)
	}
}

func TestMaxCacheTTL(t *testing.T) {
	tok := validToken(t, "ttl")
	r := &fakeReviewer{answers: map[string]*authv1.TokenReviewStatus{tok: saStatus("ns", "sa", true)}}
	a, clk := newTest(t, r, func(o *Options) { o.MaxCacheTTL = 10 * time.Minute })
	for range 2 {
		if _, err := a.Authenticate(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	clk.Step(10 * time.Minute)
	if _, err := a.Authenticate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if got := r.calls.Load(); got != 2 {
		t.Fatalf("%d TokenReviews, want 2 (cache capped at 10m)", got)
	}
}

func TestNegativeCache(t *testing.T) {
	tok := validToken(t, "garbage")
	r := &fakeReviewer{}
	a, clk := newTest(t, r, nil)
	for range 50 {
		if _, err := a.Authenticate(context.Background(), tok); ReasonOf(err) != ReasonRejected {
			t.Fatalf("got %v, want rejected", err)
		}
	}
	if got := r.calls.Load(); got != 1 {
		t.Fatalf("%d TokenReviews for a repeated bad token, want 1", got)
	}
	clk.Step(11 * time.Second)
	if _, err := a.Authenticate(context.Background(), tok); ReasonOf(err) != ReasonRejected {
		t.Fatalf("got %v, want rejected", err)
	}
	if got := r.calls.Load(); got != 2 {
		t.Fatalf("%d TokenReviews after the negative TTL, want 2", got)
	}
}

func TestUnavailableNotCached(t *testing.T) {
	tok := validToken(t, "x")
	r := &fakeReviewer{err: errors.New("connection refused")}
	a, _ := newTest(t, r, nil)
	for i := range 3 {
		_, err := a.Authenticate(context.Background(), tok)
		if status.Code(err) != codes.Unavailable || ReasonOf(err) != ReasonUnavailable {
			t.Fatalf("attempt %d: %v, want Unavailable", i, err)
		}
	}
	if got := r.calls.Load(); got != 3 {
		t.Fatalf("%d TokenReviews, want 3 (errors are not cached)", got)
	}
	r.mu.Lock()
	r.err = nil
	r.answers = map[string]*authv1.TokenReviewStatus{tok: saStatus("ns", "sa", true)}
	r.mu.Unlock()
	if _, err := a.Authenticate(context.Background(), tok); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestReviewTimeoutDoesNotStall(t *testing.T) {
	tok := validToken(t, "slow")
	r := &fakeReviewer{block: make(chan struct{})} // never answers
	defer close(r.block)
	a, _ := newTest(t, r, func(o *Options) { o.ReviewTimeout = 100 * time.Millisecond })
	start := time.Now()
	_, err := a.Authenticate(context.Background(), tok)
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("got %v, want Unavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v, want about the review timeout", d)
	}
}

func TestCallerCancelDoesNotCancelSharedReview(t *testing.T) {
	tok := validToken(t, "shared")
	r := &fakeReviewer{answers: map[string]*authv1.TokenReviewStatus{tok: saStatus("ns", "sa", true)}, block: make(chan struct{})}
	a, _ := newTest(t, r, func(o *Options) { o.ReviewTimeout = 10 * time.Second })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := a.Authenticate(ctx, tok); done <- err }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-done; status.Code(err) != codes.Unavailable {
		t.Fatalf("cancelled caller got %v, want Unavailable", err)
	}
	close(r.block)
	if _, err := a.Authenticate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if got := r.calls.Load(); got != 1 {
		t.Fatalf("%d TokenReviews, want 1 (the first review completed and was cached)", got)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	r := &fakeReviewer{block: make(chan struct{})}
	defer close(r.block)
	a, _ := newTest(t, r, func(o *Options) { o.MaxConcurrentReviews = 2; o.ReviewTimeout = 300 * time.Millisecond })
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() { _, _ = a.Authenticate(context.Background(), validToken(t, string(rune('a'+i)))) })
	}
	wg.Wait()
	if got := r.maxInflight.Load(); got != 2 {
		t.Fatalf("%d TokenReviews in flight at once, want 2 (the limit)", got)
	}
}

func TestCacheBounded(t *testing.T) {
	toks := []string{validToken(t, "1"), validToken(t, "2"), validToken(t, "3")}
	r := &fakeReviewer{answers: map[string]*authv1.TokenReviewStatus{}}
	for _, tok := range toks {
		r.answers[tok] = saStatus("ns", "sa", true)
	}
	a, _ := newTest(t, r, func(o *Options) { o.CacheSize = 2 })
	for _, tok := range toks {
		if _, err := a.Authenticate(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.cache.len(); n != 2 {
		t.Fatalf("cache holds %d entries, want 2", n)
	}
	_, _ = a.Authenticate(context.Background(), toks[2]) // cached
	_, _ = a.Authenticate(context.Background(), toks[0]) // evicted: reviewed again
	if got := r.calls.Load(); got != 4 {
		t.Fatalf("%d TokenReviews, want 4", got)
	}
}

func FuzzAuthenticate(f *testing.F) {
	f.Add("a.b.c")
	f.Add(validToken(f, "seed"))
	f.Add(strings.Repeat(".", 100))
	f.Add("eyJhbGciOiJub25lIn0.eyJleHAiOjF9.x")
	known := map[Reason]bool{}
	for _, r := range Reasons() {
		known[r] = true
	}
	r := &fakeReviewer{}
	opts := DefaultOptions()
	opts.Clock = clocktesting.NewFakeClock(t0)
	a := New(r, opts, nil)
	f.Fuzz(func(t *testing.T, token string) {
		res, err := a.Authenticate(context.Background(), token)
		if err == nil {
			t.Fatalf("fake reviewer authenticates nothing, got %+v", res)
		}
		if !known[ReasonOf(err)] {
			t.Fatalf("error without a known reason: %v", err)
		}
	})
}
