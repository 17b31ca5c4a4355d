package clustertest

import (
	"strings"
	"testing"
	"time"

	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/berth-gateway/berth/controller"
)

// The metrics address serves berth_kube_api_requests_total, counting the
// controller's real requests by verb and resource, and, with Profiling, the
// Go profiles; without Profiling, none.
func TestMetricsRequestsAndProfiling(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	addr := freeLoopback(t)
	h.tune = func(o *controller.Options) { o.MetricsBindAddress, o.Profiling = addr, true }
	stop := h.start()
	p := &controllerProcess{metrics: "http://" + addr}
	waitFor(t, time.Minute, "metrics served", func() error {
		_, err := p.scrape()
		return err
	})
	before := p.requests(t)
	h.create(clusterIPProxy(h.ns, "proxy"))
	h.gateway("gw", 8080, "proxy")
	h.programmed(k8stypes.NamespacedName{Namespace: h.ns, Name: "gw"})
	got := since(before, p.requests(t))
	// The counter is the process's (other tests' controllers run beside
	// this one): what this Gateway cost is at least in it.
	if k := (reqKey{"update", "gateways/status.gateway.networking.k8s.io", 200}); got[k] < 1 {
		t.Errorf("no status write counted while a Gateway was programmed; counted: %v", got)
	}
	// Server-side apply: 201 when it creates.
	if got[reqKey{"patch", "deployments.apps", 200}]+got[reqKey{"patch", "deployments.apps", 201}] < 1 {
		t.Errorf("no Deployment apply counted while a Gateway was programmed; counted: %v", got)
	}
	if all := p.requests(t); all[reqKey{"watch", "gateways.gateway.networking.k8s.io", 200}] < 1 {
		t.Errorf("no Gateway watch counted: %v", all)
	}
	heap, err := p.get("/debug/pprof/heap?gc=1")
	if err != nil || !strings.HasPrefix(string(heap), "\x1f\x8b") {
		t.Errorf("heap profile: %v, %d bytes, want gzipped protobuf", err, len(heap))
	}
	stop()

	// Without Profiling: metrics, no profiles.
	addr = freeLoopback(t)
	h.tune = func(o *controller.Options) { o.MetricsBindAddress = addr }
	h.start()
	p = &controllerProcess{metrics: "http://" + addr}
	waitFor(t, time.Minute, "metrics served", func() error {
		_, err := p.scrape()
		return err
	})
	if _, err := p.get("/debug/pprof/"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("GET /debug/pprof/ without profiling: %v, want 404", err)
	}
}
