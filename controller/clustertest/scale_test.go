package clustertest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TestScale is the scale measurement of docs/benchmarks.md (opt-in, not part
// of `make test`): BERTH_SCALE=N Gateways in N namespaces, ClusterIP
// Services, applied at once; it reports the time until every one is
// Programmed and the process's peak RSS (the cluster runs in other processes).
//
//	BERTH_SCALE=200 go test -run TestScale -timeout 30m -v ./controller/clustertest/
func TestScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("BERTH_SCALE"))
	if n <= 0 {
		t.Skip("set BERTH_SCALE=N to run")
	}
	h := newHarness(t)
	h.watchNS = nil // cluster-wide, as installed
	ep := clusterIPProxy(h.ctrlNS, "proxy")
	h.create(ep)
	var class gwv1.GatewayClass
	if err := h.cl.Get(context.Background(), client.ObjectKey{Name: h.class}, &class); err != nil {
		t.Fatal(err)
	}
	ns := gwv1.Namespace(h.ctrlNS)
	class.Spec.ParametersRef = &gwv1.ParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "proxy", Namespace: &ns}
	if err := h.cl.Update(context.Background(), &class); err != nil {
		t.Fatal(err)
	}
	resetPeakRSS(t)
	h.start()
	time.Sleep(2 * time.Second) // caches synced, idle baseline

	prefix := strings.TrimSuffix(h.ns, "-") + "-s"
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			name := fmt.Sprintf("%s%03d", prefix, i)
			ctx := context.Background()
			if err := h.cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"berth.dev/test": "true"}}}); err != nil {
				t.Error(err)
				return
			}
			gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "gw"}, Spec: gwv1.GatewaySpec{
				GatewayClassName: gwv1.ObjectName(h.class),
				Listeners:        []gwv1.Listener{{Name: "http", Port: 8080, Protocol: gwv1.HTTPProtocolType}},
			}}
			if err := h.cl.Create(ctx, gw); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	applied := time.Since(start)
	var ready int
	lastLog := time.Now()
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		var list gwv1.GatewayList
		if err := h.cl.List(context.Background(), &list); err != nil {
			t.Fatal(err)
		}
		ready = 0
		why := map[string]int{}
		for _, gw := range list.Items {
			if string(gw.Spec.GatewayClassName) != h.class {
				continue
			}
			c := meta.FindStatusCondition(gw.Status.Conditions, "Programmed")
			switch {
			case c == nil:
				why["no status"]++
			case c.Status == metav1.ConditionTrue:
				ready++
			default:
				msg := c.Message
				if i := strings.Index(msg, ": "); i > 0 {
					msg = msg[i+2:]
				}
				why[c.Reason+": "+msg]++
			}
		}
		if ready == n {
			break
		}
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			t.Logf("%s: %d/%d Programmed; others: %v", time.Since(start).Round(time.Second), ready, n, why)
		}
		time.Sleep(250 * time.Millisecond)
	}
	elapsed := time.Since(start)
	t.Logf("%d Gateways: created in %s, all Programmed after %s (%d ready); peak RSS %s", n, applied.Round(time.Millisecond), elapsed.Round(time.Millisecond), ready, peakRSS(t))
	if ready != n {
		t.Errorf("only %d of %d Programmed", ready, n)
	}
	// Clean up: Gateways first (finalizers), then namespaces.
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s%03d", prefix, i)
		_ = h.cl.Delete(context.Background(), &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "gw"}})
	}
	waitFor(t, 5*time.Minute, "Gateways deleted", func() error {
		var list gwv1.GatewayList
		if err := h.cl.List(context.Background(), &list); err != nil {
			return err
		}
		for _, gw := range list.Items {
			if string(gw.Spec.GatewayClassName) == h.class {
				return fmt.Errorf("%s/%s left", gw.Namespace, gw.Name)
			}
		}
		return nil
	})
	for i := 0; i < n; i++ {
		_ = h.cl.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s%03d", prefix, i)}})
	}
}

// resetPeakRSS resets VmHWM (Linux: writing 5 to clear_refs).
func resetPeakRSS(t *testing.T) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Logf("cannot reset peak RSS: %v", err)
	}
}

func peakRSS(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "unknown"
}
