package apply

import (
	"fmt"
	"runtime"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// BenchmarkWatchedCopyRetained is the memory a watched copy holds while it
// is cached, per kind of a rendered bundle (render's infrastructure golden
// output, as the apiserver returns it, decoded from protobuf, the
// Deployment Available): the live heap after a GC over 1,000 copies, per
// copy (retained-B/copy). The watched copies live as long as their
// objects; this is what apply holds per bundle object.
func BenchmarkWatchedCopyRetained(b *testing.B) {
	objs := liveBundle(b)
	for _, o := range objs[:4] {
		if d, ok := o.(*appsv1.Deployment); ok {
			d.Status = deploymentStates[3]
		}
		gvk := gvkOf(b, o)
		b.Run(gvk.Kind, func(b *testing.B) {
			h := &hub{manager: "berth"}
			const n = 1000
			var retained uint64
			for b.Loop() {
				keep := make([]*unstructured.Unstructured, 0, n)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				for j := range n {
					u := viaProto(b, h, o)
					u.SetUID(types.UID(fmt.Sprint(j)))
					keep = append(keep, u)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				retained = (after.HeapAlloc - before.HeapAlloc) / n
				runtime.KeepAlive(keep)
			}
			b.ReportMetric(float64(retained), "retained-B/copy")
		})
	}
}
