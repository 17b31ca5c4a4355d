package readiness

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/berth-gateway/berth/internal/golden"
)

// TestChangesGolden replays a Gateway's life as a sequence of snapshots and
// compares the progress lines with testdata/progress.golden.
func TestChangesGolden(t *testing.T) {
	inv := Key{Namespace: "team-a", Name: "envoy-team-a-gateway-a-b65c6264-inventory"}
	obj := func(kind, group string, s kstatus.Status, msg string) Object {
		return Object{Group: group, Kind: kind, Namespace: "team-a", Name: "envoy-team-a-gateway-a-b65c6264", Status: s, Message: msg}
	}
	sa := obj("ServiceAccount", "", kstatus.CurrentStatus, "Resource is current")
	cm := obj("ConfigMap", "", kstatus.CurrentStatus, "Resource is current")
	svc := obj("Service", "", kstatus.CurrentStatus, "Service is ready")
	pending := gw(cond("Accepted", "Unknown", "Pending", 0), cond("Programmed", "Unknown", "Pending", 0))
	pending.Generation = 1
	accepted := gw(cond("Accepted", "True", "Accepted", 1), cond("Programmed", "False", "Pending", 1))
	accepted.Generation = 1
	programmed := gw(cond("Accepted", "True", "Accepted", 1), cond("Programmed", "True", "Programmed", 1))
	programmed.Generation = 1
	bumped := programmed
	bumped.Generation = 2
	steps := []struct {
		at   time.Duration
		snap Snapshot
	}{
		{0, Snapshot{Gateway: pending, Bundle: Bundle{Inventory: inv}}},
		{1200 * time.Millisecond, Snapshot{Gateway: pending, Bundle: Bundle{Inventory: inv, Objects: []Object{sa, cm}}}},
		{1300 * time.Millisecond, Snapshot{Gateway: accepted, Bundle: Bundle{Inventory: inv, InventoryFound: true, Objects: []Object{
			sa, cm, obj("Service", "", kstatus.NotFoundStatus, ""), obj("Deployment", "apps", kstatus.InProgressStatus, "Replicas: 0/1")}}}},
		{2100 * time.Millisecond, Snapshot{Gateway: accepted, Bundle: Bundle{Inventory: inv, InventoryFound: true, Objects: []Object{
			sa, cm, svc, obj("Deployment", "apps", kstatus.InProgressStatus, "Available: 0/1")}}}},
		{3200 * time.Millisecond, Snapshot{Gateway: accepted, Bundle: Bundle{Inventory: inv, InventoryFound: true, Objects: []Object{
			sa, cm, svc, obj("Deployment", "apps", kstatus.CurrentStatus, "Deployment is available. Replicas: 1")}}}},
		{3300 * time.Millisecond, Snapshot{Gateway: programmed, Bundle: Bundle{Inventory: inv, InventoryFound: true, Objects: []Object{
			sa, cm, svc, obj("Deployment", "apps", kstatus.CurrentStatus, "Deployment is available. Replicas: 1")}}}},
		{3300 * time.Millisecond, Snapshot{Gateway: programmed, Bundle: Bundle{Inventory: inv, InventoryFound: true, Objects: []Object{
			sa, cm, svc, obj("Deployment", "apps", kstatus.CurrentStatus, "Deployment is available. Replicas: 1")}}}},
		{12 * time.Second, Snapshot{Gateway: bumped, Bundle: Bundle{Inventory: inv, InventoryFound: true, Objects: []Object{
			sa, cm, svc, obj("Deployment", "apps", kstatus.CurrentStatus, "Deployment is available. Replicas: 1")}}}},
		{13 * time.Second, Snapshot{Gateway: bumped, Bundle: Bundle{Inventory: inv, InventoryFound: true, Objects: []Object{
			sa, cm, obj("Deployment", "apps", kstatus.CurrentStatus, "Deployment is available. Replicas: 1")}}}},
		{130 * time.Second, Snapshot{Gateway: Gateway{Key: bumped.Key}, Bundle: Bundle{Inventory: inv}}},
	}
	var b strings.Builder
	var prev *Snapshot
	for i, s := range steps {
		lines := Changes(prev, s.snap, "")
		b.WriteString("# step " + string(rune('0'+i)) + ": " + Decide(s.snap).String() + "\n")
		for _, l := range lines {
			b.WriteString(Stamp(s.at, l) + "\n")
		}
		prev = &steps[i].snap
	}
	golden.Compare(t, filepath.Join("testdata", "progress.golden"), []byte(b.String()))
}

func TestChangesPrefix(t *testing.T) {
	s := Snapshot{Gateway: gw(), Bundle: Bundle{Inventory: Key{"team-a", "inv"}, Objects: []Object{{Kind: "Service", Name: "s", Status: kstatus.CurrentStatus}}}}
	got := Changes(nil, s, "[team-a/gateway-a] ")
	want := []string{"[team-a/gateway-a] waiting for the bundle to be applied (no inventory ConfigMap team-a/inv yet)", "[team-a/gateway-a] Service s: Current"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
