package examples

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
	"github.com/berth-gateway/berth/xds/translate/evaluate"
)

// listenerset.yaml: the ListenerSet is attached, team b's route is
// accepted through it, and a request for team b's host on the Gateway's
// port reaches team b's backend.
func TestListenerSetExample(t *testing.T) {
	set, _ := renderFile(t, "listenerset.yaml")
	results := translate.Translate(translate.InputFromSet(set), translate.DefaultOptions())
	if len(results) != 1 {
		t.Fatalf("%d Gateways translated", len(results))
	}
	res := results[0]
	if err := translate.Validate(res.Resources); err != nil {
		t.Fatal(err)
	}
	if res.AttachedListenerSets != 1 || len(res.ListenerSets) != 1 {
		t.Fatalf("attachedListenerSets %d, %d ListenerSet statuses; want 1 and 1", res.AttachedListenerSets, len(res.ListenerSets))
	}
	if c := res.ListenerSets[0].Condition(gwv1.ListenerSetConditionAccepted); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("ListenerSet Accepted: %+v", c)
	}
	if len(res.Routes) != 1 {
		t.Fatalf("%d route statuses, want 1", len(res.Routes))
	}
	if c := res.Routes[0].Condition(gwv1.RouteConditionAccepted); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("route Accepted: %+v", c)
	}
	d, err := evaluate.Snapshot(res.Resources, evaluate.Connection{Port: 10080}, evaluate.Request{Host: "www.team-b.com", Path: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if want := translate.ServiceClusterName("team-b", "team-b-web", 3000); d.Cluster != want {
		t.Errorf("cluster %q, want %q", d.Cluster, want)
	}
}
