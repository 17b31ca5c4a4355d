package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
)

// JWKSPath is where every apiserver serves the public keys its
// ServiceAccount tokens are signed with (service-account issuer discovery),
// whatever jwks_uri its /.well-known/openid-configuration advertises.
const JWKSPath = "/openid/v1/jwks"

// Verifier checks a token's signature locally, before any TokenReview, so
// that a forged token costs the apiserver nothing. It can only refuse: a
// verified token still goes to the TokenReview, which decides.
type Verifier interface {
	// Verify returns nil if token is signed by one of the cluster's
	// ServiceAccount issuer keys, an *Error (ReasonBadSignature) if it is
	// not, or an error wrapping ErrKeysUnavailable if no keys could be had
	// (the token then goes to the review's small unverified pool).
	Verify(ctx context.Context, token string) error
}

// ErrKeysUnavailable: the issuer's keys could not be fetched (or, for a
// key id not seen yet, not fetched again so soon).
var ErrKeysUnavailable = errors.New("service-account issuer keys unavailable")

// signatureAlgorithms are the algorithms the apiserver signs
// ServiceAccount tokens with (RSA or ECDSA keys).
var signatureAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512, jose.PS256, jose.PS384, jose.PS512}

// FetchFunc reads a path of the apiserver (JWKSPath).
type FetchFunc func(ctx context.Context, path string) ([]byte, error)

// NewKubernetesFetcher reads paths with a client-go REST client (e.g.
// clientset.Discovery().RESTClient()), authenticated as the controller: the
// default system:service-account-issuer-discovery binding lets every
// ServiceAccount read JWKSPath, and berth's ClusterRole names it too.
func NewKubernetesFetcher(c rest.Interface) FetchFunc {
	return func(ctx context.Context, path string) ([]byte, error) {
		b, err := c.Get().AbsPath(path).DoRaw(ctx)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", path, err)
		}
		return b, nil
	}
}

// IssuerVerifierOptions configure an IssuerVerifier.
type IssuerVerifierOptions struct {
	// MinRefreshInterval is the shortest time between two key fetches: a
	// token with an unknown key id makes the verifier fetch the keys again
	// (the apiserver rotated them), at most this often, so forged key ids
	// cannot make it hammer the apiserver.
	MinRefreshInterval time.Duration
	// FetchTimeout bounds one fetch.
	FetchTimeout time.Duration
	// Clock (nil: the real clock).
	Clock clock.PassiveClock
	// Metrics count the fetches (nil: not counted).
	Metrics *Metrics
}

// DefaultIssuerVerifierOptions returns the options berth runs with.
func DefaultIssuerVerifierOptions() IssuerVerifierOptions {
	return IssuerVerifierOptions{MinRefreshInterval: 10 * time.Second, FetchTimeout: 5 * time.Second}
}

// IssuerVerifier verifies token signatures against the apiserver's
// ServiceAccount issuer keys (JWKSPath), fetched on first use and again on
// an unknown key id, at most every MinRefreshInterval. A key id still
// unknown after that is refused (BadSignature): after a key rotation, a
// genuine token can be refused for at most MinRefreshInterval (the proxy
// retries), and forged key ids never cost a review. Only while no keys could
// ever be fetched does Verify return ErrKeysUnavailable. Safe for concurrent
// use.
type IssuerVerifier struct {
	fetch  FetchFunc
	opts   IssuerVerifierOptions
	flight singleflight.Group
	// refresh allows one fetch per MinRefreshInterval.
	refresh *rate.Limiter

	mu   sync.RWMutex
	keys *jose.JSONWebKeySet // nil until a fetch succeeded
}

// NewIssuerVerifier returns a verifier reading keys with fetch.
func NewIssuerVerifier(fetch FetchFunc, opts IssuerVerifierOptions) *IssuerVerifier {
	d := DefaultIssuerVerifierOptions()
	if opts.MinRefreshInterval <= 0 {
		opts.MinRefreshInterval = d.MinRefreshInterval
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = d.FetchTimeout
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return &IssuerVerifier{fetch: fetch, opts: opts, refresh: rate.NewLimiter(rate.Every(opts.MinRefreshInterval), 1)}
}

// Verify implements Verifier.
func (v *IssuerVerifier) Verify(ctx context.Context, token string) error {
	tok, err := josejwt.ParseSigned(token, signatureAlgorithms)
	if err != nil {
		return &Error{Reason: ReasonMalformed, Detail: "not a signed JWT with a ServiceAccount signature algorithm", Err: err}
	}
	kid := tok.Headers[0].KeyID
	keys := v.current()
	if keys == nil || (kid != "" && len(keys.Key(kid)) == 0) {
		// Never fetched, or a key id not seen: the keys may have rotated.
		// A refresh refused (too soon, or failing) keeps the keys we have:
		// only a verifier that never had any sends tokens on unverified.
		fresh, err := v.reload(ctx)
		switch {
		case err == nil:
			keys = fresh
		case keys == nil:
			return err
		}
		if kid != "" && len(keys.Key(kid)) == 0 {
			return Errorf(ReasonBadSignature, "token key id %q is not a key of the cluster's ServiceAccount issuer", truncate(kid, 64))
		}
	}
	candidates := keys.Keys
	if kid != "" {
		candidates = keys.Key(kid)
	}
	for _, k := range candidates {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		var c josejwt.Claims
		if tok.Claims(k.Key, &c) == nil {
			return nil
		}
	}
	return Errorf(ReasonBadSignature, "token signature does not verify against the cluster's ServiceAccount issuer keys")
}

func (v *IssuerVerifier) current() *jose.JSONWebKeySet {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.keys
}

// reload fetches the keys if the refresh budget allows (one caller
// fetches, the others wait for it); otherwise it returns ErrKeysUnavailable.
func (v *IssuerVerifier) reload(ctx context.Context) (*jose.JSONWebKeySet, error) {
	ch := v.flight.DoChan("keys", func() (any, error) {
		if !v.refresh.AllowN(v.opts.Clock.Now(), 1) {
			return nil, fmt.Errorf("%w: refreshed less than %s ago", ErrKeysUnavailable, v.opts.MinRefreshInterval)
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.opts.FetchTimeout)
		defer cancel()
		keys, err := v.load(fctx)
		if v.opts.Metrics != nil {
			r := RefreshOK
			if err != nil {
				r = RefreshError
			}
			v.opts.Metrics.KeyRefreshes.WithLabelValues(r).Inc()
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
		}
		v.mu.Lock()
		v.keys = keys
		v.mu.Unlock()
		return keys, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*jose.JSONWebKeySet), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, ctx.Err())
	}
}

func (v *IssuerVerifier) load(ctx context.Context) (*jose.JSONWebKeySet, error) {
	b, err := v.fetch(ctx, JWKSPath)
	if err != nil {
		return nil, err
	}
	var keys jose.JSONWebKeySet
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("%s is not a JSON Web Key Set: %w", JWKSPath, err)
	}
	if len(keys.Keys) == 0 {
		return nil, fmt.Errorf("%s holds no keys", JWKSPath)
	}
	return &keys, nil
}
