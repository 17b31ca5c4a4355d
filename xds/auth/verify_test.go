package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	authv1 "k8s.io/api/authentication/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

// issuer is a fake apiserver's ServiceAccount issuer: keys it signs with,
// and the JWKS it serves (counting fetches).
type issuer struct {
	mu      sync.Mutex
	keys    map[string]*ecdsa.PrivateKey
	served  []string // key ids in the JWKS
	fetches atomic.Int64
	down    bool
}

func newIssuer(t testing.TB, kids ...string) *issuer {
	is := &issuer{keys: map[string]*ecdsa.PrivateKey{}}
	for _, kid := range kids {
		is.addKey(t, kid)
	}
	return is
}

func (is *issuer) addKey(t testing.TB, kid string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys[kid] = k
	is.served = append(is.served, kid)
}

func (is *issuer) fetch(_ context.Context, path string) ([]byte, error) {
	is.fetches.Add(1)
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.down || path != JWKSPath {
		return nil, errors.New("unavailable")
	}
	var set jose.JSONWebKeySet
	for _, kid := range is.served {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: is.keys[kid].Public(), KeyID: kid, Algorithm: "ES256", Use: "sig"})
	}
	return json.Marshal(set)
}

// sign makes a token signed with key kid (any key when signer is given).
func (is *issuer) sign(t testing.TB, kid string, key *ecdsa.PrivateKey, sub string) string {
	t.Helper()
	if key == nil {
		is.mu.Lock()
		key = is.keys[kid]
		is.mu.Unlock()
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := josejwt.Signed(sig).Claims(map[string]any{
		"aud": []string{DefaultAudience}, "exp": t0.Add(time.Hour).Unix(), "sub": sub,
		"iss": "https://kubernetes.default.svc.cluster.local",
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func newVerified(t *testing.T, is *issuer, r *fakeReviewer) (*Authenticator, *clocktesting.FakeClock) {
	clk := clocktesting.NewFakeClock(t0)
	v := NewIssuerVerifier(is.fetch, IssuerVerifierOptions{Clock: clk})
	a, _ := newTest(t, r, func(o *Options) { o.Verifier = v; o.Clock = clk })
	return a, clk
}

// A forged token (right claims, signed by a key the cluster does not have,
// or carrying a garbage signature) costs no TokenReview; a genuine one is
// still reviewed, and the review decides.
func TestForgedTokensCostNoReview(t *testing.T) {
	is := newIssuer(t, "k1")
	good := is.sign(t, "k1", nil, "good")
	r := &fakeReviewer{answers: map[string]*authv1.TokenReviewStatus{good: saStatus("ns", "sa", true)}}
	a, _ := newVerified(t, is, r)

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := []string{
		is.sign(t, "k1", other, "forged-same-kid"),
		is.sign(t, "", other, "forged-no-kid"),
		validToken(t, "garbage-signature"),
	}
	for _, tok := range forged {
		_, err := a.Authenticate(context.Background(), tok)
		if r := ReasonOf(err); r != ReasonBadSignature && r != ReasonMalformed {
			t.Fatalf("forged token: %v, want bad_signature or malformed", err)
		}
	}
	if n := r.calls.Load(); n != 0 {
		t.Fatalf("%d TokenReviews for forged tokens, want 0", n)
	}
	if _, err := a.Authenticate(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	if n := r.calls.Load(); n != 1 {
		t.Fatalf("%d TokenReviews, want 1 (the genuine token)", n)
	}
	if n := is.fetches.Load(); n != 1 {
		t.Fatalf("%d key fetches, want 1", n)
	}
}

// An unknown key id refetches the keys (rotation), at most once per
// MinRefreshInterval, so forged key ids cannot hammer the apiserver, and
// refused inside that interval, so they cost no review either.
func TestUnknownKeyIDRefreshesBounded(t *testing.T) {
	is := newIssuer(t, "k1")
	r := &fakeReviewer{answers: map[string]*authv1.TokenReviewStatus{}}
	a, clk := newVerified(t, is, r)
	if _, err := a.Authenticate(context.Background(), is.sign(t, "k1", nil, "first")); ReasonOf(err) != ReasonRejected {
		t.Fatalf("got %v, want the fake's rejection", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for i := range 50 {
		_, err := a.Authenticate(context.Background(), is.sign(t, "made-up", other, string(rune('a'+i))))
		if ReasonOf(err) != ReasonBadSignature {
			t.Fatalf("forged key id: %v, want bad_signature", err)
		}
	}
	if n := r.calls.Load(); n != 1 {
		t.Fatalf("%d TokenReviews, want 1 (the genuine token only)", n)
	}
	if n := is.fetches.Load(); n != 1 {
		t.Fatalf("%d key fetches within the refresh interval, want 1", n)
	}
	// Rotation: a new key appears; after the interval its tokens verify
	// with one fetch.
	is.addKey(t, "k2")
	clk.Step(11 * time.Second)
	rotated := is.sign(t, "k2", nil, "rotated")
	r.mu.Lock()
	r.answers[rotated] = saStatus("ns", "sa", true)
	r.mu.Unlock()
	if _, err := a.Authenticate(context.Background(), rotated); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if n := is.fetches.Load(); n != 2 {
		t.Fatalf("%d key fetches, want 2", n)
	}
}

// Keys unavailable: tokens are reviewed from a pool of their own, which
// cannot take the capacity of locally verified tokens.
func TestUnverifiedTokensHaveTheirOwnPool(t *testing.T) {
	is := newIssuer(t, "k1")
	is.down = true
	r := &fakeReviewer{answers: map[string]*authv1.TokenReviewStatus{}, block: make(chan struct{})}
	defer close(r.block)
	a, _ := newVerified(t, is, r)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() { _, _ = a.Authenticate(context.Background(), validToken(t, string(rune('a'+i)))) })
	}
	wg.Wait()
	if got, want := r.maxInflight.Load(), int64(DefaultOptions().MaxUnverifiedReviews); got != want {
		t.Fatalf("%d unverified reviews in flight at once, want %d", got, want)
	}
}

// Refusals live in a cache of their own: however many, they never evict an
// accepted token.
func TestRefusalsCannotEvictAccepted(t *testing.T) {
	good := validToken(t, "good")
	r := &fakeReviewer{answers: map[string]*authv1.TokenReviewStatus{good: saStatus("ns", "sa", true)}}
	a, _ := newTest(t, r, func(o *Options) { o.CacheSize = 1; o.NegativeCacheSize = 2 })
	if _, err := a.Authenticate(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		_, _ = a.Authenticate(context.Background(), validToken(t, "bad"+string(rune('a'+i))))
	}
	if _, ok := a.Cached(good); !ok {
		t.Fatal("refusals evicted the accepted token")
	}
	if n := a.refused.len(); n != 2 {
		t.Fatalf("%d refusals cached, want 2 (the bound)", n)
	}
}

// RevokePod drops the pod's cached tokens, and a review in flight when the
// pod went is neither cached nor accepted.
func TestRevokePod(t *testing.T) {
	tok, other := validToken(t, "revoked"), validToken(t, "other")
	st := saStatus("ns", "sa", true)
	st2 := saStatus("ns", "sa", true)
	st2.User.Extra = map[string]authv1.ExtraValue{PodNameExtraKey: {"envoy-2"}, PodUIDExtraKey: {"uid-2"}}
	r := &fakeReviewer{answers: map[string]*authv1.TokenReviewStatus{tok: st, other: st2}}
	a, _ := newTest(t, r, nil)
	for _, tk := range []string{tok, other} {
		if _, err := a.Authenticate(context.Background(), tk); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.RevokePod("uid-1"); n != 1 {
		t.Fatalf("revoked %d cached tokens, want 1", n)
	}
	if _, ok := a.Cached(tok); ok {
		t.Fatal("revoked token still cached")
	}
	if _, ok := a.Cached(other); !ok {
		t.Fatal("another pod's token was dropped")
	}
	// The apiserver (slow) still says yes: the review was in flight when
	// the pod went.
	if _, err := a.Authenticate(context.Background(), tok); ReasonOf(err) != ReasonRevoked {
		t.Fatalf("got %v, want revoked", err)
	}
	if _, ok := a.Cached(tok); ok {
		t.Fatal("a revoked pod's token was cached")
	}
}
