package xds

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-gateway/berth/xds/auth"
)

// Metrics are the xDS server's Prometheus metrics.
type Metrics struct {
	// ConnectedProxies is the number of authenticated streams per Gateway.
	ConnectedProxies *prometheus.GaugeVec
	// AuthFailures counts refused streams by auth.Reason.
	AuthFailures *prometheus.CounterVec
	// Refusals counts calls and connections refused for a Limit (what a
	// proxy never needs: unknown types, huge requests, too many streams or
	// connections, a peer refused too often) and handler panics.
	Refusals *prometheus.CounterVec
	// Revocations counts proxy pods gone whose tokens were revoked.
	Revocations prometheus.Counter
	// PushLatency is the time from Publish to a changed resource type being
	// sent on a stream that was connected when it was published.
	PushLatency *prometheus.HistogramVec
	// Publishes counts Publish calls by result (changed, unchanged, invalid).
	Publishes *prometheus.CounterVec
	// Auth are the token pipeline's metrics.
	Auth *auth.Metrics
}

// Publish results.
const (
	publishChanged   = "changed"
	publishUnchanged = "unchanged"
	publishInvalid   = "invalid"
)

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered), e.g. controller-runtime's metrics.Registry.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	am, err := auth.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	m := &Metrics{
		ConnectedProxies: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "berth_xds_connected_proxies",
			Help: "Authenticated xDS streams per Gateway.",
		}, []string{"namespace", "gateway"}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_xds_auth_failures_total",
			Help: "xDS streams refused, by reason.",
		}, []string{"reason"}),
		Refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_xds_refusals_total",
			Help: "xDS calls and connections refused for a limit, and handler panics, by limit.",
		}, []string{"limit"}),
		Revocations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_xds_pod_revocations_total",
			Help: "Proxy pods deleted whose cached tokens were dropped and streams ended.",
		}),
		PushLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "berth_xds_push_duration_seconds",
			Help:    "Time from a snapshot being published to a changed resource type being sent to a connected proxy.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"type"}),
		Publishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_xds_snapshot_publishes_total",
			Help: "Snapshot publications, by result.",
		}, []string{"result"}),
		Auth: am,
	}
	for _, r := range auth.Reasons() {
		m.AuthFailures.WithLabelValues(string(r))
	}
	for _, l := range Limits() {
		m.Refusals.WithLabelValues(string(l))
	}
	for _, r := range []string{publishChanged, publishUnchanged, publishInvalid} {
		m.Publishes.WithLabelValues(r)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.ConnectedProxies, m.AuthFailures, m.Refusals, m.Revocations, m.PushLatency, m.Publishes} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
