// Package clustertest checks render's golden bundles, and the EnvoyProxy
// CRD, against a real API server (server-side dry-run apply: defaulting,
// admission and validation of every field). It lives apart from render so
// that the pure render tests need no cluster.
package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/render"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// readDocs reads every non-empty YAML document of a file as unstructured.
func readDocs(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		obj := map[string]any{}
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(obj) > 0 {
			out = append(out, &unstructured.Unstructured{Object: obj})
		}
	}
}

// applier dry-runs server-side applies as berth's field manager, with
// strict field validation (an unknown or duplicated field fails).
type applier struct {
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

func newApplier(t *testing.T) *applier {
	env := testenv.Get(t)
	return &applier{dyn: env.Dynamic, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(env.Client.Discovery()))}
}

func (a *applier) apply(ctx context.Context, obj *unstructured.Unstructured, dryRun bool) error {
	gvk := obj.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("map %s: %w", gvk, err)
	}
	data, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	opts := metav1.PatchOptions{FieldManager: render.FieldManager, Force: new(true), FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	var ri dynamic.ResourceInterface = a.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = a.dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	_, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, opts)
	return err
}

// TestGoldenBundlesDryRun applies every object of every golden bundle with
// a server-side dry-run into fresh namespaces.
func TestGoldenBundlesDryRun(t *testing.T) {
	env := testenv.Get(t)
	a := newApplier(t)
	outs, err := filepath.Glob("../testdata/*.out.yaml")
	if err != nil || len(outs) == 0 {
		t.Fatalf("golden files: %v (%d)", err, len(outs))
	}
	rendered := 0
	for _, out := range outs {
		name := strings.TrimSuffix(filepath.Base(out), ".out.yaml")
		t.Run(name, func(t *testing.T) {
			objs := readDocs(t, out)
			if len(objs) == 0 {
				data, _ := os.ReadFile(out)
				if !bytes.HasPrefix(data, []byte("# error: ")) {
					t.Fatalf("%s holds neither objects nor an error", out)
				}
				t.Skip("render error case")
			}
			rendered++
			namespaces := map[string]string{} // golden namespace → test namespace
			for _, obj := range objs {
				ns, ok := namespaces[obj.GetNamespace()]
				if !ok {
					ns = env.Namespace(t)
					namespaces[obj.GetNamespace()] = ns
				}
				obj.SetNamespace(ns)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := a.apply(ctx, obj, true)
				cancel()
				if err != nil {
					t.Errorf("dry-run apply %s %s: %v", obj.GetKind(), obj.GetName(), err)
				}
			}
		})
	}
	if rendered < 10 {
		t.Fatalf("only %d golden bundles were dry-run", rendered)
	}

	// Negative controls: the dry-run does reject what the API server would.
	ns := env.Namespace(t)
	for _, tc := range []struct {
		name   string
		mutate func(*unstructured.Unstructured)
		want   string
	}{
		{"unknown field", func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, int64(1), "spec", "replicaz")
		}, "field not declared in schema"},
		{"selector not matching the pods", func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, "other", "spec", "selector", "matchLabels", "app.kubernetes.io/name")
		}, "selector"},
		{"invalid container port", func(u *unstructured.Unstructured) {
			c, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
			c[0].(map[string]any)["ports"] = []any{map[string]any{"containerPort": int64(70000)}}
			_ = unstructured.SetNestedSlice(u.Object, c, "spec", "template", "spec", "containers")
		}, "containerPort"},
	} {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			var dep *unstructured.Unstructured
			for _, obj := range readDocs(t, "../testdata/seed.out.yaml") {
				if obj.GetKind() == "Deployment" {
					dep = obj
					break
				}
			}
			dep.SetNamespace(ns)
			tc.mutate(dep)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := a.apply(ctx, dep, true); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestEnvoyProxyCRD installs api/crd and checks that the EnvoyProxy objects
// of the golden inputs are accepted, and that the schema rejects what it
// can say is wrong.
func TestEnvoyProxyCRD(t *testing.T) {
	env := testenv.Get(t)
	a := newApplier(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	crds, err := filepath.Glob("../../api/crd/*.yaml")
	if err != nil || len(crds) == 0 {
		t.Fatalf("CRD manifests: %v (%d)", err, len(crds))
	}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, path := range crds {
		for _, crd := range readDocs(t, path) {
			// In a joined cluster, leave things as they were.
			if _, err := env.Dynamic.Resource(crdGVR).Get(ctx, crd.GetName(), metav1.GetOptions{}); apierrors.IsNotFound(err) {
				name := crd.GetName()
				t.Cleanup(func() {
					_ = env.Dynamic.Resource(crdGVR).Delete(context.Background(), name, metav1.DeleteOptions{})
				})
			}
			if err := a.apply(ctx, crd, false); err != nil {
				t.Fatalf("install %s: %v", crd.GetName(), err)
			}
			waitEstablished(ctx, t, env.Dynamic, crd.GetName())
		}
	}
	a.mapper.(*restmapper.DeferredDiscoveryRESTMapper).Reset()

	inputs, _ := filepath.Glob("../testdata/*.in.yaml")
	checked := 0
	for _, in := range inputs {
		for _, obj := range readDocs(t, in) {
			if obj.GetKind() != "EnvoyProxy" {
				continue
			}
			obj.SetNamespace(env.Namespace(t))
			if err := a.apply(ctx, obj, true); err != nil {
				t.Errorf("%s: EnvoyProxy %s: %v", filepath.Base(in), obj.GetName(), err)
			}
			checked++
		}
	}
	if checked < 5 {
		t.Fatalf("only %d EnvoyProxy objects in the golden inputs", checked)
	}

	ns := env.Namespace(t)
	for _, tc := range []struct{ name, spec, want string }{
		{"service type enum", `{"provider":{"type":"Kubernetes","kubernetes":{"envoyService":{"type":"Headless"}}}}`, "Unsupported value"},
		{"provider enum", `{"provider":{"type":"Custom"}}`, "Unsupported value"},
		{"hpa minimum", `{"provider":{"type":"Kubernetes","kubernetes":{"envoyHpa":{"maxReplicas":0}}}}`, "should be greater than or equal to 1"},
		{"service name pattern", `{"provider":{"type":"Kubernetes","kubernetes":{"envoyService":{"name":"Bad_Name"}}}}`, "should match"},
		{"unknown field", `{"provider":{"type":"Kubernetes","kubernetes":{"envoyServic":{}}}}`, "field not declared in schema"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			if err := obj.UnmarshalJSON([]byte(`{"apiVersion":"gateway.envoyproxy.io/v1alpha1","kind":"EnvoyProxy","metadata":{"name":"p","namespace":"` + ns + `"},"spec":` + tc.spec + `}`)); err != nil {
				t.Fatal(err)
			}
			err := a.apply(ctx, obj, true)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func waitEstablished(ctx context.Context, t *testing.T, dyn dynamic.Interface, name string) {
	t.Helper()
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for {
		crd, err := dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		if crd != nil {
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, c := range conds {
				if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("CRD %s not established: %v", name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
