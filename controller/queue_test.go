package controller

import (
	"context"
	"testing"

	k8stypes "k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Readiness wake-ups overtake spec-change work already queued.
func TestReadinessWakeUpsJumpTheQueue(t *testing.T) {
	q := priorityqueue.New[reconcile.Request]("test")
	defer q.ShutDown()
	var r queueRef
	if err := r.source().Start(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	key := func(n string) k8stypes.NamespacedName { return k8stypes.NamespacedName{Namespace: "ns", Name: n} }
	r.add(key("spec-1"), key("spec-2"))
	r.addUrgent(key("ready"))
	var got []string
	for range 3 {
		item, _, shutdown := q.GetWithPriority()
		if shutdown {
			t.Fatal("queue shut down")
		}
		got = append(got, item.Name)
		q.Done(item)
	}
	if got[0] != "ready" {
		t.Fatalf("order %v: the readiness wake-up should come first", got)
	}
}
