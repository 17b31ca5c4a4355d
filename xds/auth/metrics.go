package auth

import "github.com/prometheus/client_golang/prometheus"

// Label values of the token metrics.
const (
	// ReviewAuthenticated: the apiserver authenticated the token (the
	// identity may still be refused, e.g. not a ServiceAccount).
	ReviewAuthenticated = "authenticated"
	// ReviewRejected: the apiserver did not authenticate the token.
	ReviewRejected = "rejected"
	// ReviewError: the review could not be made.
	ReviewError = "error"

	// CacheHit: a cached positive outcome was used.
	CacheHit = "hit"
	// CacheNegativeHit: a cached refusal was used.
	CacheNegativeHit = "negative_hit"
	// CacheMiss: no cached outcome; a review was made or joined.
	CacheMiss = "miss"

	// VerifyOK: the signature verified against the issuer's keys.
	VerifyOK = "verified"
	// VerifyRefused: it did not (or the token is not a signed JWT).
	VerifyRefused = "refused"
	// VerifyUnavailable: the keys could not be had; reviewed unverified.
	VerifyUnavailable = "unavailable"

	// RefreshOK and RefreshError count fetches of the issuer's keys.
	RefreshOK    = "ok"
	RefreshError = "error"
)

// Metrics are the token pipeline's Prometheus metrics.
type Metrics struct {
	// Reviews counts TokenReviews by result.
	Reviews *prometheus.CounterVec
	// CacheLookups counts cache lookups by result.
	CacheLookups *prometheus.CounterVec
	// Verifications counts local signature checks by result.
	Verifications *prometheus.CounterVec
	// KeyRefreshes counts fetches of the issuer's keys by result.
	KeyRefreshes *prometheus.CounterVec
}

func newMetrics() *Metrics {
	m := &Metrics{
		Reviews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_xds_token_reviews_total",
			Help: "TokenReviews made for xDS bearer tokens, by result.",
		}, []string{"result"}),
		CacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_xds_token_cache_lookups_total",
			Help: "Lookups of xDS bearer tokens in the review cache, by result.",
		}, []string{"result"}),
		Verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_xds_token_verifications_total",
			Help: "Local signature checks of xDS bearer tokens against the ServiceAccount issuer keys, by result.",
		}, []string{"result"}),
		KeyRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_xds_issuer_key_refreshes_total",
			Help: "Fetches of the ServiceAccount issuer keys, by result.",
		}, []string{"result"}),
	}
	for _, r := range []string{VerifyOK, VerifyRefused, VerifyUnavailable} {
		m.Verifications.WithLabelValues(r)
	}
	for _, r := range []string{RefreshOK, RefreshError} {
		m.KeyRefreshes.WithLabelValues(r)
	}
	for _, r := range []string{ReviewAuthenticated, ReviewRejected, ReviewError} {
		m.Reviews.WithLabelValues(r)
	}
	for _, r := range []string{CacheHit, CacheNegativeHit, CacheMiss} {
		m.CacheLookups.WithLabelValues(r)
	}
	return m
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := newMetrics()
	if reg != nil {
		for _, c := range []prometheus.Collector{m.Reviews, m.CacheLookups, m.Verifications, m.KeyRefreshes} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
