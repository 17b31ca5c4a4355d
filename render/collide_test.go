package render

import (
	"path/filepath"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-gateway/berth/internal/manifest"
)

// ClaimOf names exactly the objects Render produces, and the inventory,
// for every golden input: the controller compares Gateways by claims
// without rendering them.
func TestClaimOfMatchesBundle(t *testing.T) {
	files, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rendered := 0
	for _, path := range append(files, seedInput, clusterIPInput) {
		set, err := manifest.DecodeAll(manifest.Input{Source: path, Reader: openFile(t, path)})
		if err != nil {
			t.Fatal(err)
		}
		inputs, err := StaticInputs(Static{GatewayClasses: set.GatewayClasses, Gateways: set.Gateways, EnvoyProxies: set.EnvoyProxies}, testControllerName)
		if err != nil {
			continue // a golden error case
		}
		for _, in := range inputs {
			b, err := Render(in, testOptions())
			if err != nil {
				continue
			}
			rendered++
			claim, err := ClaimOf(in)
			if err != nil {
				t.Fatalf("%s: %s renders but ClaimOf fails: %v", path, b.Gateway, err)
			}
			want := []string{ObjectKey{"ConfigMap", b.Inventory.Namespace, b.Inventory.Name}.String()}
			for _, o := range b.Objects {
				want = append(want, ObjectKey{o.GetObjectKind().GroupVersionKind().Kind, o.GetNamespace(), o.GetName()}.String())
			}
			var got []string
			for _, k := range claim.Objects {
				got = append(got, k.String())
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s claims %v, renders %v", path, b.Gateway, got, want)
			}
		}
	}
	if rendered < 10 {
		t.Fatalf("only %d bundles compared", rendered)
	}
}

// The Gateway created first keeps a shared object; on a tie, the name that
// sorts first. Exactly one of the two keeps it, whichever side asks.
func TestCollisionsOrder(t *testing.T) {
	svc := ObjectKey{"Service", "ns", "shared"}
	claim := func(name string, created int64) Claim {
		return Claim{Gateway: types.NamespacedName{Namespace: "ns", Name: name}, Created: metav1.Unix(created, 0),
			Objects: []ObjectKey{{"Deployment", "ns", ProxyName("ns", name)}, svc}}
	}
	for _, c := range []struct {
		a, b   Claim
		aKeeps bool
		byName bool
	}{
		{claim("z", 100), claim("a", 200), true, false},
		{claim("z", 200), claim("a", 100), false, false},
		{claim("a", 100), claim("z", 100), true, true},
		{claim("z", 100), claim("a", 100), false, true},
	} {
		fromA, fromB := Collisions(c.a, []Claim{c.a, c.b}), Collisions(c.b, []Claim{c.a, c.b})
		if len(fromA) != 1 || len(fromB) != 1 {
			t.Fatalf("collisions %v and %v, want one each", fromA, fromB)
		}
		if fromA[0].Object != svc || fromA[0].Other != c.b.Gateway || fromB[0].Other != c.a.Gateway {
			t.Errorf("collisions %v and %v name the wrong object or Gateway", fromA, fromB)
		}
		if fromA[0].Kept != c.aKeeps || fromB[0].Kept == c.aKeeps || fromA[0].ByName != c.byName || fromB[0].ByName != c.byName {
			t.Errorf("%s@%v vs %s@%v: %+v and %+v, want a keeps: %v (by name: %v)", c.a.Gateway, c.a.Created, c.b.Gateway, c.b.Created, fromA[0], fromB[0], c.aKeeps, c.byName)
		}
	}
	if got := Collisions(claim("a", 1), []Claim{{Gateway: types.NamespacedName{Namespace: "ns", Name: "b"}, Objects: []ObjectKey{{"Service", "other", "shared"}}}}); len(got) != 0 {
		t.Errorf("objects of another namespace collide: %v", got)
	}
}
