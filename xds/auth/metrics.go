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
)

// Metrics are the token pipeline's Prometheus metrics.
type Metrics struct {
	// Reviews counts TokenReviews by result.
	Reviews *prometheus.CounterVec
	// CacheLookups counts cache lookups by result.
	CacheLookups *prometheus.CounterVec
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
		for _, c := range []prometheus.Collector{m.Reviews, m.CacheLookups} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
