package clustertest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-gateway/berth/apply"
	"github.com/berth-gateway/berth/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// newEngine builds an engine against the test cluster whose requests are counted.
func newEngine(tb testing.TB, tweak func(*apply.Options)) (*apply.Engine, *testenv.Requests) {
	tb.Helper()
	env := testenv.Get(tb)
	cnt := &testenv.Requests{}
	cfg := cnt.Wrap(env.Config)
	opts := apply.DefaultOptions()
	opts.ReconcileTimeout = 90 * time.Second
	if t, ok := tb.(*testing.T); ok {
		opts.Logger = testr.NewWithOptions(t, testr.Options{Verbosity: 0})
	}
	if tweak != nil {
		tweak(&opts)
	}
	eng, err := apply.New(cfg, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(eng.Close)
	return eng, cnt
}

func ctxFor(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

func obj(apiVersion, kind, ns, name string, rest map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion,
		"kind":       kind,
		"metadata":   map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"app": name}},
	}}
	for k, v := range rest {
		u.Object[k] = v
	}
	return u
}

func configMap(ns, name string, data map[string]any) *unstructured.Unstructured {
	return obj("v1", "ConfigMap", ns, name, map[string]any{"data": data})
}

func serviceAccount(ns, name string) *unstructured.Unstructured {
	return obj("v1", "ServiceAccount", ns, name, map[string]any{"automountServiceAccountToken": false})
}

func service(ns, name string) *unstructured.Unstructured {
	return obj("v1", "Service", ns, name, map[string]any{"spec": map[string]any{
		"type":     "ClusterIP",
		"selector": map[string]any{"app": name},
		"ports":    []any{map[string]any{"name": "http", "port": int64(8080), "targetPort": int64(10080), "protocol": "TCP"}},
	}})
}

func deploy(ns, name string, replicas int64, nodeSelector map[string]any) *unstructured.Unstructured {
	podSpec := map[string]any{
		"containers": []any{map[string]any{"name": "envoy", "image": "envoyproxy/envoy:v1.34", "ports": []any{
			map[string]any{"containerPort": int64(10080), "protocol": "TCP"},
		}}},
	}
	if nodeSelector != nil {
		podSpec["nodeSelector"] = nodeSelector
	}
	return obj("apps/v1", "Deployment", ns, name, map[string]any{"spec": map[string]any{
		"replicas": replicas,
		"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
		"template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{"app": name}},
			"spec":     podSpec,
		},
	}})
}

func hpa(ns, name, target string) *unstructured.Unstructured {
	return obj("autoscaling/v2", "HorizontalPodAutoscaler", ns, name, map[string]any{"spec": map[string]any{
		"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
		"minReplicas":    int64(1),
		"maxReplicas":    int64(3),
	}})
}

// bundle is a Gateway-like set: ServiceAccount, ConfigMap, Deployment, Service, HPA.
func bundle(ns, prefix string) []*unstructured.Unstructured {
	return []*unstructured.Unstructured{
		serviceAccount(ns, prefix),
		configMap(ns, prefix+"-config", map[string]any{"envoy.yaml": "admin: {}"}),
		deploy(ns, prefix, 1, nil),
		service(ns, prefix),
		hpa(ns, prefix, prefix),
	}
}

func inventoryFor(ns, name string) apply.Inventory {
	return apply.Inventory{Namespace: ns, Name: name + "-inventory", ID: ns + "-" + name, Labels: map[string]string{"test.berth/owner": name}}
}

func actions(r *apply.Result) string {
	var b strings.Builder
	for _, o := range r.Objects {
		fmt.Fprintf(&b, "%s=%s(%s) ", o.Ref, o.Action, o.Status)
	}
	return b.String()
}

func wantAction(t *testing.T, r *apply.Result, kind, name string, want apply.Action) *apply.ObjectResult {
	t.Helper()
	for i := range r.Objects {
		o := &r.Objects[i]
		if o.Ref.Kind == kind && o.Ref.Name == name {
			if o.Action != want {
				t.Errorf("%s: action %s, want %s (reason %q); all: %s", o.Ref, o.Action, want, o.Reason, actions(r))
			}
			return o
		}
	}
	t.Errorf("%s %s missing from the result: %s", kind, name, actions(r))
	return nil
}
