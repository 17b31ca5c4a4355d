package charts

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/internal/localcluster"
	"github.com/berth-gateway/berth/rbac"
)

// docs splits helm's output into objects.
func docs(t *testing.T, out []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := Decode(out)
	if err != nil {
		t.Fatalf("decode rendered manifests: %v", err)
	}
	return objs
}

// rbacKey and normalized RBAC: labels and hook annotations are the chart's
// decoration; everything else must match berth rbac exactly.
func normalizedRBAC(t *testing.T, u *unstructured.Unstructured) (string, []byte) {
	t.Helper()
	c := u.DeepCopy()
	c.SetLabels(nil)
	c.SetAnnotations(nil)
	data, err := yaml.Marshal(c.Object)
	if err != nil {
		t.Fatal(err)
	}
	var typed any
	switch c.GetKind() {
	case "ClusterRole":
		typed = &rbacv1.ClusterRole{}
	case "ClusterRoleBinding":
		typed = &rbacv1.ClusterRoleBinding{}
	case "Role":
		typed = &rbacv1.Role{}
	case "RoleBinding":
		typed = &rbacv1.RoleBinding{}
	}
	if err := yaml.UnmarshalStrict(data, typed); err != nil {
		t.Fatalf("%s %s: %v", c.GetKind(), c.GetName(), err)
	}
	if data, err = yaml.Marshal(typed); err != nil {
		t.Fatal(err)
	}
	return c.GetKind() + " " + c.GetNamespace() + "/" + c.GetName(), data
}

func rbacFromPackage(t *testing.T, o rbac.Options) map[string][]byte {
	t.Helper()
	s, err := rbac.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, obj := range s.Objects() {
		data, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		var u unstructured.Unstructured
		if err := yaml.Unmarshal(data, &u.Object); err != nil {
			t.Fatal(err)
		}
		k, d := normalizedRBAC(t, &u)
		out[k] = d
	}
	return out
}

// The chart's RBAC, for the controller and for the uninstall hook, is
// exactly what package rbac (and so berth rbac) builds for the same
// options: no rule more, no rule less, the same bindings.
func TestChartRBACIsPackageRBAC(t *testing.T) {
	h := helm(t)
	for _, c := range []struct {
		values string
		mutate func(*rbac.Options)
	}{
		{"default", func(*rbac.Options) {}},
		{"namespaced", func(o *rbac.Options) {
			o.WatchNamespaces, o.ExternalTLS, o.XDSTLSSecret = []string{"team-a", "team-b"}, true, "my-xds-tls"
		}},
	} {
		t.Run(c.values, func(t *testing.T) {
			out, err := Template(context.Background(), h, "berth-system", "testdata/"+c.values+".values.yaml")
			if err != nil {
				t.Fatal(err)
			}
			chart := map[string]map[string][]byte{"berth": {}, "berth-uninstall": {}}
			for _, u := range docs(t, out) {
				if u.GetAPIVersion() != rbacv1.SchemeGroupVersion.String() {
					continue
				}
				identity := "berth"
				if u.GetAnnotations()["helm.sh/hook"] != "" {
					identity = "berth-uninstall"
				}
				k, d := normalizedRBAC(t, u)
				chart[identity][k] = d
			}
			for identity, got := range chart {
				o := rbac.DefaultOptions()
				o.Name, o.ServiceAccount = identity, identity
				c.mutate(&o)
				want := rbacFromPackage(t, o)
				compareSets(t, identity, got, want)
			}
		})
	}
}

func compareSets(t *testing.T, identity string, got, want map[string][]byte) {
	t.Helper()
	keys := func(m map[string][]byte) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	if !slices.Equal(keys(got), keys(want)) {
		t.Errorf("%s: chart RBAC objects %v, package rbac %v", identity, keys(got), keys(want))
		return
	}
	for k := range want {
		if !bytes.Equal(got[k], want[k]) {
			t.Errorf("%s: %s differs:\nchart:\n%s\npackage rbac:\n%s", identity, k, got[k], want[k])
		}
	}
}

// The chart ships copies of CRDs; they must be the files berth is built and
// tested with, byte for byte.
func TestCRDCopiesAreIdentical(t *testing.T) {
	root, err := localcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	gw, err := localcluster.GatewayAPICRDDir(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ src, dst string }{
		{filepath.Join(root, "api", "crd"), filepath.Join(ChartDir(), "crds")},
		{gw, filepath.Join(ChartDir(), "files", "gateway-api-crds")},
	} {
		if err := sameFiles(c.src, c.dst); err != nil {
			t.Error(err)
		}
	}
}

func sameFiles(src, dst string) error {
	list := func(dir string) ([]string, error) {
		m, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for i := range m {
			m[i] = filepath.Base(m[i])
		}
		return m, err
	}
	a, err := list(src)
	if err != nil {
		return err
	}
	b, err := list(dst)
	if err != nil {
		return err
	}
	if !slices.Equal(a, b) {
		return fmt.Errorf("%s has %v, its copy %s has %v", src, a, dst, b)
	}
	for _, f := range a {
		x, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return err
		}
		y, err := os.ReadFile(filepath.Join(dst, f))
		if err != nil {
			return err
		}
		if !bytes.Equal(x, y) {
			return fmt.Errorf("%s differs from %s: copy it again", filepath.Join(dst, f), filepath.Join(src, f))
		}
	}
	return nil
}

// With crds.gatewayAPI the chart renders every object of the Gateway API
// standard channel unchanged except for helm.sh/resource-policy: keep.
func TestGatewayAPICRDs(t *testing.T) {
	h := helm(t)
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, []byte("crds:\n  gatewayAPI: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := Template(context.Background(), h, "berth-system", values)
	if err != nil {
		t.Fatal(err)
	}
	rendered := map[string]*unstructured.Unstructured{}
	for _, u := range docs(t, out) {
		if u.GetAnnotations()["gateway.networking.k8s.io/bundle-version"] != "" {
			rendered[u.GetKind()+"/"+u.GetName()] = u
		}
	}
	gw, err := localcluster.GatewayAPICRDDir(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(gw, "*.yaml"))
	upstream, err := localcluster.ReadManifests(files...)
	if err != nil {
		t.Fatal(err)
	}
	if len(upstream) != len(rendered) {
		t.Errorf("rendered %d Gateway API objects, upstream has %d", len(rendered), len(upstream))
	}
	for _, want := range upstream {
		got := rendered[want.GetKind()+"/"+want.GetName()]
		if got == nil {
			t.Errorf("%s %s not rendered", want.GetKind(), want.GetName())
			continue
		}
		if got.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("%s %s lacks helm.sh/resource-policy: keep", got.GetKind(), got.GetName())
		}
		a := got.GetAnnotations()
		delete(a, "helm.sh/resource-policy")
		got.SetAnnotations(a)
		if !reflect.DeepEqual(got.Object, want.Object) {
			t.Errorf("%s %s differs from upstream", got.GetKind(), got.GetName())
		}
	}
	// Off by default.
	out, err = Template(context.Background(), h, "berth-system", "testdata/default.values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "gateway.networking.k8s.io/bundle-version") {
		t.Error("the default values install Gateway API CRDs")
	}
}

// values.schema.json turns typos and bad values into install errors.
func TestSchemaRejectsTypos(t *testing.T) {
	h := helm(t)
	for _, set := range []string{
		"replica=3",                   // unknown key
		"xds.tls.mode=managed",        // enum is case-sensitive
		"watch.namespaces[0]=Team_A",  // not a namespace name
		"watch.namespaceselector=a=b", // wrong case
		"xds.port=70000",              // out of range
		"controllerName=no-path",      // not DOMAIN/PATH
		"uninstall.cleanUp=false",     // unknown key
		"crds.gatewayAPI=yes",         // not a boolean (--set-string)
	} {
		flag := "--set"
		if strings.HasPrefix(set, "crds.") {
			flag = "--set-string"
		}
		_, err := run(context.Background(), h, "template", "berth", ChartDir(), "--kube-version", KubeVersion, flag, set)
		if err == nil {
			t.Errorf("helm template %s %s succeeded", flag, set)
		} else if !strings.Contains(err.Error(), "schema") {
			t.Errorf("helm template %s %s: %v (want a schema error)", flag, set, err)
		}
	}
}
