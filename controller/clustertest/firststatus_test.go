package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/testenv"
)

// TestInitialStatusDelay: within --initial-status-delay a new Gateway
// whose data plane becomes ready gets one status write, straight from the
// CRD's default to Programmed=True; one with something wrong (a listener
// allowing a route kind berth does not serve) has its status written at
// once, long before the delay ends. The delay is set far above how long a
// data plane takes here, so neither outcome depends on the machine's speed.
func TestInitialStatusDelay(t *testing.T) {
	t.Parallel()
	const delay = 3 * time.Minute
	h := newHarness(t)
	h.tune = func(o *controller.Options) { o.InitialStatusDelay = delay }
	h.create(clusterIPProxy(h.ns, "proxy"))
	h.reqs = &testenv.Requests{}
	h.start()

	// Every distinct status of each Gateway, in order.
	statuses := h.watchStatuses(func(u *unstructured.Unstructured) string {
		st, _, _ := unstructured.NestedFieldCopy(u.Object, "status")
		b, _ := json.Marshal(st)
		return string(b)
	})

	start := time.Now()
	ready := client.ObjectKeyFromObject(h.gateway("ready", 8080, "proxy"))
	h.programmed(ready)

	bad := &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "bad"},
		Spec: gwv1.GatewaySpec{
			GatewayClassName: gwv1.ObjectName(h.class),
			Listeners: []gwv1.Listener{{Name: "http", Port: 8081, Protocol: gwv1.HTTPProtocolType,
				AllowedRoutes: &gwv1.AllowedRoutes{Kinds: []gwv1.RouteGroupKind{{Kind: "UDPRoute"}}}}},
			Infrastructure: &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "proxy"}},
		},
	}
	h.create(bad)
	badKey := client.ObjectKeyFromObject(bad)
	waitFor(t, 60*time.Second, "the bad Gateway's status", func() error {
		var gw gwv1.Gateway
		if err := h.cl.Get(context.Background(), badKey, &gw); err != nil {
			return err
		}
		for _, l := range gw.Status.Listeners {
			for _, c := range l.Conditions {
				if c.Type == "ResolvedRefs" && c.Status == metav1.ConditionFalse {
					return nil
				}
			}
		}
		return errors.New("no listener ResolvedRefs=False yet")
	})
	if elapsed := time.Since(start); elapsed >= delay {
		t.Fatalf("the run took %s, longer than the delay %s: it proves nothing", elapsed, delay)
	}
	settle(h.reqs)

	seq := statuses("ready")
	if len(seq) != 2 || !strings.Contains(seq[0], `"Waiting for controller"`) || !strings.Contains(seq[1], `"status":"True","type":"Programmed"`) {
		t.Errorf("the ready Gateway's statuses: %d, want the CRD's default then Programmed=True:\n%s", len(seq), strings.Join(seq, "\n"))
	}
	writes := 0
	for _, r := range h.reqs.Since(0) {
		if r.Verb == "update" && strings.HasSuffix(r.Path, "/gateways/ready/status") {
			writes++
		}
	}
	if writes != 1 {
		t.Errorf("%d status writes for the ready Gateway, want 1", writes)
	}
}
