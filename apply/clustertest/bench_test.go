package clustertest

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berth-gateway/berth/apply"
	"github.com/berth-gateway/berth/internal/testenv"
)

// Benchmarks run against the local cluster; run them with a small -benchtime, e.g.
//
//	go test ./apply/clustertest -run '^$' -bench . -benchtime 5x
//
// Each reports API requests per operation (reads + writes; watches are long-running
// and reported separately) next to the time.

func reportCost(b *testing.B, total testenv.Counts) {
	b.ReportMetric(float64(total.Requests())/float64(b.N), "requests/op")
	b.ReportMetric(float64(total.Writes)/float64(b.N), "writes/op")
	b.ReportMetric(float64(total.Watches)/float64(b.N), "watches/op")
}

// warm makes the engine's discovery and watches ready, so benchmarks measure runs,
// not process start-up.
func warm(b *testing.B, eng *apply.Engine, ns string) {
	b.Helper()
	ctx := ctxFor(b, 3*time.Minute)
	inv := inventoryFor(ns, "warm")
	if _, err := eng.Run(ctx, inv, bundle(ns, "warm")); err != nil {
		b.Fatal(err)
	}
	if _, err := eng.Destroy(ctx, inv); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFirstApply: a new 5-object bundle (ServiceAccount, ConfigMap, Deployment,
// Service, HPA) until all Current.
func BenchmarkFirstApply(b *testing.B) {
	ns := testenv.Get(b).Namespace(b)
	eng, cnt := newEngine(b, nil)
	warm(b, eng, ns)
	ctx := ctxFor(b, 30*time.Minute)
	var total testenv.Counts
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("first%d", i)
		before := cnt.Mark()
		res, err := eng.Run(ctx, inventoryFor(ns, name), bundle(ns, name))
		total = total.Add(testenv.Count(cnt.Since(before)))
		if err != nil || !res.AllCurrent() {
			b.Fatalf("%v %s", err, res.Message())
		}
	}
	reportCost(b, total)
}

// BenchmarkNoOpReapply: re-applying an unchanged, all-Current bundle.
func BenchmarkNoOpReapply(b *testing.B) {
	ns := testenv.Get(b).Namespace(b)
	eng, cnt := newEngine(b, nil)
	ctx := ctxFor(b, 10*time.Minute)
	inv := inventoryFor(ns, "noop")
	if _, err := eng.Run(ctx, inv, bundle(ns, "noop")); err != nil {
		b.Fatal(err)
	}
	// Let the watches catch up with the first apply.
	for deadline := time.Now().Add(10 * time.Second); ; {
		res, err := eng.Run(ctx, inv, bundle(ns, "noop"))
		if err != nil {
			b.Fatal(err)
		}
		if res.NoOp {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("never reached the no-op path")
		}
		time.Sleep(100 * time.Millisecond)
	}
	before := cnt.Mark()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := eng.Run(ctx, inv, bundle(ns, "noop"))
		if err != nil || !res.NoOp {
			b.Fatalf("%v no-op=%t", err, res.NoOp)
		}
	}
	b.StopTimer()
	reportCost(b, testenv.Count(cnt.Since(before)))
}

// BenchmarkPrune: dropping the HPA from an applied bundle.
func BenchmarkPrune(b *testing.B) {
	ns := testenv.Get(b).Namespace(b)
	eng, cnt := newEngine(b, nil)
	warm(b, eng, ns)
	ctx := ctxFor(b, 30*time.Minute)
	var total testenv.Counts
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		name := fmt.Sprintf("prune%d", i)
		inv := inventoryFor(ns, name)
		if _, err := eng.Run(ctx, inv, bundle(ns, name)); err != nil {
			b.Fatal(err)
		}
		before := cnt.Mark()
		b.StartTimer()
		res, err := eng.Run(ctx, inv, bundle(ns, name)[:4])
		b.StopTimer()
		total = total.Add(testenv.Count(cnt.Since(before)))
		if err != nil || res.Count(apply.ActionPruned) != 1 {
			b.Fatalf("%v %s", err, actions(res))
		}
		b.StartTimer()
	}
	b.StopTimer()
	reportCost(b, total)
}

// BenchmarkDestroy: deleting a 5-object bundle and its inventory, confirmed gone.
func BenchmarkDestroy(b *testing.B) {
	ns := testenv.Get(b).Namespace(b)
	eng, cnt := newEngine(b, nil)
	warm(b, eng, ns)
	ctx := ctxFor(b, 30*time.Minute)
	var total testenv.Counts
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		name := fmt.Sprintf("destroy%d", i)
		inv := inventoryFor(ns, name)
		if _, err := eng.Run(ctx, inv, bundle(ns, name)); err != nil {
			b.Fatal(err)
		}
		before := cnt.Mark()
		b.StartTimer()
		res, err := eng.Destroy(ctx, inv)
		b.StopTimer()
		total = total.Add(testenv.Count(cnt.Since(before)))
		if err != nil || !res.InventoryDeleted {
			b.Fatalf("%v %s", err, actions(res))
		}
		b.StartTimer()
	}
	b.StopTimer()
	reportCost(b, total)
}

// BenchmarkTrack500Inventories: heap held by one engine tracking 500 inventories of
// three objects each (ServiceAccount, ConfigMap, Service), after they are applied.
// Run with -benchtime 1x; the interesting metric is bytes/inventory.
func BenchmarkTrack500Inventories(b *testing.B) {
	const n = 500
	env := testenv.Get(b)
	ns := env.Namespace(b)
	ctx := ctxFor(b, 20*time.Minute)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		var m0 runtime.MemStats
		runtime.ReadMemStats(&m0)
		// Watches scoped to the benchmark's namespace, so objects other tests left
		// behind in the shared cluster do not count.
		eng, _ := newEngine(b, func(o *apply.Options) { o.QPS, o.Burst, o.Namespaces = 400, 800, []string{ns} })
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		sem := make(chan struct{}, 25)
		for j := range n {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				name := fmt.Sprintf("i%d-%03d", i, j)
				res, err := eng.Run(ctx, inventoryFor(ns, name), []*unstructured.Unstructured{
					serviceAccount(ns, name), configMap(ns, name, map[string]any{"k": name}), service(ns, name),
				})
				if err == nil && !res.AllCurrent() {
					err = fmt.Errorf("%s: %s", name, res.Message())
				}
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		b.StopTimer()
		elapsed := time.Since(start)
		// Wait until the watches hold every inventory, then measure.
		for deadline := time.Now().Add(time.Minute); ; {
			known := 0
			for k := 0; k <= i; k++ {
				for j := range n {
					if eng.Status(apply.InventoryKey{Namespace: ns, Name: fmt.Sprintf("i%d-%03d-inventory", k, j)}).Known {
						known++
					}
				}
			}
			if known >= n*(i+1) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		runtime.GC()
		var m1 runtime.MemStats
		runtime.ReadMemStats(&m1)
		held := int64(m1.HeapInuse) - int64(m0.HeapInuse)
		b.ReportMetric(float64(held)/float64(n*(i+1)), "bytes/inventory")
		b.ReportMetric(float64(held)/(1<<20), "heap-MiB")
		b.ReportMetric(elapsed.Seconds(), "apply-s")
		// What the engine's watches hold: the applied kinds' objects in the
		// namespace carrying the managed label (the watches' selector).
		cached := 0
		opts := apply.DefaultOptions()
		for _, gvr := range []schema.GroupVersionResource{{Version: "v1", Resource: "serviceaccounts"}, gvrConfigMap, {Version: "v1", Resource: "services"}} {
			l, err := env.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: opts.ManagedLabelKey + "=" + opts.ManagedLabelValue})
			if err != nil {
				b.Fatal(err)
			}
			cached += len(l.Items)
		}
		b.ReportMetric(float64(cached), "watched-objects")
		st := eng.Status(apply.InventoryKey{Namespace: ns, Name: fmt.Sprintf("i%d-%03d-inventory", i, 0)})
		if !st.AllCurrent() {
			b.Errorf("status of a tracked inventory: %s", st.Message())
		}
		runtime.KeepAlive(eng)
		eng.Close()
	}
}
