package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	authv1 "k8s.io/api/authentication/v1"
	"k8s.io/utils/clock"
)

// DefaultAudience is the audience of the projected token Envoy presents.
const DefaultAudience = "berth.dev/xds"

// PodNameExtraKey and PodUIDExtraKey are the TokenReview user.extra keys the
// apiserver sets for a token bound to a pod.
const (
	PodNameExtraKey = "authentication.kubernetes.io/pod-name"
	PodUIDExtraKey  = "authentication.kubernetes.io/pod-uid"
)

const serviceAccountPrefix = "system:serviceaccount:"

// Identity is the ServiceAccount a proxy authenticated as.
type Identity struct {
	Namespace      string
	ServiceAccount string
}

func (i Identity) String() string { return i.Namespace + "/" + i.ServiceAccount }

// Result is a successful authentication.
type Result struct {
	Identity Identity
	// PodName and PodUID are the pod the token is bound to, from the
	// TokenReview's user.extra ("" when unbound or not reported).
	PodName string
	PodUID  string
	// Expiry is the token's exp: the server ends streams that presented the
	// token at this instant.
	Expiry time.Time
}

// TokenReviewer asks the apiserver who a token belongs to. Implementations:
// NewKubernetesReviewer (client-go) and ReviewerFunc (tests, adapters).
type TokenReviewer interface {
	Review(ctx context.Context, token string, audiences []string) (*authv1.TokenReviewStatus, error)
}

// ReviewerFunc adapts a function to TokenReviewer.
type ReviewerFunc func(ctx context.Context, token string, audiences []string) (*authv1.TokenReviewStatus, error)

// Review calls f.
func (f ReviewerFunc) Review(ctx context.Context, token string, audiences []string) (*authv1.TokenReviewStatus, error) {
	return f(ctx, token, audiences)
}

// Options configure an Authenticator. Start from DefaultOptions.
type Options struct {
	// Audience the token must be issued for; the TokenReview asks for it and
	// its status.audiences must contain it.
	Audience string
	// AllowUnboundTokens accepts ServiceAccount tokens that the apiserver
	// does not report as bound to a pod; by default they are refused (see
	// the package doc). The zero value is the strict one.
	AllowUnboundTokens bool
	// MaxTokenBytes bounds the token length; longer is refused unread.
	MaxTokenBytes int
	// CacheSize bounds the number of cached review outcomes (LRU).
	CacheSize int
	// ExpiryMargin: a positive outcome is cached until this long before the
	// token's exp.
	ExpiryMargin time.Duration
	// MaxCacheTTL caps how long a positive outcome is cached, whatever the
	// token's exp.
	MaxCacheTTL time.Duration
	// NegativeTTL is how long an apiserver refusal is cached.
	NegativeTTL time.Duration
	// ReviewTimeout bounds one TokenReview, including the wait for a slot.
	ReviewTimeout time.Duration
	// MaxConcurrentReviews bounds TokenReviews in flight for tokens whose
	// signature verified locally (or all tokens when Verifier is nil).
	MaxConcurrentReviews int
	// MaxUnverifiedReviews bounds TokenReviews in flight for tokens the
	// Verifier could not check (its keys unavailable): a pool of their own,
	// so they can never take the capacity verified tokens need.
	MaxUnverifiedReviews int
	// NegativeCacheSize bounds the cache of apiserver refusals; it is
	// separate from the accepted tokens' (CacheSize), so refusals cannot
	// evict them.
	NegativeCacheSize int
	// Verifier checks signatures locally before any review (nil: none; the
	// controller always sets IssuerVerifier). A token it refuses costs no
	// TokenReview.
	Verifier Verifier
	// Clock is the time source (nil: the real clock).
	Clock clock.PassiveClock
}

// DefaultOptions returns the options berth runs with.
func DefaultOptions() Options {
	return Options{
		Audience:             DefaultAudience,
		MaxTokenBytes:        16 << 10,
		CacheSize:            10000,
		NegativeCacheSize:    1000,
		ExpiryMargin:         30 * time.Second,
		MaxCacheTTL:          10 * time.Minute,
		NegativeTTL:          10 * time.Second,
		ReviewTimeout:        5 * time.Second,
		MaxConcurrentReviews: 16,
		MaxUnverifiedReviews: 2,
	}
}

// Authenticator turns bearer tokens into Identities. Safe for concurrent use.
type Authenticator struct {
	reviewer TokenReviewer
	opts     Options
	metrics  *Metrics
	// cache holds accepted tokens, refused the apiserver's refusals.
	cache, refused *lru
	flight         singleflight.Group
	// slots bound reviews of verified tokens, unverified the others.
	slots, unverified chan struct{}

	// revokeMu orders revocation against caching an outcome: an outcome
	// bound to a pod revoked meanwhile is never cached nor returned.
	revokeMu sync.Mutex
	revoked  map[string]time.Time // pod UID → when revoked
}

// New returns an Authenticator. Zero option fields take their defaults;
// metrics may be nil.
func New(reviewer TokenReviewer, opts Options, metrics *Metrics) *Authenticator {
	d := DefaultOptions()
	if opts.Audience == "" {
		opts.Audience = d.Audience
	}
	if opts.MaxTokenBytes <= 0 {
		opts.MaxTokenBytes = d.MaxTokenBytes
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = d.CacheSize
	}
	if opts.ExpiryMargin <= 0 {
		opts.ExpiryMargin = d.ExpiryMargin
	}
	if opts.MaxCacheTTL <= 0 {
		opts.MaxCacheTTL = d.MaxCacheTTL
	}
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = d.NegativeTTL
	}
	if opts.ReviewTimeout <= 0 {
		opts.ReviewTimeout = d.ReviewTimeout
	}
	if opts.MaxConcurrentReviews <= 0 {
		opts.MaxConcurrentReviews = d.MaxConcurrentReviews
	}
	if opts.MaxUnverifiedReviews <= 0 {
		opts.MaxUnverifiedReviews = d.MaxUnverifiedReviews
	}
	if opts.NegativeCacheSize <= 0 {
		opts.NegativeCacheSize = d.NegativeCacheSize
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if metrics == nil {
		metrics = newMetrics()
	}
	return &Authenticator{
		reviewer:   reviewer,
		opts:       opts,
		metrics:    metrics,
		cache:      newLRU(opts.CacheSize),
		refused:    newLRU(opts.NegativeCacheSize),
		slots:      make(chan struct{}, opts.MaxConcurrentReviews),
		unverified: make(chan struct{}, opts.MaxUnverifiedReviews),
		revoked:    map[string]time.Time{},
	}
}

// Audience is the audience tokens are checked for.
func (a *Authenticator) Audience() string { return a.opts.Audience }

// Authenticate returns who token belongs to, or an *Error whose Reason and
// gRPC code say why not. It returns when ctx ends even if a review is still
// in flight (the review then completes for the next caller).
func (a *Authenticator) Authenticate(ctx context.Context, token string) (Result, error) {
	if token == "" {
		return Result{}, Errorf(ReasonMissing, "empty bearer token")
	}
	if len(token) > a.opts.MaxTokenBytes {
		return Result{}, Errorf(ReasonTooLarge, "token is %d bytes, limit %d", len(token), a.opts.MaxTokenBytes)
	}
	c, err := parseClaims(token)
	if err != nil {
		return Result{}, err
	}
	now := a.opts.Clock.Now()
	if !now.Before(c.Expiry) {
		return Result{}, Errorf(ReasonExpired, "token expired at %s", c.Expiry.UTC().Format(time.RFC3339))
	}
	if !slices.Contains(c.Audiences, a.opts.Audience) {
		return Result{}, Errorf(ReasonWrongAudience, "token audiences %q do not include %q", c.Audiences, a.opts.Audience)
	}

	key := cacheKey(sha256.Sum256([]byte(token)))
	if e, ok := a.cache.get(key, now); ok {
		a.metrics.CacheLookups.WithLabelValues(CacheHit).Inc()
		return e.result, nil
	}
	if e, ok := a.refused.get(key, now); ok {
		a.metrics.CacheLookups.WithLabelValues(CacheNegativeHit).Inc()
		return Result{}, e.err
	}
	a.metrics.CacheLookups.WithLabelValues(CacheMiss).Inc()
	verified := true
	if a.opts.Verifier != nil {
		err := a.opts.Verifier.Verify(ctx, token)
		switch {
		case err == nil:
			a.metrics.Verifications.WithLabelValues(VerifyOK).Inc()
		case errors.Is(err, ErrKeysUnavailable):
			a.metrics.Verifications.WithLabelValues(VerifyUnavailable).Inc()
			verified = false
		default:
			a.metrics.Verifications.WithLabelValues(VerifyRefused).Inc()
			if ReasonOf(err) == "" {
				err = &Error{Reason: ReasonBadSignature, Detail: "token signature not verified", Err: err}
			}
			return Result{}, err
		}
	}
	ch := a.flight.DoChan(string(key[:]), func() (any, error) {
		// Re-check: a flight that just finished may have filled a cache.
		now := a.opts.Clock.Now()
		if e, ok := a.cache.get(key, now); ok {
			return e, nil
		}
		if e, ok := a.refused.get(key, now); ok {
			return e, nil
		}
		return a.review(context.WithoutCancel(ctx), key, token, c, verified), nil
	})
	select {
	case r := <-ch:
		e := r.Val.(*entry)
		if e.err != nil {
			return Result{}, e.err
		}
		return e.result, nil
	case <-ctx.Done():
		return Result{}, &Error{Reason: ReasonUnavailable, Detail: "gave up waiting for the token review", Err: ctx.Err()}
	}
}

// Cached returns the accepted outcome cached for token, if any, without
// any other work (for callers refusing all but cached tokens).
func (a *Authenticator) Cached(token string) (Result, bool) {
	e, ok := a.cache.get(cacheKey(sha256.Sum256([]byte(token))), a.opts.Clock.Now())
	if !ok {
		return Result{}, false
	}
	return e.result, true
}

// Revoked says whether pod uid was revoked lately (RevokePod).
func (a *Authenticator) Revoked(uid string) bool {
	if uid == "" {
		return false
	}
	a.revokeMu.Lock()
	defer a.revokeMu.Unlock()
	_, ok := a.revoked[uid]
	return ok
}

// RevokePod forgets every accepted token bound to pod uid (the pod is
// gone) and refuses any review of such a token still in flight. It returns
// how many cached tokens it dropped.
func (a *Authenticator) RevokePod(uid string) int {
	if uid == "" {
		return 0
	}
	a.revokeMu.Lock()
	defer a.revokeMu.Unlock()
	now := a.opts.Clock.Now()
	// A review in flight ends within ReviewTimeout; after that the
	// apiserver itself refuses the pod's tokens.
	for u, at := range a.revoked {
		if now.Sub(at) > 2*a.opts.ReviewTimeout {
			delete(a.revoked, u)
		}
	}
	a.revoked[uid] = now
	return a.cache.removePod(uid)
}

// review makes one TokenReview and caches its outcome (except errors).
func (a *Authenticator) review(ctx context.Context, key cacheKey, token string, c claims, verified bool) *entry {
	ctx, cancel := context.WithTimeout(ctx, a.opts.ReviewTimeout)
	defer cancel()
	slots := a.slots
	if !verified {
		slots = a.unverified
	}
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	case <-ctx.Done():
		a.metrics.Reviews.WithLabelValues(ReviewError).Inc()
		return &entry{key: key, err: &Error{Reason: ReasonUnavailable, Detail: "too many token reviews in flight", Err: ctx.Err()}}
	}
	st, err := a.reviewer.Review(ctx, token, []string{a.opts.Audience})
	if err == nil && st == nil {
		err = errors.New("empty token review status")
	}
	if err != nil {
		a.metrics.Reviews.WithLabelValues(ReviewError).Inc()
		return &entry{key: key, err: &Error{Reason: ReasonUnavailable, Detail: "token review failed", Err: err}}
	}
	now := a.opts.Clock.Now()
	res, rerr := a.decide(st, c)
	if rerr != nil {
		if rerr.Reason == ReasonRejected || rerr.Reason == ReasonWrongAudience {
			a.metrics.Reviews.WithLabelValues(ReviewRejected).Inc()
		} else {
			a.metrics.Reviews.WithLabelValues(ReviewAuthenticated).Inc()
		}
		e := &entry{key: key, err: rerr, expires: now.Add(a.opts.NegativeTTL)}
		a.refused.add(e)
		return e
	}
	a.metrics.Reviews.WithLabelValues(ReviewAuthenticated).Inc()
	e := &entry{key: key, result: res, expires: c.Expiry.Add(-a.opts.ExpiryMargin)}
	if max := now.Add(a.opts.MaxCacheTTL); e.expires.After(max) {
		e.expires = max
	}
	a.revokeMu.Lock()
	defer a.revokeMu.Unlock()
	if _, gone := a.revoked[res.PodUID]; gone && res.PodUID != "" {
		return &entry{key: key, err: Errorf(ReasonRevoked, "the pod %q this token is bound to was deleted", res.PodName)}
	}
	if e.expires.After(now) {
		a.cache.add(e)
	}
	return e
}

// decide turns a TokenReview status into a Result or a refusal.
func (a *Authenticator) decide(st *authv1.TokenReviewStatus, c claims) (Result, *Error) {
	if !st.Authenticated {
		detail := "the apiserver did not authenticate the token"
		if st.Error != "" {
			detail += ": " + truncate(st.Error, 200)
		}
		return Result{}, &Error{Reason: ReasonRejected, Detail: detail}
	}
	if !slices.Contains(st.Audiences, a.opts.Audience) {
		return Result{}, Errorf(ReasonWrongAudience, "token review audiences %q do not include %q", st.Audiences, a.opts.Audience)
	}
	id, ok := parseServiceAccount(st.User.Username)
	if !ok {
		return Result{}, Errorf(ReasonNotServiceAccount, "user %q is not a ServiceAccount", truncate(st.User.Username, 200))
	}
	res := Result{Identity: id, Expiry: c.Expiry}
	if v := st.User.Extra[PodNameExtraKey]; len(v) == 1 {
		res.PodName = v[0]
	}
	if v := st.User.Extra[PodUIDExtraKey]; len(v) == 1 {
		res.PodUID = v[0]
	}
	if !a.opts.AllowUnboundTokens && res.PodName == "" {
		return Result{}, Errorf(ReasonNotPodBound, "token of ServiceAccount %s is not bound to a pod", id)
	}
	return res, nil
}

// parseServiceAccount splits system:serviceaccount:<ns>:<name>.
func parseServiceAccount(username string) (Identity, bool) {
	rest, ok := strings.CutPrefix(username, serviceAccountPrefix)
	if !ok {
		return Identity{}, false
	}
	ns, name, ok := strings.Cut(rest, ":")
	if !ok || ns == "" || name == "" || strings.Contains(name, ":") {
		return Identity{}, false
	}
	return Identity{Namespace: ns, ServiceAccount: name}, true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// String is for logs.
func (r Result) String() string {
	return fmt.Sprintf("%s (pod %q, expires %s)", r.Identity, r.PodName, r.Expiry.UTC().Format(time.RFC3339))
}
