package controller_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/berth-gateway/berth/controller"
)

// writeCounter counts the controller's mutating API requests (every client
// the controller builds from the config wraps its own transport).
type writeCounter struct {
	writes atomic.Int64
	mu     sync.Mutex
	log    []string
}

type countingTransport struct {
	w    *writeCounter
	next http.RoundTripper
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := c.w
	if r.Method != http.MethodGet {
		w.writes.Add(1)
		w.mu.Lock()
		w.log = append(w.log, r.Method+" "+r.URL.Path)
		w.mu.Unlock()
	}
	return c.next.RoundTrip(r)
}

// Once Programmed, reconciles that find nothing changed write nothing: no
// status update, no apply, no event (what a resync does to every Gateway).
func TestIdleReconcilesWriteNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(clusterIPProxy(h.ns, "proxy"))
	wc := &writeCounter{}
	cfg := rest.CopyConfig(h.env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return countingTransport{wc, rt} }
	c, err := controller.New(cfg, h.options())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	gw := h.gateway("gw", 8080, "proxy")
	h.programmed(client.ObjectKeyFromObject(gw))
	time.Sleep(3 * time.Second) // let the last events and status settle
	before := wc.writes.Load()
	wc.mu.Lock()
	n := len(wc.log)
	wc.mu.Unlock()
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
	if got := wc.writes.Load() - before; got != 0 {
		wc.mu.Lock()
		t.Errorf("%d writes while idle: %v", got, wc.log[n:])
		wc.mu.Unlock()
	}
}
