package controller

import (
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/berth-gateway/berth/apply"
	"github.com/berth-gateway/berth/internal/apirequest"
	"github.com/berth-gateway/berth/xds"
)

// metrics are the controller's Prometheus metrics, registered once per
// process on controller-runtime's registry (served at --metrics-bind-address).
type metrics struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	applied  *prometheus.CounterVec
	pruned   prometheus.Counter
	gateways *prometheus.GaugeVec
	sweeps   *prometheus.CounterVec
	swept    prometheus.Counter
	rolls    *prometheus.GaugeVec
	requests *prometheus.CounterVec
}

var (
	metricsOnce sync.Once
	theMetrics  *metrics
	xdsOnce     sync.Once
	xdsMetrics  *xds.Metrics
)

func sharedMetrics() *metrics {
	metricsOnce.Do(func() {
		m := &metrics{
			duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Name: "berth_reconcile_duration_seconds", Help: "Time of one reconcile, by controller.",
				Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
			}, []string{"controller"}),
			errors: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "berth_reconcile_errors_total", Help: "Reconciles that returned an error, by controller.",
			}, []string{"controller"}),
			applied: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "berth_apply_actions_total", Help: "Objects handled by apply runs and destroys, by kind and action.",
			}, []string{"kind", "action"}),
			pruned: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "berth_objects_pruned_total", Help: "Objects deleted because they left a bundle.",
			}),
			gateways: prometheus.NewGaugeVec(prometheus.GaugeOpts{
				Name: "berth_gateways", Help: "Gateways served, by condition type and status.",
			}, []string{"condition", "status"}),
			sweeps: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "berth_gc_sweeps_total", Help: "Orphan inventory sweeps, by result.",
			}, []string{"result"}),
			swept: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "berth_gc_inventories_destroyed_total", Help: "Inventories destroyed by sweeps because their Gateway was gone.",
			}),
			rolls: prometheus.NewGaugeVec(prometheus.GaugeOpts{
				Name: "berth_roll_budget_gateways", Help: "Gateways whose pod template change is queued by the roll budget, rolling, or rolling past --roll-progress-deadline (stuck, also counted as rolling).",
			}, []string{"state"}),
			requests: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "berth_kube_api_requests_total",
				Help: `Requests the controller sent to the Kubernetes API server, by verb (as the API server names it: get, list, watch, create, update, patch, delete, ...), API group ("" for core), resource and subresource (all empty, verb the HTTP method, for discovery and other non-resource requests) and HTTP status code ("<error>": no response). A watch counts once, when it starts.`,
			}, []string{"verb", "group", "resource", "subresource", "code"}),
		}
		crmetrics.Registry.MustRegister(m.duration, m.errors, m.applied, m.pruned, m.gateways, m.sweeps, m.swept, m.rolls, m.requests)
		theMetrics = m
	})
	return theMetrics
}

func sharedXDSMetrics() *xds.Metrics {
	xdsOnce.Do(func() {
		var err error
		if xdsMetrics, err = xds.NewMetrics(crmetrics.Registry); err != nil {
			xdsMetrics, _ = xds.NewMetrics(nil)
		}
	})
	return xdsMetrics
}

// observe times one reconcile; call the result with its error.
func (m *metrics) observe(controller string) func(error) {
	start := time.Now()
	return func(err error) {
		m.duration.WithLabelValues(controller).Observe(time.Since(start).Seconds())
		if err != nil {
			m.errors.WithLabelValues(controller).Inc()
		}
	}
}

func (m *metrics) actions(r *apply.Result) {
	if r == nil {
		return
	}
	for _, o := range r.Objects {
		m.applied.WithLabelValues(o.Ref.Kind, string(o.Action)).Inc()
		if o.Action == apply.ActionPruned {
			m.pruned.Inc()
		}
	}
}

func (m *metrics) sweep(err error) {
	res := "success"
	if err != nil {
		res = "error"
	}
	m.sweeps.WithLabelValues(res).Inc()
}

func (m *metrics) setGateways(counts gaugeCounts) {
	for i, t := range []string{"Accepted", "Programmed"} {
		m.gateways.WithLabelValues(t, "False").Set(float64(counts[i][0]))
		m.gateways.WithLabelValues(t, "True").Set(float64(counts[i][1]))
	}
}

func (m *metrics) setRolls(queued, rolling, stuck int) {
	m.rolls.WithLabelValues("queued").Set(float64(queued))
	m.rolls.WithLabelValues("rolling").Set(float64(rolling))
	m.rolls.WithLabelValues("stuck").Set(float64(stuck))
}

// countRequests makes every client built from cfg (after this call) count
// its requests in berth_kube_api_requests_total.
func (m *metrics) countRequests(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &countingTransport{next: rt, requests: m.requests}
	})
}

type countingTransport struct {
	next     http.RoundTripper
	requests *prometheus.CounterVec
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	info := apirequest.Parse(req)
	resp, err := t.next.RoundTrip(req)
	code := "<error>"
	if resp != nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	t.requests.WithLabelValues(info.Verb, info.Group, info.Resource, info.Subresource, code).Inc()
	return resp, err
}

// WrappedRoundTripper lets client-go find the transport below (for
// request cancellation and TLS cache keys).
func (t *countingTransport) WrappedRoundTripper() http.RoundTripper { return t.next }

// profilingHandlers serve net/http/pprof under /debug/pprof/ (--profiling).
func profilingHandlers() map[string]http.Handler {
	return map[string]http.Handler{
		"/debug/pprof/":        http.HandlerFunc(pprof.Index), // and every named profile: heap, goroutine, allocs, ...
		"/debug/pprof/cmdline": http.HandlerFunc(pprof.Cmdline),
		"/debug/pprof/profile": http.HandlerFunc(pprof.Profile),
		"/debug/pprof/symbol":  http.HandlerFunc(pprof.Symbol),
		"/debug/pprof/trace":   http.HandlerFunc(pprof.Trace),
	}
}
