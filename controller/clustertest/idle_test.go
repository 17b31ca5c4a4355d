package clustertest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

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
		if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(gw), gw); err != nil {
			t.Fatal(err)
		}
		if gw.Annotations == nil {
			gw.Annotations = map[string]string{}
		}
		gw.Annotations["berth.test/touch"] = time.Now().Format(time.RFC3339Nano)
		if err := h.cl.Update(context.Background(), gw); err != nil {
			t.Fatal(err)
		}
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
