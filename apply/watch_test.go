package apply

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	pollevent "sigs.k8s.io/cli-utils/pkg/kstatus/polling/event"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func TestChangedForOwners(t *testing.T) {
	rs := func(s status.Status, msg string, mutate func(u *unstructured.Unstructured)) *pollevent.ResourceStatus {
		u := deployment("a", 1)
		u.SetGeneration(1)
		u.SetAnnotations(map[string]string{cachedOwnedDigest: "d1"})
		if mutate != nil {
			mutate(u)
		}
		return &pollevent.ResourceStatus{Status: s, Message: msg, Resource: u}
	}
	base := rs(status.CurrentStatus, "ready", nil)
	cases := []struct {
		name string
		next *pollevent.ResourceStatus
		want bool
	}{
		{"status-only churn", rs(status.CurrentStatus, "ready", func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, int64(7), "status", "observedGeneration")
		}), false},
		{"status moved", rs(status.InProgressStatus, "ready", nil), true},
		{"message moved", rs(status.CurrentStatus, "Available: 1/2", nil), true},
		{"generation moved", rs(status.CurrentStatus, "ready", func(u *unstructured.Unstructured) { u.SetGeneration(2) }), true},
		{"owned fields drifted", rs(status.CurrentStatus, "ready", func(u *unstructured.Unstructured) {
			u.SetAnnotations(map[string]string{cachedOwnedDigest: "d2"})
		}), true},
		{"deletion started", rs(status.CurrentStatus, "ready", func(u *unstructured.Unstructured) {
			now := metav1.Now()
			u.SetDeletionTimestamp(&now)
		}), true},
		{"gone", &pollevent.ResourceStatus{Status: status.NotFoundStatus}, true},
	}
	for _, c := range cases {
		if got := changedForOwners(base, c.next); got != c.want {
			t.Errorf("%s: changedForOwners = %t, want %t", c.name, got, c.want)
		}
	}
}
