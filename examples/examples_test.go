package examples

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-gateway/berth/charts"
	"github.com/berth-gateway/berth/internal/golden"
	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/render"
)

func manifests(t *testing.T) []string {
	t.Helper()
	files, err := Manifests(".")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func renderFile(t *testing.T, file string) (*manifest.Set, []*render.Bundle) {
	t.Helper()
	set, bundles, err := Render(file)
	if err != nil {
		t.Fatal(err)
	}
	return set, bundles
}

// The seed files are the user's and must stay exactly as given: the copies
// here (the repository's only ones) are byte for byte those of ../shared/seed
// beside the module.
func TestSeedCopiesUnchanged(t *testing.T) {
	seedDir := filepath.Join("..", "..", "shared", "seed")
	if _, err := os.Stat(seedDir); os.IsNotExist(err) {
		t.Skipf("%s does not exist (a checkout without the shared seed folder beside it): the seed copies in examples/ are not checked", seedDir)
	}
	for _, f := range []string{GatewayNamespaceMode, ClusterIPEnvoyProxy} {
		seed, err := os.ReadFile(filepath.Join(seedDir, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, seed) {
			t.Errorf("examples/%s differs from %s:\n%s", f, filepath.Join(seedDir, f), golden.Diff(string(seed), string(got)))
		}
	}
}

// Every example has a line in README.md, and every line names a file.
func TestReadmeListsEveryExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("*.yaml")
	for _, f := range files {
		if !strings.Contains(string(readme), "| `"+f+"` |") {
			t.Errorf("README.md has no line for %s", f)
		}
	}
	for _, line := range strings.Split(string(readme), "\n") {
		if name, ok := strings.CutPrefix(line, "| `"); ok {
			name, _, _ = strings.Cut(name, "`")
			if _, err := os.Stat(name); err != nil {
				t.Errorf("README.md lists %s: %v", name, err)
			}
		}
	}
}

// Every manifest renders into at least one bundle, using only EnvoyProxy
// fields berth implements.
func TestRender(t *testing.T) {
	want := map[string]int{ // Gateways of berth's classes per file
		"gateway-namespace-mode.yaml": 2, "clusterip-envoyproxy.yaml": 2, "hpa-pdb.yaml": 1,
		"per-gateway-envoyproxy.yaml": 2, "https-listener.yaml": 1, "l4-routes.yaml": 1,
		"listenerset.yaml": 1,
	}
	for _, f := range manifests(t) {
		t.Run(f, func(t *testing.T) {
			_, bundles := renderFile(t, f)
			if len(bundles) != want[f] {
				t.Errorf("%d bundles, want %d", len(bundles), want[f])
			}
			for _, b := range bundles {
				if len(b.Unsupported) > 0 {
					t.Errorf("Gateway %s: unsupported fields %v", b.Gateway, b.Unsupported)
				}
			}
		})
	}
}

// What each example is for shows in its bundles.
func TestRenderedShape(t *testing.T) {
	kinds := func(b *render.Bundle) map[string]map[string]any {
		t.Helper()
		objs, err := b.Unstructured()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]map[string]any{}
		for _, o := range objs {
			out[o.GetKind()] = o.Object
		}
		return out
	}
	byGateway := func(bundles []*render.Bundle, name string) *render.Bundle {
		for _, b := range bundles {
			if b.Gateway.Name == name {
				return b
			}
		}
		t.Fatalf("no bundle for Gateway %s", name)
		return nil
	}

	_, bundles := renderFile(t, "hpa-pdb.yaml")
	k := kinds(bundles[0])
	if k["HorizontalPodAutoscaler"] == nil || k["PodDisruptionBudget"] == nil {
		t.Errorf("hpa-pdb.yaml: bundle has no HPA or PDB")
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(k["Deployment"], "spec", "replicas"); found {
		t.Errorf("hpa-pdb.yaml: Deployment sets replicas although an HPA scales it")
	}

	_, bundles = renderFile(t, "per-gateway-envoyproxy.yaml")
	internal, public := kinds(byGateway(bundles, "internal")), kinds(byGateway(bundles, "public"))
	if typ, _, _ := unstructured.NestedString(internal["Service"], "spec", "type"); typ != "ClusterIP" {
		t.Errorf("per-gateway-envoyproxy.yaml: internal Service type %q, want ClusterIP", typ)
	}
	if name, _, _ := unstructured.NestedString(internal["Service"], "metadata", "name"); name != "internal-gateway" {
		t.Errorf("per-gateway-envoyproxy.yaml: internal Service name %q, want internal-gateway", name)
	}
	if typ, _, _ := unstructured.NestedString(public["Service"], "spec", "type"); typ != "LoadBalancer" {
		t.Errorf("per-gateway-envoyproxy.yaml: public Service type %q, want LoadBalancer", typ)
	}

	_, bundles = renderFile(t, "https-listener.yaml")
	ports, _, _ := unstructured.NestedSlice(kinds(bundles[0])["Service"], "spec", "ports")
	var got []string
	for _, p := range ports {
		pm := p.(map[string]any)
		got = append(got, fmt.Sprint(pm["port"])+"->"+fmt.Sprint(pm["targetPort"]))
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"443->10443", "80->10080"}) {
		t.Errorf("https-listener.yaml: Service ports %v, want 443->10443 and 80->10080", got)
	}
}

// The namespaced install example is valid chart values and yields Roles in
// exactly the two team namespaces.
func TestNamespacedValues(t *testing.T) {
	ctx := context.Background()
	helm, err := charts.Helm(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := charts.Template(ctx, helm, "berth-system", "namespaced-values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := charts.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, o := range objs {
		if o.GetKind() == "Role" && o.GetAnnotations()["helm.sh/hook"] == "" {
			roles = append(roles, o.GetNamespace()+"/"+o.GetName())
		}
	}
	want := []string{"berth-system/berth", "team-a/berth-watched", "team-b/berth-watched"}
	if !slices.Equal(roles, want) {
		t.Errorf("Roles %v, want %v", roles, want)
	}
}

// The HTTPS example carries a real key pair for its hostname that stays
// valid long enough not to rot the tests.
func TestHTTPSCertificate(t *testing.T) {
	set, err := manifest.ReadFiles([]string{"https-listener.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Secrets) != 1 {
		t.Fatalf("https-listener.yaml has %d Secrets, want 1", len(set.Secrets))
	}
	crt, key := set.Secrets[0].Data["tls.crt"], set.Secrets[0].Data["tls.key"]
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		t.Fatalf("tls.crt/tls.key: %v", err)
	}
	if err := pair.Leaf.VerifyHostname("secure.team-a.com"); err != nil {
		t.Error(err)
	}
	if time.Until(pair.Leaf.NotAfter) < 365*24*time.Hour {
		t.Errorf("the example certificate expires %s: generate a new one", pair.Leaf.NotAfter)
	}
}
