// Package clustertest checks the chart against a real API server: every
// rendered object passes a server-side dry-run apply.
package clustertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/berth-gateway/berth/charts"
	"github.com/berth-gateway/berth/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestServerSideDryRun renders the chart (with its CRDs) for the default
// and the namespaced values into fresh namespaces and dry-run applies every
// object as the admin: the API server validates each one (schemas, RBAC
// escalation checks, CRD structure) without persisting anything.
func TestServerSideDryRun(t *testing.T) {
	env := testenv.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	helm, err := charts.Helm(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		values func(a, b string) string
	}{
		{"default", func(_, _ string) string { return "crds:\n  gatewayAPI: true\n" }},
		{"namespaced", func(a, b string) string {
			return fmt.Sprintf("watch:\n  namespaces: [%s, %s]\nxds:\n  tls:\n    mode: External\n    secretName: my-xds-tls\n", a, b)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns, a, b := env.Namespace(t), env.Namespace(t), env.Namespace(t)
			values := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(values, []byte(c.values(a, b)), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := charts.Template(ctx, helm, ns, values)
			if err != nil {
				t.Fatal(err)
			}
			crd, err := os.ReadFile(filepath.Join(charts.ChartDir(), "crds", "gateway.envoyproxy.io_envoyproxies.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			objs, err := charts.Decode(append(append(crd, "\n---\n"...), out...))
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			for _, o := range objs {
				if err := dryRunApply(ctx, env, o, ns); err != nil {
					t.Errorf("%v", err)
				}
				kinds[o.GetKind()]++
			}
			for _, k := range []string{"Deployment", "Service", "ServiceAccount", "ClusterRole", "Role", "Job", "CustomResourceDefinition"} {
				if kinds[k] == 0 {
					t.Errorf("no %s rendered (%v)", k, kinds)
				}
			}
		})
	}
}

func dryRunApply(ctx context.Context, env *testenv.Env, obj *unstructured.Unstructured, defaultNS string) error {
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	gvk := obj.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	var ri dynamic.ResourceInterface = env.Dynamic.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := obj.GetNamespace()
		if ns == "" {
			ns = defaultNS
		}
		ri = env.Dynamic.Resource(m.Resource).Namespace(ns)
	}
	data, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	force := true
	_, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
		FieldManager: "berth-chart-test", Force: &force, DryRun: []string{metav1.DryRunAll},
	})
	if err != nil {
		return fmt.Errorf("dry-run apply %s %s/%s: %s", gvk.Kind, obj.GetNamespace(), obj.GetName(), strings.TrimSpace(err.Error()))
	}
	return nil
}
