package clustertest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/controller"
)

// TestUpgradeWave is the upgrade-wave measurement of docs/benchmarks.md
// (opt-in, not part of `make test`): BERTH_WAVE=N Gateways Programmed, then
// the controller restarted with a new shutdown-manager image and the default
// roll budget; it reports the time until every Deployment runs the new
// template and is Available, and the most Deployments in progress at once
// (a watch on the Deployments).
//
//	BERTH_WAVE=200 go test -run TestUpgradeWave -timeout 30m -v ./controller/clustertest/
func TestUpgradeWave(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("BERTH_WAVE"))
	if n <= 0 {
		t.Skip("set BERTH_WAVE=N to run")
	}
	h := newHarness(t)
	h.create(clusterIPProxy(h.ctrlNS, "proxy"))
	var class gwv1.GatewayClass
	if err := h.cl.Get(context.Background(), client.ObjectKey{Name: h.class}, &class); err != nil {
		t.Fatal(err)
	}
	ns := gwv1.Namespace(h.ctrlNS)
	class.Spec.ParametersRef = &gwv1.ParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "proxy", Namespace: &ns}
	if err := h.cl.Update(context.Background(), &class); err != nil {
		t.Fatal(err)
	}
	start := func(image string) func() {
		h.tune = func(o *controller.Options) {
			o.Render.ShutdownManagerImage = image
			o.Workers = controller.DefaultOptions().Workers
		}
		return h.start()
	}
	stop := start("berth.test/berth:old")
	t0 := time.Now()
	for i := 0; i < n; i++ {
		h.gateway(fmt.Sprintf("gw-%03d", i), 8080, "")
	}
	for i := 0; i < n; i++ {
		h.condition(key(h, fmt.Sprintf("gw-%03d", i)), "Programmed", "True", "Programmed", 10*time.Minute)
	}
	t.Logf("%d Gateways Programmed after %s", n, time.Since(t0).Round(100*time.Millisecond))
	w := watchRolls(t, h)
	stop()
	w.expect("berth.test/berth:new")
	t0 = time.Now()
	start("berth.test/berth:new")
	w.waitAllRolled(t, n, 30*time.Minute)
	t.Logf("upgrade wave over %d Gateways, budget %s: every Deployment rolled and Available after %s; at most %d in progress at once",
		n, controller.DefaultOptions().MaxConcurrentRolls, time.Since(t0).Round(100*time.Millisecond), w.maxInProgress())
}
