package apply

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-gateway/berth/internal/testenv"
)

// Benchmarks run against the local cluster; run them with a small -benchtime, e.g.
//
//	go test ./apply -run '^$' -bench . -benchtime 5x
//
// Each reports API requests per operation (reads + writes; watches are long-running
// and reported separately) next to the time.

func reportCost(b *testing.B, total snapshot) {
	b.ReportMetric(float64(total.requests())/float64(b.N), "requests/op")
	b.ReportMetric(float64(total.writes)/float64(b.N), "writes/op")
	b.ReportMetric(float64(total.watches)/float64(b.N), "watches/op")
}

// warm makes the engine's discovery and watches ready, so benchmarks measure runs,
// not process start-up.
func warm(b *testing.B, eng *Engine, ns string) {
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
	var total snapshot
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("first%d", i)
		before := cnt.snap()
		res, err := eng.Run(ctx, inventoryFor(ns, name), bundle(ns, name))
		d := cnt.since(before)
		total = snapshot{total.reads + d.reads, total.writes + d.writes, total.watches + d.watches}
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
	before := cnt.snap()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := eng.Run(ctx, inv, bundle(ns, "noop"))
		if err != nil || !res.NoOp {
			b.Fatalf("%v no-op=%t", err, res.NoOp)
		}
	}
	b.StopTimer()
	reportCost(b, cnt.since(before))
}

// BenchmarkPrune: dropping the HPA from an applied bundle.
func BenchmarkPrune(b *testing.B) {
	ns := testenv.Get(b).Namespace(b)
	eng, cnt := newEngine(b, nil)
	warm(b, eng, ns)
	ctx := ctxFor(b, 30*time.Minute)
	var total snapshot
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		name := fmt.Sprintf("prune%d", i)
		inv := inventoryFor(ns, name)
		if _, err := eng.Run(ctx, inv, bundle(ns, name)); err != nil {
			b.Fatal(err)
		}
		before := cnt.snap()
		b.StartTimer()
		res, err := eng.Run(ctx, inv, bundle(ns, name)[:4])
		b.StopTimer()
		d := cnt.since(before)
		total = snapshot{total.reads + d.reads, total.writes + d.writes, total.watches + d.watches}
		if err != nil || res.Count(ActionPruned) != 1 {
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
	var total snapshot
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		name := fmt.Sprintf("destroy%d", i)
		inv := inventoryFor(ns, name)
		if _, err := eng.Run(ctx, inv, bundle(ns, name)); err != nil {
			b.Fatal(err)
		}
		before := cnt.snap()
		b.StartTimer()
		res, err := eng.Destroy(ctx, inv)
		b.StopTimer()
		d := cnt.since(before)
		total = snapshot{total.reads + d.reads, total.writes + d.writes, total.watches + d.watches}
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
	ns := testenv.Get(b).Namespace(b)
	ctx := ctxFor(b, 20*time.Minute)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		var m0 runtime.MemStats
		runtime.ReadMemStats(&m0)
		// Watches scoped to the benchmark's namespace, so objects other tests left
		// behind in the shared cluster do not count.
		eng, _ := newEngine(b, func(o *Options) { o.QPS, o.Burst, o.Namespaces = 400, 800, []string{ns} })
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
			eng.hub.mu.RLock()
			known := len(eng.hub.invs)
			eng.hub.mu.RUnlock()
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
		cached := 0
		for _, k := range eng.hub.watches.Kinds() {
			cached += k.Len()
		}
		b.ReportMetric(float64(cached), "watched-objects")
		st := eng.Status(InventoryKey{Namespace: ns, Name: fmt.Sprintf("i%d-%03d-inventory", i, 0)})
		if !st.AllCurrent() {
			b.Errorf("status of a tracked inventory: %s", st.Message())
		}
		runtime.KeepAlive(eng)
		eng.Close()
	}
}
