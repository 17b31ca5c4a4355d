// Package examples tests the runnable manifests in this folder: each one
// renders offline as `berth render` does, and applies (server-side, as the
// admin) on a local cluster together with the bundles rendered from it.
package examples

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-gateway/berth/charts"
	"github.com/berth-gateway/berth/internal/localcluster"
	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/render"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// controllerName is berth's default (the reference's), which every example
// uses so that they work with the default install.
const controllerName = "gateway.envoyproxy.io/gatewayclass-controller"

// helmValues are the examples that are Helm values, not manifests.
var helmValues = []string{"namespaced-values.yaml"}

func manifests(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	return slices.DeleteFunc(files, func(f string) bool { return slices.Contains(helmValues, f) })
}

// renderFile renders a file as `berth render -f FILE` does.
func renderFile(t *testing.T, file string) (*manifest.Set, []*render.Bundle) {
	t.Helper()
	set, err := manifest.ReadFiles([]string{file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := render.DefaultOptions()
	opts.CABundle = []byte("-----BEGIN CERTIFICATE-----\nexample\n-----END CERTIFICATE-----\n")
	bundles, err := render.RenderStatic(render.Static{
		GatewayClasses: set.GatewayClasses, Gateways: set.Gateways, EnvoyProxies: set.EnvoyProxies,
	}, controllerName, opts)
	if err != nil {
		t.Fatalf("render %s: %v", file, err)
	}
	return set, bundles
}

// The seed files are the user's, and must stay exactly as given.
func TestSeedCopiesUnchanged(t *testing.T) {
	root, err := localcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"gateway-namespace-mode.yaml", "clusterip-envoyproxy.yaml"} {
		seed, err := os.ReadFile(filepath.Join(root, "..", "shared", "seed", f))
		if os.IsNotExist(err) {
			t.Skipf("no shared/seed beside the checkout: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(seed) {
			t.Errorf("examples/%s differs from seed/%s", f, f)
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
		"per-gateway-envoyproxy.yaml": 2, "https-listener.yaml": 1,
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

// Every manifest and the bundles rendered from it apply server-side on a
// real API server (CRD schemas, CEL rules and admission included).
func TestApply(t *testing.T) {
	env := testenv.Get(t)
	for _, f := range manifests(t) {
		t.Run(f, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_, bundles := renderFile(t, f)
			objs, err := localcluster.ReadManifests(f)
			if err != nil {
				t.Fatal(err)
			}
			// The seed files expect their namespaces to exist already.
			namespaces := map[string]bool{}
			for _, o := range objs {
				if o.GetNamespace() != "" {
					namespaces[o.GetNamespace()] = true
				}
			}
			for ns := range namespaces {
				_, err := env.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
				if err != nil && !apierrors.IsAlreadyExists(err) {
					t.Fatal(err)
				}
			}
			if err := localcluster.Apply(ctx, env.Config, objs); err != nil {
				t.Fatalf("apply %s: %v", f, err)
			}
			for _, b := range bundles {
				bobjs, err := b.Unstructured()
				if err != nil {
					t.Fatal(err)
				}
				if err := localcluster.Apply(ctx, env.Config, bobjs); err != nil {
					t.Errorf("apply the bundle of Gateway %s: %v", b.Gateway, err)
				}
			}
		})
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
