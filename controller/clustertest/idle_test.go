package clustertest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/testenv"
)

// Once Programmed, reconciles that find nothing changed write nothing: no
// status update, no apply, no event (what a resync does to every Gateway).
func TestIdleReconcilesWriteNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(clusterIPProxy(h.ns, "proxy"))
	// Every client the controller builds from the config records its requests.
	var reqs testenv.Requests
	c, err := controller.New(reqs.Wrap(h.env.Config), h.options())
	if err != nil {
		t.Fatal(err)
	}
	testenv.Background(t, c.Run)

	gw := h.gateway("gw", 8080, "proxy")
	h.programmed(client.ObjectKeyFromObject(gw))
	time.Sleep(3 * time.Second) // let the last events and status settle
	mark := reqs.Mark()
	// Touch the Gateway's metadata and the EnvoyProxy's labels: each wakes
	// the reconcilers (like a resync) without changing anything they compute.
	for i := 0; i < 3; i++ {
		h.update(gw, func() {
			metav1.SetMetaDataAnnotation(&gw.ObjectMeta, "berth.test/touch", time.Now().Format(time.RFC3339Nano))
		})
		time.Sleep(time.Second)
	}
	time.Sleep(2 * time.Second)
	idle := reqs.Since(mark)
	if got := testenv.Count(idle).Writes; got != 0 {
		var writes []string
		for _, r := range idle {
			if r.Method != http.MethodGet {
				writes = append(writes, r.Method+" "+r.Path)
			}
		}
		t.Errorf("%d writes while idle: %v", got, writes)
	}
}

// After a restart, reconciles that find nothing changed write nothing
// either: the new controller's watches list the bundles applied before it
// started, and a bundle found unchanged once is Settled (no render, no
// apply) — not a full apply on every wake-up.
func TestIdleAfterRestartWritesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(clusterIPProxy(h.ns, "proxy"))
	names := []string{"gw-a", "gw-b", "gw-c"}
	stop := h.start()
	for _, name := range names {
		h.gateway(name, 8080, "proxy")
	}
	for _, name := range names {
		h.programmed(k8stypes.NamespacedName{Namespace: h.ns, Name: name})
	}
	stop()
	h.reqs = &testenv.Requests{}
	h.start()
	// The restarted controller's first reconcile of each Gateway (its
	// first Run of the bundle) has happened once its status is written for
	// the touch below; give the wake-ups of that pass time to settle.
	touch := func(round int) {
		for _, name := range names {
			gw := gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: name}}
			h.update(&gw, func() { metav1.SetMetaDataAnnotation(&gw.ObjectMeta, "berth.test/touch", fmt.Sprint(round)) })
		}
	}
	touch(0)
	time.Sleep(5 * time.Second)
	mark := h.reqs.Mark()
	for round := 1; round <= 3; round++ {
		touch(round)
		time.Sleep(time.Second)
	}
	time.Sleep(2 * time.Second)
	idle := h.reqs.Since(mark)
	if got := testenv.Count(idle); got.Writes != 0 {
		var writes []string
		for _, r := range idle {
			if r.Method != http.MethodGet {
				writes = append(writes, r.Method+" "+r.Path)
			}
		}
		t.Errorf("after a restart, %d touches of %d Gateways cost %s: writes %v", 3*len(names), len(names), got, writes)
	}
}
